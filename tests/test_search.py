"""Site search: Pagefind indexes of each month's stories, kept fresh by builds, searched in Chromium."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from sitegen import search
from sitegen.build import BuildOptions
from sitegen.load import load_article
from sitegen.load.article import LoadSettings
from sitegen.serve import ServeOptions, Server
from tests.conftest import build_into, rendered, run_vnu, write
from tests.test_build import tree_digest
from tests.test_theme_browser import _axe_violations, browser, serving  # noqa: F401 - a fixture

CONFIG = 'title = "Daily"\nbase_url = "https://example.org/news/"\n'
STORIES = {
    "seeds/bridge.md": "---\ntitle: Bridge opens over the river\ndate: 2024-05-01\nsection: World\n---\n"
                       "The new bridge carries trams today. Engineers praised the zanzibarian steel.\n",
    "seeds/market.md": "---\ntitle: Market prices fall\ndate: 2024-06-02\nsection: Business\n"
                       "standfirst: Traders worry about the harvest.\n---\nPrices fell at the market today. "
                       "A trader said <script>alert(1)</script> nothing &amp; more.\n",
    "seeds/danang.md": "---\ntitle: Đà Nẵng mở cửa cầu mới\ndate: 2024-06-03\nsection: World\nlanguage: vi\n---\n"
                       "Cây cầu thứ bảy bắc qua sông Hàn được thông xe sáng nay.\n",
}


def site_with(make_site: Callable[..., Path], **extra: str) -> Path:
    return make_site({**STORIES, **extra}, config=CONFIG)


def count_indexing(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records in each shard Pagefind indexes from now on."""
    counts: list[int] = []
    original = search._Pagefind.index

    def counting(self: Any, records: list[dict[str, Any]], folder: Path) -> None:
        counts.append(len(records))
        original(self, records, folder)

    monkeypatch.setattr(search._Pagefind, "index", counting)
    return counts


def test_a_record_holds_the_story_s_own_words(tmp_path: Path) -> None:
    path = write(tmp_path / "seeds/a.md", "---\ntitle: Head & shoulders\nstandfirst: The stand.\n---\n"
                 "<p>One</p><p>Two &lt;three&gt;</p>\n\n## Later\n\nFour.\n")
    article, body = load_article(path, LoadSettings("en", ZoneInfo("UTC"), "news"))
    record = search.record(article, body, "/news/head-shoulders/")
    assert record["content"] == "Head & shoulders\nThe stand.\nOne Two <three> Later Four."
    assert record["meta"] == {"title": "Head & shoulders", "section": "news"}
    assert record["url"] == "/news/head-shoulders/" and record["language"] == "en"


def test_shards_are_indexed_again_only_when_their_stories_change(
        make_site: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "SHARD_SIZE", 2)
    site = site_with(make_site)
    out = tmp_path / "out"
    counts = count_indexing(monkeypatch)
    assert not rendered(site, out)[0].errors
    assert sorted(counts) == [1, 2]

    def shards() -> list[str]:
        return sorted(entry.name for entry in (out / "pagefind").iterdir() if entry.is_dir())

    first = shards()
    assert [name.split(".")[0] for name in first] == ["part-00000", "part-00001"]
    # A text edit of the oldest story indexes its shard again, not the newest; a build with nothing to do, none.
    write(site / "seeds/bridge.md", STORIES["seeds/bridge.md"].replace("today", "today, said zebrafish"))
    counts.clear()
    assert not rendered(site, out)[0].errors
    assert counts == [2]
    assert not rendered(site, out)[0].errors and counts == [2]
    edited = shards()
    assert edited[0] != first[0] and edited[1] == first[1]
    # A new story, the newest, joins the newest shard alone.
    write(site / "seeds/late.md", "---\ntitle: Late\ndate: 2024-06-09\nsection: World\n---\nLate news.\n")
    counts.clear()
    assert not rendered(site, out)[0].errors
    assert counts == [2] and shards()[0] == edited[0] and shards()[1] != edited[1]
    # A deleted story: the shards after it hold other stories now; a shard with none left goes.
    (site / "seeds/late.md").unlink()
    (site / "seeds/danang.md").unlink()
    assert not rendered(site, out)[0].errors
    assert [name.split(".")[0] for name in shards()] == ["part-00000"]
    assert '"part-00000.' in (out / "pagefind/shards.json").read_text()


