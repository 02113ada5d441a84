"""The default theme as a reader meets it, in Debian's Chromium driven by Playwright."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import ROOT, SITES, build_into

CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / ".cache/axe/node_modules/axe-core/axe.min.js"
# Each violation axe finds: its rule, and the elements that break it.
AXE_RUN = """async () => (await axe.run()).violations.map(
    v => `${v.id}: ${v.nodes.map(n => n.target.join(" ")).join(", ")}`)"""
PAGES = ["/", "/page/2/", "/world/", "/vietnam/da-nang-mo-cua-cau-moi-qua-song-han/", "/world/tqryr-mn-lqhr/",
         "/tags/", "/archive/", "/404.html"]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass


@contextmanager
def serving(root: Path) -> Iterator[str]:
    """`root` served over HTTP on loopback: the server's address."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextmanager
def browsing(root: Path) -> Iterator[tuple[str, Browser]]:
    """`root` served over HTTP on loopback, and Debian's Chromium: (the server's address, the browser)."""
    with serving(root) as origin, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        try:
            yield origin, browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # Served under /news/, where its base_url puts it: the 404 page's links are rooted there.
    root = tmp_path_factory.mktemp("browser")
    assert not build_into(SITES / "newsroom", root / "news").errors
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/news"
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian chromium is needed: run the tests through `bash scripts/dev.sh test`"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield chromium
        chromium.close()


@pytest.mark.parametrize("path", PAGES)
def test_no_horizontal_scroll_at_320px(browser: Browser, served: str, path: str) -> None:
    page = browser.new_page(viewport={"width": 320, "height": 640})
    page.goto(served + path)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 320px"
    page.close()


def test_skip_link_is_first_and_visible_on_focus(browser: Browser, served: str) -> None:
    page = browser.new_page()
    page.goto(served + "/")
    skip = page.locator("a.skip-link")
    assert skip.bounding_box() is None or skip.bounding_box()["y"] < 0  # off-screen until focused
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    page.close()


def test_dark_and_light_schemes_differ(browser: Browser, served: str) -> None:
    colours = {}
    for scheme in ("light", "dark"):
        page = browser.new_page(color_scheme=scheme)
        page.goto(served + "/")
        colours[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
        page.close()
    assert colours["light"] == "rgb(253, 252, 250)" and colours["dark"] == "rgb(20, 20, 20)"


def test_right_to_left_article_renders_right_to_left(browser: Browser, served: str) -> None:
    page = browser.new_page()
    page.goto(served + "/world/tqryr-mn-lqhr/")
    assert page.evaluate("getComputedStyle(document.querySelector('h1')).direction") == "rtl"
    heading = page.locator("h1").bounding_box()
    assert heading is not None and heading["x"] + heading["width"] > 600  # hugs the right edge
    page.close()


def test_reading_needs_no_javascript(browser: Browser, served: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(served + "/vietnam/da-nang-mo-cua-cau-moi-qua-song-han/")
    assert page.locator("h1").inner_text() == "Đà Nẵng mở cửa cầu mới qua sông Hàn"
    assert "Sáng 2/3" in page.locator(".article-body").inner_text()
    context.close()


def test_print_hides_navigation(browser: Browser, served: str) -> None:
    page = browser.new_page()
    page.goto(served + "/vietnam/da-nang-mo-cua-cau-moi-qua-song-han/")
    page.emulate_media(media="print")
    assert page.locator(".site-header").is_hidden() and page.locator("h1").is_visible()
    page.close()


def _axe_violations(page: Page) -> list[str]:
    assert AXE.is_file(), "axe-core is needed: run the tests through `bash scripts/dev.sh test`"
    page.add_script_tag(path=str(AXE))
    return page.evaluate(AXE_RUN)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_accessibility_violations(browser: Browser, served: str, scheme: str) -> None:
    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    found = {}
    for path in PAGES:
        page.goto(served + path)
        if violations := _axe_violations(page):
            found[path] = violations
    context.close()
    assert found == {}


def test_axe_does_catch_a_violation(browser: Browser) -> None:
    page = browser.new_page()
    page.set_content('<!DOCTYPE html><html lang="en"><title>t</title><main><h1>T</h1><p style="color:#ddd">faint</p></main>')
    assert [v.split(":")[0] for v in _axe_violations(page)] == ["color-contrast"]
    page.close()
