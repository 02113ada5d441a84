"""End to end: build the seed site and the fixture newsroom, then check them with real tools."""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from urllib.parse import unquote, urlsplit

import lxml.html
import pytest

from tests.conftest import ROOT, SITES, build_into, run_vnu


@pytest.fixture(scope="module")
def seed_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("e2e") / "seed"
    assert not build_into(ROOT, out).errors
    return out


@pytest.fixture(scope="module")
def newsroom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("e2e") / "newsroom"
    assert not build_into(SITES / "newsroom", out).errors
    return out


def html_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.html"))


def page_url(folder: Path, file: Path) -> str:
    relative = file.relative_to(folder).as_posix()
    return "/" + (relative[: -len("index.html")] if relative.endswith("index.html") else relative)


def resolve(folder: Path, current: str, link: str, base_path: str = "/") -> Path | None:
    """The file a link from page `current` points at, or None for an external link."""
    parts = urlsplit(link)
    if parts.scheme or parts.netloc:
        return None
    path = unquote(parts.path)
    if path.startswith("/"):
        assert path.startswith(base_path), f"{link} on {current} escapes the base path {base_path}"
        target = "/" + path[len(base_path):]
    else:
        start = current if current.endswith("/") else posixpath.dirname(current) + "/"
        target = posixpath.normpath(posixpath.join(start, path)) + ("/" if path.endswith("/") else "")
    assert not target.startswith("/.."), f"{link} on {current} leaves the site"
    file = folder / target.lstrip("/")
    return file / "index.html" if target.endswith("/") else file


def broken_links(folder: Path, base_path: str = "/") -> list[str]:
    broken = []
    for file in html_files(folder):
        current = page_url(folder, file)
        document = lxml.html.fromstring(file.read_bytes())
        for element, attribute, link, _ in document.iterlinks():
            if link.startswith("#"):
                if not document.xpath("//*[@id=$id]", id=link[1:]):
                    broken.append(f"{current}: {element.tag} {attribute}={link}")
            elif element.tag in ("a", "link", "img", "script") and attribute in ("href", "src"):
                target = resolve(folder, current if file.name != "404.html" else "/", link, base_path)
                if target is not None and not target.is_file():
                    broken.append(f"{current}: {element.tag} {attribute}={link}")
    return broken


def test_seed_site_has_every_kind_of_page(seed_site: Path) -> None:
    for page in ("index.html", "404.html", "world/index.html", "tags/nato/index.html", "tags/index.html",
                 "authors/index.html", "archive/index.html", "archive/2022/05/index.html", "static/css/site.css",
                 "world/us-warns-ukraine-about-using-nato-weapons-to-attack-russian-territory/index.html"):
        assert (seed_site / page).is_file(), page


def test_seed_site_is_valid_html(seed_site: Path) -> None:
    assert run_vnu(seed_site) == ""


def test_newsroom_is_valid_html(newsroom: Path) -> None:
    assert run_vnu(newsroom) == ""


def test_vnu_does_catch_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.html").write_text("<!DOCTYPE html><html><head><title>x</title></head><body><img></body></html>")
    assert "alt" in run_vnu(tmp_path)


@pytest.mark.parametrize("fixture", ["seed_site", "newsroom"])
def test_every_internal_link_resolves(fixture: str, request: pytest.FixtureRequest) -> None:
    folder: Path = request.getfixturevalue(fixture)
    base_path = "/news/" if fixture == "newsroom" else "/"
    assert broken_links(folder, base_path) == []


def test_link_checker_finds_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text('<a href="missing/">x</a><a href="https://example.org/">ok</a>')
    assert broken_links(tmp_path) == ["/: a href=missing/"]


def test_site_works_under_a_sub_path(newsroom: Path) -> None:
    # The 404 page can be served at any URL, so its links are rooted at base_url's path.
    document = lxml.html.fromstring((newsroom / "404.html").read_bytes())
    hrefs = [a.get("href") for a in document.iter("a", "link")]
    assert hrefs and all(h.startswith("/news/") or h == "#main" for h in hrefs)
    # Every other page links relatively, so it works at the root and under any prefix alike.
    front = lxml.html.fromstring((newsroom / "index.html").read_bytes())
    assert not [a.get("href") for a in front.iter("a") if a.get("href", "").startswith("/")]


def test_language_and_direction(newsroom: Path) -> None:
    vi = lxml.html.fromstring((newsroom / "vietnam/da-nang-mo-cua-cau-moi-qua-song-han/index.html").read_bytes())
    assert (vi.get("lang"), vi.get("dir")) == ("vi", "ltr")
    # The site's English chrome says so, inside a Vietnamese page.
    assert vi.find(".//header[@class='site-header']").get("lang") == "en"
    ar = lxml.html.fromstring((newsroom / "world/tqryr-mn-lqhr/index.html").read_bytes())
    assert (ar.get("lang"), ar.get("dir")) == ("ar", "rtl")
    front = lxml.html.fromstring((newsroom / "index.html").read_bytes())
    assert front.get("lang") == "en"
    assert any(card.get("lang") == "ar" and card.get("dir") == "rtl" for card in front.iter("article"))


