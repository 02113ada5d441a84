"""`sitegen serve` at archive scale: its first answer with a warm cache, and save-to-visible latency.

    python bench/serve.py --articles 10000 [--runs 15]

On a synthetic corpus (bench/corpus.py): `sitegen build` warms the cache, then `sitegen serve`
starts as a reader would start it and is polled over HTTP every 20 ms (no browser) after each save:
a text edit (its page), a headline edit (the page's new URL) and a new story (the front page).
Then `sitegen build` itself is timed on a second new story, in the same run, as the anchor.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import generate, last_published  # noqa: E402

from sitegen.build import load_settings  # noqa: E402
from sitegen.config import load_config  # noqa: E402
from sitegen.load import load_article  # noqa: E402
from sitegen.urls import Links  # noqa: E402

BIN = Path(sys.executable).parent
POLL = 0.02


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read().decode("utf-8")
    except (urllib.error.URLError, ConnectionError):
        return None


def wait_for(url: str, text: str, limit: float = 120.0) -> float:
    """Seconds until `url` answers with `text` in it, polled every 20 ms."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        found = fetch(url)
        if found is not None and text in found:
            return time.perf_counter() - started
        time.sleep(POLL)
    raise TimeoutError(f"{url} never showed {text!r}")


def url_of(site: Path, path: Path) -> str:
    config, _ = load_config(site)
    article, _ = load_article(path, load_settings(config, site))
    return Links(config).article(article)


def published(path: Path) -> str:
    return re.search(r"^published: (.*)$", path.read_text(encoding="utf-8"), re.MULTILINE).group(1)  # type: ignore[union-attr]


def new_story(newest: Path, name: str, headline: str, minutes: int) -> Path:
    text = newest.read_text(encoding="utf-8")
    when = re.search(r"^published: (.*)$", text, re.MULTILINE).group(1)  # type: ignore[union-attr]
    from datetime import datetime

    later = (datetime.fromisoformat(when) + timedelta(minutes=minutes)).isoformat()
    text = text.replace(f"published: {when}", f"published: {later}").replace('title: "', f'title: "{headline}: ', 1)
    path = newest.with_name(name)
    path.write_text(text, encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--site", type=Path, help="a site bench/corpus.py wrote for --articles, to use (and change) "
                        "rather than write one: an archive of 100,000 takes minutes to write and build")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sitegen-bench-serve-"))
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(int(last_published(args.articles).timestamp()) + 3600)}
    os.environ["SOURCE_DATE_EPOCH"] = env["SOURCE_DATE_EPOCH"]
    server: subprocess.Popen[str] | None = None
    try:
        site = args.site or work / "site"
        if args.site is None:
            generate(args.articles, site)
        started = time.perf_counter()
        subprocess.run([str(BIN / "sitegen"), "build", "-q"], cwd=site, check=True, env=env)
        print(f"{args.articles} articles: first build {time.perf_counter() - started:.2f} s"
              + ("" if args.site else " (empty cache)"))
        started = time.perf_counter()
        subprocess.run([str(BIN / "sitegen"), "build", "-q"], cwd=site, check=True, env=env)
        print(f"  sitegen build, nothing changed: {time.perf_counter() - started:.2f} s")

        started = time.perf_counter()
        server = subprocess.Popen([str(BIN / "sitegen"), "serve", "--port", "0"], cwd=site, env=env,
                                  stderr=subprocess.PIPE, text=True)
        assert server.stderr is not None
        base = ""
        for line in server.stderr:
            if line.startswith("serving "):
                base = line.split()[1]
                break
        wait_for(base, "</html>")
        print(f"  sitegen serve, first answer with a warm cache: {time.perf_counter() - started:.2f} s")

        stories = sorted((site / "seeds").rglob("story-*.md"))
        # A --site used before holds the stories and headlines of earlier runs: each run's are its own.
        tag = len(list((site / "seeds").rglob("story-new-*.md")))
        old, newest = stories[4], max(stories, key=published)
        page = base.rstrip("/") + url_of(site, old)
        original = old.read_text(encoding="utf-8")
        text_edits = []
        for run in range(args.runs):
            token = f"Edit number {run} arrives"
            time.sleep(0.3)
            old.write_text(original + f"\n{token}.\n", encoding="utf-8")
            text_edits.append(wait_for(page, token))
        print(f"  text edit, save to visible: median {statistics.median(text_edits) * 1000:.0f} ms, "
              f"worst {max(text_edits) * 1000:.0f} ms over {len(text_edits)} edits")

        headlines = []
        for run in range(max(3, args.runs // 3)):
            time.sleep(0.3)
            revised = f"Revised headline {tag}-{run}"
            old.write_text(re.sub(r'^title: "(.*)"$', f'title: "{revised}"', original, count=1, flags=re.MULTILINE),
                           encoding="utf-8")
            headlines.append(wait_for(base.rstrip("/") + url_of(site, old), revised))
        print(f"  headline edit, save to its new URL: median {statistics.median(headlines) * 1000:.0f} ms, "
              f"worst {max(headlines) * 1000:.0f} ms over {len(headlines)} edits")

        time.sleep(0.3)
        new_story(newest, f"story-new-{tag}.md", f"Just in {tag}", 10)
        print(f"  new story, save to the front page: {wait_for(base, f'Just in {tag}: ') * 1000:.0f} ms")
        server.terminate()
        server.wait(timeout=30)
        server = None

        # The anchor: `sitegen build` on the same archive, once the preview's stories are recorded.
        subprocess.run([str(BIN / "sitegen"), "build", "-q"], cwd=site, check=True, env=env)
        new_story(newest, f"story-newer-{tag}.md", f"Later still {tag}", 20)
        started = time.perf_counter()
        subprocess.run([str(BIN / "sitegen"), "build", "-q"], cwd=site, check=True, env=env)
        print(f"  sitegen build, new story: {time.perf_counter() - started:.2f} s")
    finally:
        if server is not None:
            server.terminate()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
