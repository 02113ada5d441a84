"""Time from saving an article to an open browser tab showing it, under `sitegen serve`.

    python bench/serve_latency.py                 # the repository's seed site
    python bench/serve_latency.py --articles 10000  # a synthetic corpus (bench/corpus.py)

Needs Debian's chromium and the test extra (playwright). Prints the initial build time and the
median and worst save-to-visible latency over --runs edits.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import generate  # noqa: E402

from sitegen.build import BuildOptions  # noqa: E402
from sitegen.serve import ServeOptions, Server  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def pick_article(site: Path) -> tuple[Path, str, str]:
    """An article file, the text to replace in it, and its URL path in the built site."""
    seed = site / "seeds" / "000_e17ba6d16a15c0b0.txt"
    if seed.exists():
        return seed, "Less than an hour after", "/world/us-warns-ukraine-about-using-nato-weapons-to-attack-russian-territory/"
    story = sorted((site / "seeds").rglob("story-*.md"))[-1]
    return story, "\n\n", ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=0, help="synthetic corpus size (0: the seed site)")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sitegen-bench-"))
    try:
        site = work / "site"
        if args.articles:
            generate(args.articles, site)
        else:
            shutil.copytree(ROOT / "seeds", site / "seeds")
            shutil.copy(ROOT / "sitegen.toml", site / "sitegen.toml")
        started = time.perf_counter()
        server = Server(ServeOptions(BuildOptions(source=site), port=0), lambda message: None)
        server.start()
        initial = time.perf_counter() - started
        path, marker, url = pick_article(site)
        if not url:
            url = next(u for u, p in server.rebuilder.pages.items()
                       if p.template == "article.html" and p.context["article"].source_path == path.resolve())
        original = path.read_text(encoding="utf-8")
        latencies = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                 args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{server.port}{url}")
            for run in range(args.runs):
                token = f"Edit number {run} arrives"
                page.wait_for_timeout(300)  # let the previous reload settle and its event stream reconnect
                saved = time.perf_counter()
                path.write_text(original.replace(marker, f"{marker} {token} ", 1), encoding="utf-8")
                page.wait_for_function(f"() => document.body && document.body.innerText.includes({token!r})",
                                       timeout=120_000, polling=10)
                latencies.append(time.perf_counter() - saved)
            browser.close()
        server.stop()
        label = f"{args.articles} articles" if args.articles else "seed site"
        print(f"{label}: initial build {initial:.2f} s; save-to-reloaded median {statistics.median(latencies) * 1000:.0f} ms, "
              f"worst {max(latencies) * 1000:.0f} ms over {len(latencies)} edits")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