def test_the_index_is_byte_identical_across_builds_and_worker_counts(make_site: Callable[..., Path],
                                                                     tmp_path: Path) -> None:
    site = site_with(make_site)
    build_into(site, tmp_path / "one", workers=1, cache_dir=tmp_path / "cache-one")
    build_into(site, tmp_path / "two", workers=2, cache_dir=tmp_path / "cache-two")
    # The shards' names and stories; Pagefind's own files vary from run to run (see `pagefind_varies`).
    one, two = tree_digest(tmp_path / "one/pagefind"), tree_digest(tmp_path / "two/pagefind")
    assert one == two and "shards.json" in one and sum("/fragment/" in name for name in one) == 3
    assert (tmp_path / "one/pagefind/shards.json").read_text().count('"path"') == 1


def test_search_can_be_turned_off(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site(STORIES, config=CONFIG + "[search]\nenabled = false\n")
    assert not build_into(site, tmp_path / "out").errors
    assert not (tmp_path / "out/pagefind").exists() and not (tmp_path / "out/search").exists()
    assert "search/" not in (tmp_path / "out/index.html").read_text()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The stories built for https://example.org/news/ and served under /news/."""
    root = tmp_path_factory.mktemp("search")
    site = root / "site"
    for name, text in {**STORIES, "sitegen.toml": CONFIG}.items():
        write(site / name, text)
    assert not build_into(site, root / "www/news").errors
    assert run_vnu(root / "www/news/search") == ""
    with serving(root / "www") as origin:
        yield f"{origin}/news"


def results(page: Page) -> list[str]:
    return page.locator(".search-result h2 a").all_inner_texts()


def open_search(browser: Browser, served: str, query: str = "", **options: Any) -> Page:  # noqa: F811
    page = browser.new_page(**options)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{served}/search/" + (f"?q={query}" if query else ""))
    # The index loads in steps that search.js gives 10 s each. Playwright's 5 s default ran out once,
    # for every test here, in a full run of the suite with the page still loading (cause not found).
    expect(page.locator(".search-controls")).to_be_visible(timeout=30_000)
    page.errors = errors  # type: ignore[attr-defined]
    return page


def test_a_word_from_one_story_finds_it_and_its_link_opens_it(browser: Browser, served: str) -> None:  # noqa: F811
    page = open_search(browser, served)
    page.get_by_label("Search the stories of this site").fill("zanzibarian")
    expect(page.locator(".search-result")).to_have_count(1)
    assert results(page) == ["Bridge opens over the river"]
    assert page.locator(".search-result mark").first.inner_text() == "zanzibarian"
    assert "May 1, 2024" in page.locator(".search-result .meta").inner_text()
    page.locator(".search-result h2 a").click()
    expect(page.locator("h1")).to_have_text("Bridge opens over the river")
    assert page.url.endswith("/news/world/bridge-opens-over-the-river/")
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_section_filter_narrows_the_results(browser: Browser, served: str) -> None:  # noqa: F811
    page = open_search(browser, served, "today")
    expect(page.locator(".search-result")).to_have_count(2)
    page.locator("#search-section").select_option("Business")
    expect(page.locator(".search-result")).to_have_count(1)
    assert results(page) == ["Market prices fall"]
    assert "section=Business" in page.url
    # Newest first puts June before May.
    page.locator("#search-section").select_option("")
    page.locator("#search-sort").select_option("date")
    # Waited for in this order: the two changes each search again, and the first may show two unsorted.
    expect(page.locator(".search-result h2 a")).to_have_text(["Market prices fall", "Bridge opens over the river"])


@pytest.mark.parametrize("query", ["Đà Nẵng", "sông Hàn", "Da Nang", "song Han"])
def test_a_vietnamese_query_finds_the_vietnamese_story(browser: Browser, served: str, query: str) -> None:  # noqa: F811
    page = open_search(browser, served, query)
    expect(page.locator(".search-result")).to_have_count(1)
    assert results(page) == ["Đà Nẵng mở cửa cầu mới"]


def test_markup_in_a_story_is_shown_as_text(browser: Browser, served: str) -> None:  # noqa: F811
    page = open_search(browser, served, "trader")
    expect(page.locator(".search-result")).to_have_count(1)
    assert "nothing & more" in page.locator(".search-excerpt").inner_text()
    assert page.locator(".search-result script, .search-result img").count() == 0


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_search_page_is_accessible_and_fits_320px(browser: Browser, served: str, scheme: str) -> None:  # noqa: F811
    page = open_search(browser, served, "bridge", color_scheme=scheme, viewport={"width": 320, "height": 640})
    expect(page.locator(".search-result").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert _axe_violations(page) == []
    assert page.errors == []  # type: ignore[attr-defined]


def test_without_javascript_the_form_asks_a_search_engine_for_this_site(browser: Browser, served: str) -> None:  # noqa: F811
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{served}/search/")
    expect(page.locator(".search-note")).to_contain_text("DuckDuckGo, restricted to example.org")
    form = page.locator("form.search-form")
    assert form.get_attribute("action") == "https://duckduckgo.com/"
    assert page.locator('input[type="hidden"][name="sites"]').get_attribute("value") == "example.org"
    context.close()


def test_every_page_links_to_search(served: str, browser: Browser) -> None:  # noqa: F811
    page = browser.new_page()
    page.goto(f"{served}/world/bridge-opens-over-the-river/")
    page.locator("header").get_by_role("link", name="Search").click()
    expect(page.locator("h1")).to_have_text("Search")


def test_an_edit_is_findable_after_the_next_build_and_a_deleted_story_is_gone(
        make_site: Callable[..., Path], tmp_path: Path, browser: Browser) -> None:  # noqa: F811
    site = site_with(make_site)
    out = tmp_path / "www/news"
    assert not build_into(site, out).errors
    write(site / "seeds/bridge.md", STORIES["seeds/bridge.md"].replace("today", "today with a quokkaphone"))
    (site / "seeds/market.md").unlink()
    assert not build_into(site, out).errors
    with serving(tmp_path / "www") as origin:
        page = open_search(browser, f"{origin}/news", "quokkaphone")
        expect(page.locator(".search-result")).to_have_count(1)
        page.goto(f"{origin}/news/search/?q=trader")
        expect(page.locator("#search-status")).to_contain_text("No stories match")
        assert results(page) == []



def test_serve_refreshes_the_index_after_the_reload(make_site: Callable[..., Path], browser: Browser) -> None:  # noqa: F811
    site = site_with(make_site)
    server = Server(ServeOptions(BuildOptions(source=site), port=0), lambda message: None)
    server.start()
    try:
        write(site / "seeds/late.md", "---\ntitle: Late edition\ndate: 2024-06-04\nsection: World\n---\n"
              "The presses printed a xylophonist's memoir.\n")
        page = browser.new_page()
        deadline = time.monotonic() + 30
        # The index comes a moment after the pages: until then the search page says it could not load.
        while time.monotonic() < deadline:
            page.goto(f"{server.url}search/?q=xylophonist")
            page.wait_for_function("() => !document.getElementById('search-status').textContent.includes('Loading')")
            page.wait_for_timeout(300)
            if results(page):
                break
        assert results(page) == ["Late edition"]
    finally:
        server.stop()


def test_a_shard_gone_while_the_page_loads_it_ends_in_a_message_not_a_wait(make_site: Callable[..., Path],
                                                                          tmp_path: Path, browser: Browser) -> None:  # noqa: F811
    assert not build_into(site_with(make_site), tmp_path / "www/news").errors
    shard = next(folder for folder in sorted((tmp_path / "www/news/pagefind").iterdir()) if folder.is_dir())
    # What a reader meets when a build replaces the index between two of the page's requests: Pagefind
    # itself waits for the file forever.
    (shard / "pagefind-entry.json").unlink()
    with serving(tmp_path / "www") as origin:
        page = browser.new_page()
        page.goto(f"{origin}/news/search/?q=bridge")
        expect(page.locator("#search-status")).to_contain_text("could not load", timeout=20_000)
        page.close()
