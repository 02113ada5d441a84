"""What site search costs `sitegen build` on a synthetic archive (bench/corpus.py), with and without it.

    python bench/search.py 10000

Cold builds (`--no-cache`) of the same archive with `[search] enabled = false` and with search; then,
with search and a warm cache: nothing changed, one story's text edited (its shard re-indexed), and a
new story (the newest shard re-indexed). Each figure is one run's wall time on this machine.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import generate, last_published  # noqa: E402

BIN = Path(sys.executable).parent


def timed(site: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([str(BIN / "sitegen"), "build", "-q", *args], cwd=site, check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=10000)
    args = parser.parse_args()
    os.environ["SOURCE_DATE_EPOCH"] = str(int(last_published(args.count).timestamp()) + 3600)
    work = Path(tempfile.mkdtemp(prefix="sitegen-bench-search-"))
    try:
        site, plain = work / "search", work / "plain"
        generate(args.count, site)
        shutil.copytree(site, plain)
        with (plain / "sitegen.toml").open("a", encoding="utf-8") as config:
            config.write("\n[search]\nenabled = false\n")
        without = timed(plain, "--no-cache")
        with_search = timed(site, "--no-cache")
        print(f"{args.count} articles, cold (--no-cache): without search {without:.2f} s, with search "
              f"{with_search:.2f} s (+{(with_search / without - 1) * 100:.0f}%)")
        timed(site)
        timed(plain)
        print(f"  nothing changed: without search {timed(plain):.2f} s, with search {timed(site):.2f} s")
        stories = sorted((site / "seeds").rglob("story-*.md"))
        story = stories[len(stories) // 2]
        story.write_text(story.read_text(encoding="utf-8") + "\nA quokkaphone was heard.\n", encoding="utf-8")
        print(f"  one story's text edited (its shard re-indexed): {timed(site):.2f} s")
        newest = stories[-1]
        text = newest.read_text(encoding="utf-8")
        text = re.sub(r'^title: "', 'title: "Just in: ', text, count=1, flags=re.MULTILINE)
        newest.with_name("story-new.md").write_text(text.replace("published: ", "published: ", 1), encoding="utf-8")
        print(f"  a new story (the newest shard re-indexed): {timed(site):.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
