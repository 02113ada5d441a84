"""`sitegen check`: the build's errors, then the built site's links, anchors and images, and outbound links."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sitegen.build import BuildOptions
from sitegen.check import Finding, check, internal_links, render
from sitegen.cli import main
from tests.conftest import write

CONFIG = 'title = "Checked"\nbase_url = "https://example.org/news/"\n'
GOOD = "---\ntitle: Good story\ndate: 2024-05-01\nsection: World\n---\nFine [link](/world/).\n"


def test_a_clean_site_has_no_findings_and_build_is_untouched(make_site: Callable[..., Path]) -> None:
    site = make_site({"seeds/good.md": GOOD}, config=CONFIG)
    assert check(BuildOptions(source=site)) == []
    assert not (site / "build").exists()
    assert main(["check", "--source", str(site)]) == 0


def test_errors_come_with_file_and_line_as_json_and_as_annotations(make_site: Callable[..., Path],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    site = make_site({"seeds/good.md": GOOD, "seeds/bad.md": "---\ntitle: Bad\ndate: 2024-05-02\n---\n"
                      "Text.\n\n[gone](missing.md) and <a href=\"#nope\">here</a>.\n",
                      "templates/partials/unused.html": "{% if %}"}, config=CONFIG)
    assert main(["check", "--source", str(site), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    found = {(f["file"], f["line"]) for f in report["findings"]}
    assert (str(site / "seeds/bad.md"), 7) in found
    assert any(f["file"] and f["file"].endswith("unused.html") and f["line"] == 1 for f in report["findings"])
    assert any("no id 'nope'" in f["message"] for f in report["findings"])
    assert report["errors"] == 3
    annotations = render([Finding("error", "a, b: c\nd", "seeds/x.md", 3)], "github")
    assert annotations == "::error file=seeds/x.md,line=3::a, b: c%0Ad"


def test_internal_links_are_checked_under_the_base_path(tmp_path: Path) -> None:
    write(tmp_path / "index.html", '<a href="a/">a</a><a href="a/#top">t</a><a href="/news/b/">b</a>'
                                   '<img src="img.png" srcset="img.png 1x, big.png 2x"><a href="/elsewhere/">x</a>')
    write(tmp_path / "a/index.html", '<h1 id="top">A</h1><a href="../">up</a><a href="#missing">m</a>')
    write(tmp_path / "img.png", "")
    messages = sorted(f.message for f in internal_links(tmp_path, "/news/"))
    assert messages == [
        "/news/a/index.html links to #missing, but that page has no id 'missing'",
        "/news/index.html has a image to big.png, which the site does not have",
        "/news/index.html has a link to /elsewhere/, outside the site's base path /news/",
        "/news/index.html has a link to /news/b/, which the site does not have",
    ]


@pytest.fixture
def outside() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:  # noqa: N802
            self.send_response(200 if self.path == "/ok" else 404)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_external_links_broken_is_an_error_unreachable_a_warning(make_site: Callable[..., Path], outside: str) -> None:
    dead = "http://127.0.0.1:9/"  # the discard port: nothing listens
    body = (f"[ok]({outside}/ok) [gone]({outside}/gone) [dead]({dead}) "
            f"[skipped]({outside}/skipped/page)")
    site = make_site({"seeds/good.md": GOOD.replace("Fine", body)}, config=CONFIG)
    findings = check(BuildOptions(source=site), external=True, skip=[f"{outside}/skipped/"], timeout=3)
    levels = sorted((f.level, f.message.split(" links to ")[1].split(",")[0]) for f in findings)
    assert levels == [("error", f"{outside}/gone"), ("warning", dead)]
