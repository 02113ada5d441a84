"""Time `sitegen build` after one edit, on a site already built, beside a build that finds nothing changed.

    python bench/corpus.py 100000 /tmp/c100k     # once; then turn search off in its sitegen.toml if wanted
    python bench/edit.py /tmp/c100k --runs 6

Each run makes one edit (a paragraph added to an old story, and to the newest, whose search shard is
small; a new story after the newest and before the build time, a headline changed, that of the old
story every run renames and that of a story no run renamed before; a story scheduled a minute or more
after the build time), times the build that follows, then a build with nothing to do as its anchor in
the same minute: this machine's speed drifts by a fifth from one quarter of an hour to the next.
Last, with no file changed, each scheduled story is published by its time coming: the build time
moved past it. The first build (cold, when the cache is not warm for this code) is timed apart.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from compare import _edit, _published, _shift_published  # noqa: E402


def _build(site: Path, epoch: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sitegen", "build", "-q"], cwd=site, check=True,
                   env={**os.environ, "SOURCE_DATE_EPOCH": epoch})
    return time.perf_counter() - started


def _newest(site: Path) -> tuple[Path, datetime]:
    """The newest story file and its time, new stories of earlier runs of the benches included: a new
    story dated before one of them would take a build's slower way, as one published back-dated does."""
    dated = []
    for path in (site / "seeds").rglob("story-*.md"):
        try:
            dated.append((datetime.fromisoformat(_published(path).strip().strip('"')), path))
        except ValueError:
            continue
    moment, path = max(dated)
    return path, moment


def _step(newest: datetime, epoch: str, runs: int) -> timedelta:
    """How far apart the runs' new stories are, after the newest: each before the build time, or it
    would be held back for its time rather than published."""
    room = datetime.fromtimestamp(int(epoch), timezone.utc) - newest
    if room <= timedelta(0):
        raise SystemExit(f"the newest story ({newest.isoformat()}) is not before --epoch {epoch}: choose a later one")
    return min(timedelta(minutes=10), room / (runs + 1))


def _make(kind: str, site: Path, run: int, tag: str, originals: dict[Path, str | None], newest: Path,
          later: timedelta) -> None:
    stories = sorted((site / "seeds").rglob("story-*.md"))
    originals.setdefault(stories[4], stories[4].read_text(encoding="utf-8"))
    originals.setdefault(newest, newest.read_text(encoding="utf-8"))
    if kind == "text":
        _edit(stories[4], lambda text: text + f"\nOne more paragraph, {tag} {run}.\n")
    elif kind == "text, newest":
        _edit(newest, lambda text: text + f"\nOne more paragraph, {tag} {run}.\n")
    elif kind in ("headline", "headline, first"):
        # The fifth story has the redirects of every run before (a page for each); a story picked by
        # the run's tag has had none, as most corrected stories have.
        story = stories[4] if kind == "headline" else stories[(int(tag) * 7 + run * 997) % len(stories)]
        originals.setdefault(story, story.read_text(encoding="utf-8"))
        _edit(story, lambda text: re.sub(r'^title: "(.*?)(, revised [^"]*)?"$', rf'title: "\1, revised {tag} {run}"',
                                         text, count=1, flags=re.MULTILINE))
    else:
        name, title = ("new", "Just in") if kind == "new story" else ("scheduled", "Scheduled")
        new = newest.with_name(f"story-{name}-{tag}-{run}.md")
        originals[new] = None
        text = _shift_published(newest.read_text(encoding="utf-8"), later)
        new.write_text(text.replace('title: "', f'title: "{title} {tag} {run}: ', 1), encoding="utf-8")


def _due(epoch: str, run: int) -> datetime:
    """When the scheduled story of `run` is due: a minute apart, the first a minute after the build time."""
    return datetime.fromtimestamp(int(epoch), timezone.utc) + timedelta(minutes=run + 1)


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
    newest, moment = _newest(site)
    step = _step(moment, args.epoch, args.runs)
    try:
        for kind in ("text", "text, newest", "new story", "headline", "headline, first", "scheduled", "embargo lifted"):
            timed, anchors = [], []
            for run in range(args.runs):
                epoch = args.epoch
                if kind == "embargo lifted":
                    # Half a minute after the story of this run was due: it, and it alone, comes in.
                    epoch = str(int((_due(args.epoch, run) + timedelta(seconds=30)).timestamp()))
                elif kind == "scheduled":
                    _make(kind, site, run, tag, originals, newest, _due(args.epoch, run) - moment)
                else:
                    _make(kind, site, run, tag, originals, newest, step * (run + 1))
                timed.append(_build(site, epoch))
                front = (site / "build/index.html").read_text("utf-8")
                for name, title in (("new story", "Just in"), ("embargo lifted", "Scheduled")):
                    if kind == name and f"{title} {tag} {run}:" not in front:
                        raise SystemExit(f"the story of run {run} ({kind}) is not on the front page: it was not published")
                anchors.append(_build(site, epoch))
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
