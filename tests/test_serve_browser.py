"""Live reload as an editor sees it, in Debian's Chromium: edit, break, fix; the tab follows by itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from sitegen.build import BuildOptions
from sitegen.serve import ServeOptions, Server
from tests.conftest import write
from tests.test_theme_browser import CHROMIUM

STORY = "---\ntitle: Live story\ndate: 2024-01-02\nsection: World\n---\nBefore the edit.\n"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM,
                                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()


@pytest.fixture
def served(make_site: Callable[..., Path]) -> Iterator[Server]:
    site = make_site({"seeds/story.md": STORY})
    server = Server(ServeOptions(BuildOptions(source=site), port=0), lambda message: None)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def page(browser: Browser, served: Server) -> Iterator[Page]:
    tab = browser.new_page()
    tab.goto(f"http://127.0.0.1:{served.port}/world/live-story/")
    expect(tab.locator(".article-body")).to_contain_text("Before the edit.")
    tab.wait_for_function("() => document.readyState === 'complete'")
    yield tab
    tab.close()


def test_edit_shows_without_any_action(page: Page, served: Server) -> None:
    write(served.options.build.source / "seeds/story.md", STORY.replace("Before the edit.", "After the edit."))
    expect(page.locator(".article-body")).to_contain_text("After the edit.", timeout=10_000)


def test_broken_template_shows_overlay_and_fix_recovers(page: Page, served: Server) -> None:
    source = served.options.build.source
    broken = write(source / "templates/article.html", '{% extends "base.html" %}\n{% block main %}{{ nope( }}{% endblock %}\n')
    overlay = page.locator("#sitegen-error-overlay")
    expect(overlay).to_be_visible(timeout=10_000)
    expect(overlay).to_contain_text("article.html:2")
    # The last good page is still what the tab shows under the overlay.
    expect(page.locator(".article-body")).to_contain_text("Before the edit.")
    broken.unlink()
    write(source / "seeds/story.md", STORY.replace("Before the edit.", "Recovered."))
    expect(overlay).to_have_count(0, timeout=10_000)
    expect(page.locator(".article-body")).to_contain_text("Recovered.", timeout=10_000)


def test_broken_article_shows_its_file_and_line(page: Page, served: Server) -> None:
    write(served.options.build.source / "seeds/story.md", "---\ntitle: Live story\ndate: not a date\n---\nx")
    overlay = page.locator("#sitegen-error-overlay")
    expect(overlay).to_contain_text("story.md:3: 'date' is not a valid date", timeout=10_000)


def test_stylesheet_change_applies_without_reload(page: Page, served: Server) -> None:
    page.evaluate("window.notReloaded = true")
    write(served.options.build.source / "static/css/site.css", "body { background: rgb(1, 2, 3); }")
    page.wait_for_function("() => getComputedStyle(document.body).backgroundColor === 'rgb(1, 2, 3)'", timeout=10_000)
    assert page.evaluate("window.notReloaded") is True


def test_a_new_story_reaches_the_open_front_page_and_opens(browser: Browser, served: Server) -> None:
    tab = browser.new_page()
    errors: list[str] = []
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.goto(served.url)
    expect(tab.locator("main")).to_contain_text("Live story")
    tab.wait_for_function("() => document.readyState === 'complete'")
    write(served.options.build.source / "seeds/breaking.md",
          "---\ntitle: Breaking news arrives\ndate: 2024-01-03\nsection: World\n---\nJust in.\n")
    # The tab reloads by itself and shows the story, newest first, linked to its page.
    link = tab.get_by_role("link", name="Breaking news arrives").first
    expect(link).to_be_visible(timeout=10_000)
    link.click()
    expect(tab.locator(".article-body")).to_contain_text("Just in.")
    assert tab.url.endswith("/world/breaking-news-arrives/")
    assert errors == []
    tab.close()
