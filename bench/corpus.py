"""A deterministic synthetic news corpus: `python bench/corpus.py N DIR` writes a site of N articles.

Articles are realistic in shape: front matter with a date, one or two authors, one of 8 sections
and 2-5 of 300 tags, a lead figure, 500-1,000 words with subheads, quotes, lists and links. One in
ten is wire copy in the seed's plain-text format with a sidecar `.yaml`.
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

SECTIONS = ["World", "Politics", "Business", "Technology", "Science", "Sport", "Culture", "Vietnam"]
WORDS = (
    "government minister officials said report week city council budget plan market growth election "
    "voters police court ruling company shares investors climate energy health hospital school teachers "
    "river bridge province district residents project funding international talks agreement security "
    "border trade exports prices inflation bank central rate team coach season final goal festival "
    "museum artist exhibition research scientists study data technology startup network digital"
).split()
VIET = "Hà Nội Đà Nẵng Huế Cần Thơ Hải Phòng Nha Trang Quảng Ninh Sài Gòn".split()
FIRST = ["Anh", "Bình", "Chi", "Dũng", "Emma", "Farid", "Grace", "Hiếu", "Ivan", "Julia", "Khoa", "Lan",
         "Maria", "Nam", "Omar", "Phương", "Quân", "Rosa", "Sơn", "Thảo"]
LAST = ["Nguyễn", "Trần", "Lê", "Smith", "García", "Khan", "Müller", "Phạm", "Hoàng", "Okafor"]


def _sentence(rng: random.Random, lo: int = 8, hi: int = 22) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(lo, hi))]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), rng.choice(VIET))
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))


def _body(rng: random.Random, words_target: int) -> tuple[list[str], int]:
    blocks: list[str] = []
    count = 0
    while count < words_target:
        roll = rng.random()
        if roll < 0.1:
            block = f"## {_sentence(rng, 3, 7)[:-1]}"
        elif roll < 0.2:
            block = f'> "{_sentence(rng)}" said {rng.choice(FIRST)} {rng.choice(LAST)}.'
        elif roll < 0.27:
            block = "\n".join(f"- {_sentence(rng, 4, 10)}" for _ in range(rng.randint(3, 5)))
        else:
            block = _paragraph(rng)
            if rng.random() < 0.3:
                block += f" Read [the full report](https://example.org/reports/{rng.randint(1, 99999)})."
        blocks.append(block)
        count += len(block.split())
    return blocks, count


START = datetime(2020, 1, 1, tzinfo=timezone(timedelta(hours=7)))


def last_published(count: int) -> datetime:
    """No article of a corpus of `count` is dated later than this."""
    return START + timedelta(minutes=37 * count + 30)


def generate(count: int, folder: Path, seed: int = 2024) -> None:
    """Write `count` articles and a sitegen.toml into `folder`."""
    rng = random.Random(seed)
    tags = [f"{rng.choice(WORDS)} {rng.choice(WORDS)} {i}" for i in range(300)]
    authors = [f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(120)]
    seeds = folder / "seeds"
    seeds.mkdir(parents=True, exist_ok=True)
    (folder / "sitegen.toml").write_text(
        'title = "Synthetic Daily"\nbase_url = "https://bench.example/"\ntimezone = "Asia/Ho_Chi_Minh"\n'
        "page_size = 20\n" + "".join(f'\n[[sections]]\nname = "{s}"\n' for s in SECTIONS), encoding="utf-8")
    for i in range(count):
        published = START + timedelta(minutes=37 * i + rng.randint(0, 30))
        headline = _sentence(rng, 6, 12)[:-1] + f" ({i})"
        standfirst = _sentence(rng, 15, 30)
        section = rng.choice(SECTIONS)
        chosen = rng.sample(tags, rng.randint(2, 5))
        byline = rng.sample(authors, rng.choice([1, 1, 1, 2]))
        blocks, _ = _body(rng, rng.randint(500, 1000))
        image = f"https://images.bench.example/{i}.jpg"
        caption = _sentence(rng, 6, 14)
        folder_for = seeds / str(published.year) / f"{published.month:02d}"
        folder_for.mkdir(parents=True, exist_ok=True)
        meta = (f"published: {published.isoformat()}\nsection: {section}\ntags: [{', '.join(chosen)}]\n"
                f"authors: [{', '.join(byline)}]\n")
        if i % 10 == 0:
            paragraphs = [b.replace("## ", "").replace("> ", "").replace("- ", "") for b in blocks]
            text = "\n".join([headline, standfirst, paragraphs[0], f"![{caption}]({image}) |",
                              f"{caption} Photo: {rng.choice(authors)} |", *paragraphs[1:]]) + "./."
            (folder_for / f"wire-{i:06d}.txt").write_text(text, encoding="utf-8")
            (folder_for / f"wire-{i:06d}.yaml").write_text(meta, encoding="utf-8")
        else:
            front = (f"---\ntitle: \"{headline}\"\nstandfirst: \"{standfirst}\"\n{meta}image: {image}\n"
                     f"image_alt: \"{caption}\"\nimage_credit: {rng.choice(authors)}\n---\n")
            (folder_for / f"story-{i:06d}.md").write_text(front + "\n\n".join(blocks) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)
    generate(args.count, args.folder, args.seed)
    print(f"wrote {args.count} articles to {args.folder}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