def test_article_page_content(newsroom: Path) -> None:
    page = lxml.html.fromstring((newsroom / "vietnam/da-nang-mo-cua-cau-moi-qua-song-han/index.html").read_bytes())
    assert page.findtext(".//h1") == "Đà Nẵng mở cửa cầu mới qua sông Hàn"
    times = page.findall(".//p[@class='dateline']//time")
    assert [t.get("datetime") for t in times] == ["2024-03-02T09:15:00+07:00", "2024-03-02T17:40:00+07:00"]
    # The theme's words follow the article's language.
    assert "Cập nhật" in page.find(".//p[@class='dateline']").text_content()
    byline = page.find(".//p[@class='byline']")
    assert byline.text_content() == "Tác giả: Nguyễn Văn An và Trần Thị Bình"
    assert [a.get("href") for a in byline.iter("a")] == ["../../authors/nguyen-van-an/", "../../authors/tran-thi-binh/"]
    assert "600 metres" in page.find(".//aside[@class='correction']").text_content()
    figure = page.find(".//figure")
    assert figure.find("img").get("alt") == "Cầu mới nhìn từ bờ đông"
    assert figure.find(".//span[@class='figure-credit']").text == "Ảnh: TTXVN"
    assert page.find(".//p[@class='reading-time']").text == "1 phút đọc"
    assert [a.text for a in page.findall(".//ul[@class='tags']//a")] == ["Đà Nẵng", "Giao thông"]


def test_untranslated_words_are_marked_english(tmp_path: Path) -> None:
    from tests.conftest import write

    site = tmp_path / "site"
    write(site / "seeds/a.md", "---\ntitle: Hallo Welt\ndate: 2024-01-01\nlanguage: de\nauthor: Anna\n---\nText.")
    assert not build_into(site, tmp_path / "out").errors
    page = lxml.html.fromstring((tmp_path / "out/news/hallo-welt/index.html").read_bytes())
    assert page.get("lang") == "de"
    marked = page.find(".//p[@class='byline']/span")
    assert (marked.get("lang"), marked.text) == ("en", "By")


def test_wire_copy_figure_and_source(newsroom: Path) -> None:
    page = lxml.html.fromstring((newsroom / "news/undated-wire-story-about-a-harbour/index.html").read_bytes())
    figure = page.find(".//figure")
    assert figure.find("img").get("src") == "https://images.example.org/harbour.jpg"
    assert figure.find(".//span[@class='figure-caption']").text == "Boats in the harbour at dusk."
    assert figure.find(".//span[@class='figure-credit']").text == "Photo: VNA"
    assert page.find(".//p[@class='article-source']").text == "Source: VNA"
    assert page.find(".//p[@class='dateline']") is None


def test_seed_figure_without_source_has_no_img(seed_site: Path) -> None:
    page = lxml.html.fromstring(next((seed_site / "world").glob("us-warns-*/index.html")).read_bytes())
    figure = page.find(".//figure")
    assert figure.find("img") is None
    assert figure.find(".//span[@class='figure-credit']").text == "Photo: US Marine Corps"


def test_front_page_is_paginated_with_a_lead(newsroom: Path) -> None:
    front = lxml.html.fromstring((newsroom / "index.html").read_bytes())
    assert front.find(".//article[@class='lead-story']//h2/a").text == "Đà Nẵng mở cửa cầu mới qua sông Hàn"
    # 6 articles: 1 lead + 5 more at 2 a page. Pages after the first are numbered from the oldest:
    # page 3 holds the one story left over, page 2 the oldest two, the undated story last.
    assert front.find(".//a[@rel='next']").get("href") == "page/3/"
    newer = lxml.html.fromstring((newsroom / "page/3/index.html").read_bytes())
    assert newer.find(".//a[@rel='prev']").get("href") == "../../"
    assert newer.find(".//a[@rel='next']").get("href") == "../../page/2/"
    last = lxml.html.fromstring((newsroom / "page/2/index.html").read_bytes())
    assert last.find(".//a[@rel='next']") is None and last.find(".//a[@rel='prev']").get("href") == "../../page/3/"
    assert [a.text for a in last.iterfind(".//ol[@class='story-list']//h2/a")][-1] == "Undated wire story about a harbour"


def test_drafts_and_embargoed_are_absent(newsroom: Path) -> None:
    everything = "".join(f.read_text() for f in html_files(newsroom))
    assert "A draft nobody should see" not in everything and "Embargoed until the future" not in everything


def test_hostile_text_is_escaped_everywhere(newsroom: Path) -> None:
    for file in html_files(newsroom):
        document = lxml.html.fromstring(file.read_bytes())
        for script in document.iter("script"):
            # Structured data is the only inline script, and it must be data: it parses as JSON. The search
            # page alone loads the theme's own search script.
            if script.get("src"):
                assert file.parent.name == "search" and script.get("src").endswith("static/js/search.js"), file
                assert not (script.text or "").strip()
                continue
            assert script.get("type") == "application/ld+json", file
            json.loads(script.text)
        assert document.find(".//iframe") is None and document.find(".//style") is None, file
        for element in document.iter():
            for name, value in element.attrib.items():
                assert not name.startswith("on"), (file, element.tag, name)
                assert "javascript:" not in value.lower(), (file, element.tag, value)
    page = lxml.html.fromstring(next(newsroom.glob("world/breaking-*/index.html")).read_bytes())
    assert page.findtext(".//h1") == "Breaking <script>alert(1)</script> & \"quotes\" 'single'"
    assert page.find(".//title").text.startswith("Breaking <script>")
    assert 'and "quotes" and ]]> and </style>' in page.find(".//meta[@name='description']").get("content")
    assert page.find(".//p[@class='byline']/a").text == "Eve <img src=x onerror=alert(1)>"
    assert [a.text for a in page.findall(".//ul[@class='tags']//a")] == ["</script><script>alert(2)</script>", "a&b"]
