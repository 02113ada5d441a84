"""Time `sitegen build` after one edit, on a site already built, beside a build that finds nothing changed.

    python bench/corpus.py 100000 /tmp/c100k     # once; then turn search off in its sitegen.toml if wanted
    python bench/edit.py /tmp/c100k --runs 6

Each run makes one edit (a paragraph added to a story, a new story ten minutes after the newest,
a headline changed), times the build that follows, then a build with nothing to do as its anchor
in the same minute: this machine's speed drifts by a fifth from one quarter of an hour to the next.
The first build (cold, when the cache is not warm for this code) is timed apart.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from compare import _edit, _published, _shift_published  # noqa: E402


def _build(site: Path, epoch: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sitegen", "build", "-q"], cwd=site, check=True,
                   env={**os.environ, "SOURCE_DATE_EPOCH": epoch})
    return time.perf_counter() - started


def _make(kind: str, site: Path, run: int, tag: str, originals: dict[Path, str | None]) -> None:
    stories = sorted((site / "seeds").rglob("story-*.md"))
    originals.setdefault(stories[4], stories[4].read_text(encoding="utf-8"))
    if kind == "text":
        _edit(stories[4], lambda text: text + f"\nOne more paragraph, {tag} {run}.\n")
    elif kind == "headline":
        _edit(stories[4], lambda text: re.sub(r'^title: "(.*?)(, revised [^"]*)?"$', rf'title: "\1, revised {tag} {run}"',
                                              text, count=1, flags=re.MULTILINE))
    else:
        newest = max((s for s in stories if "story-new" not in s.name), key=_published)
        new = newest.with_name(f"story-new-{tag}-{run}.md")
        originals[new] = None
        text = _shift_published(newest.read_text(encoding="utf-8"), timedelta(minutes=10 * (run + 1)))
        new.write_text(text.replace('title: "', f'title: "Just in {tag} {run}: ', 1), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="a site written by bench/corpus.py")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--epoch", default="1799817000", help="SOURCE_DATE_EPOCH for every build")
    args = parser.parse_args()
    site = args.site.resolve()
    # New stories and headlines of their own each time, so no run meets the URLs of an earlier one.
    tag = time.strftime("%H%M%S")
    print(f"first build: {_build(site, args.epoch):.2f} s")
    # What the runs change, put back at the end: a later story of this bench's would be the newest
    # that bench/serve.py dates its own after, past the time it builds at.
    originals: dict[Path, str | None] = {}
    try:
        for kind in ("text", "new story", "headline"):
            timed, anchors = [], []
            for run in range(args.runs):
                _make(kind, site, run, tag, originals)
                timed.append(_build(site, args.epoch))
                anchors.append(_build(site, args.epoch))
            print(f"{kind}: {min(timed):.2f}-{max(timed):.2f} s, median {statistics.median(timed):.2f} s; "
                  f"nothing changed {min(anchors):.2f}-{max(anchors):.2f} s ({args.runs} runs)")
    finally:
        for path, text in originals.items():
            if text is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(text, encoding="utf-8")
        _build(site, args.epoch)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
