"""Feeds, sitemaps, robots.txt, JSON-LD and Open Graph, checked with real parsers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import extruct
import feedparser
import lxml.etree
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sitegen import sitemaps
from sitegen.model import Article
from sitegen.sitemaps import chunk_entries, news_articles
from tests.conftest import SITES, build_into

SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
HOSTILE_TITLE = "Breaking <script>alert(1)</script> & \"quotes\" 'single'"


@pytest.fixture(scope="module")
def newsroom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("syndication") / "site"
    report = build_into(SITES / "newsroom", out)
    assert not report.errors and not report.warnings
    return out


def feed_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.name in ("feed.xml", "rss.xml"))


def test_every_listing_has_three_feeds(newsroom: Path) -> None:
    for listing in ("", "world/", "vietnam/", "news/", "tags/sport/", "authors/jane-doe/"):
        for name in ("feed.xml", "rss.xml", "feed.json"):
            assert (newsroom / listing / name).is_file(), listing + name


def test_feeds_parse_without_bozo(newsroom: Path) -> None:
    files = feed_files(newsroom)
    assert len(files) > 20
    for file in files:
        parsed = feedparser.parse(file.read_bytes())
        assert not parsed.bozo, (file, parsed.get("bozo_exception"))
        assert parsed.version in ("atom10", "rss20"), file
        # Strict XML parsing too: no character XML 1.0 forbids, no unbalanced markup.
        lxml.etree.fromstring(file.read_bytes())
        assert b"<![CDATA[" not in file.read_bytes()


def test_site_atom_feed_entries(newsroom: Path) -> None:
    parsed = feedparser.parse((newsroom / "feed.xml").read_bytes())
    assert parsed.feed.title == "The Daily Fixture"
    assert parsed.feed.links[0].href == "https://example.org/news/feed.xml"
    titles = [e.title for e in parsed.entries]
    # Dated articles only, newest first; the undated wire story has no date to put in a feed.
    assert titles == ["Đà Nẵng mở cửa cầu mới qua sông Hàn", "تقرير من القاهرة", "Fans celebrate 🎉 as team wins",
                      HOSTILE_TITLE, "An older world story"]
    bridge = parsed.entries[0]
    assert bridge.id == bridge.link == "https://example.org/news/vietnam/da-nang-mo-cua-cau-moi-qua-song-han/"
    assert bridge.published == "2024-03-02T09:15:00+07:00" and bridge.updated == "2024-03-02T17:40:00+07:00"
    assert [a.name for a in bridge.authors] == ["Nguyễn Văn An", "Trần Thị Bình"]
    assert [t.label for t in bridge.tags] == ["Vietnam", "Đà Nẵng", "Giao thông"]
    assert bridge.enclosures[0].href == "https://images.example.org/da-nang-bridge.jpg"
    assert "<strong>Đà Nẵng</strong>" in bridge.content[0].value
    assert bridge.summary == "Cây cầu thứ bảy bắc qua sông Hàn được thông xe sáng nay."


def test_rss_feed_items(newsroom: Path) -> None:
    parsed = feedparser.parse((newsroom / "world/rss.xml").read_bytes())
    assert parsed.version == "rss20"
    hostile = next(e for e in parsed.entries if e.title == HOSTILE_TITLE)
    assert hostile.author == "Eve <img src=x onerror=alert(1)>"
    assert [t.term for t in hostile.tags] == ["World", "</script><script>alert(2)</script>", "a&b"]
    assert hostile.published_parsed[:3] == (2024, 2, 27)
    assert hostile.id == hostile.link == "https://example.org/news/world/breaking-script-alert-1-script-quotes-single/"
    assert "<script" not in hostile.content[0].value


def test_json_feed_required_fields(newsroom: Path) -> None:
    for file in sorted(newsroom.rglob("feed.json")):
        document = json.loads(file.read_text())
        assert document["version"] == "https://jsonfeed.org/version/1.1"
        assert isinstance(document["title"], str) and document["title"]
        assert document["feed_url"] == "https://example.org/news/" + file.relative_to(newsroom).as_posix()
        assert isinstance(document["items"], list)
        for item in document["items"]:
            assert isinstance(item["id"], str) and item["id"]
            assert "content_html" in item or "content_text" in item
            datetime.fromisoformat(item["date_published"])
    site = json.loads((newsroom / "feed.json").read_text())
    bridge = site["items"][0]
    assert bridge["date_modified"] == "2024-03-02T17:40:00+07:00"
    assert bridge["authors"][0] == {"name": "Nguyễn Văn An", "url": "https://example.org/news/authors/nguyen-van-an/"}
    assert bridge["language"] == "vi" and bridge["image"] == "https://images.example.org/da-nang-bridge.jpg"


def test_pages_link_their_feeds(newsroom: Path) -> None:
    page = lxml.etree.HTML((newsroom / "world/index.html").read_bytes())
    alternates = {(link.get("type"), link.get("href")) for link in page.iter("link") if link.get("rel") == "alternate"}
    assert ("application/atom+xml", "../feed.xml") in alternates
    assert ("application/atom+xml", "feed.xml") in alternates
    assert ("application/rss+xml", "rss.xml") in alternates and ("application/feed+json", "feed.json") in alternates


def test_feed_limit_and_summary_mode(make_site: Callable[..., Path], tmp_path: Path) -> None:
    files = {f"seeds/a{i}.md": f"---\ntitle: Story {i}\ndate: 2024-01-{i + 1:02d}\nsummary: Sum {i}\n---\nFull {i}"
             for i in range(5)}
    site = make_site(files, config='base_url = "https://x.example/"\n[feeds]\nlimit = 3\ncontent = "summary"\n')
    build_into(site, tmp_path / "out")
    parsed = feedparser.parse((tmp_path / "out/feed.xml").read_bytes())
    assert [e.title for e in parsed.entries] == ["Story 4", "Story 3", "Story 2"]
    assert all("content" not in e for e in parsed.entries) and parsed.entries[0].summary == "Sum 4"
    document = json.loads((tmp_path / "out/feed.json").read_text())
    assert document["items"][0]["content_text"] == "Sum 4"


def test_hostile_text_in_xml_and_json(make_site: Callable[..., Path], tmp_path: Path) -> None:
    nasty = "Bad ]]> </script> <!-- \x0b\x1f\ufffe & \u2028 end"
    site = make_site({"seeds/a.md": f"---\ntitle: {json.dumps(nasty)}\ndate: 2024-11-24\n"
                                    f"summary: {json.dumps(nasty)}\nauthor: {json.dumps(nasty)}\n"
                                    f"tags: [{json.dumps(nasty)}]\n---\nBody ]]> <![CDATA[ x ]]>"},
                     config='base_url = "https://x.example/"\n')
    report = build_into(site, tmp_path / "out")
    assert not report.errors
    expected = "Bad ]]> </script> <!--  & \u2028 end"
    for name in ("feed.xml", "rss.xml"):
        raw = (tmp_path / "out" / name).read_bytes()
        lxml.etree.fromstring(raw)
        parsed = feedparser.parse(raw)
        assert not parsed.bozo and parsed.entries[0].title == expected
    document = json.loads((tmp_path / "out/feed.json").read_text())
    assert document["items"][0]["title"] == expected
    page = (tmp_path / "out/news/bad-script-end/index.html").read_text()
    data = extruct.extract(page, syntaxes=["json-ld"], uniform=True)["json-ld"]
    article = next(d for d in data if d["@type"] == "NewsArticle")
    assert article["headline"] == expected and article["author"][0]["name"] == expected
    assert article["keywords"] == [expected]
    script = page.split('<script type="application/ld+json">')[1].split("</script>")[0]
    assert "</" not in script and "<!--" not in script
    news = lxml.etree.fromstring((tmp_path / "out/news-sitemap.xml").read_bytes())
    assert news.findtext(f".//{NEWS}title") == expected


def test_sitemap_lists_every_page_and_only_built_ones(newsroom: Path) -> None:
    root = lxml.etree.fromstring((newsroom / "sitemap.xml").read_bytes())
    locs = [url.findtext(f"{SM}loc") for url in root.iter(f"{SM}url")]
    prefix = "https://example.org/news/"
    assert all(loc.startswith(prefix) for loc in locs)
    files = {loc[len(prefix):] + ("index.html" if loc.endswith("/") else "") for loc in locs}
    for file in files:
        assert (newsroom / file).is_file(), file
    # Neither the 404 page nor the search page is for search engines.
    pages = {p.relative_to(newsroom).as_posix() for p in newsroom.rglob("*.html")} - {"404.html", "search/index.html"}
    assert files == pages
    bridge = next(u for u in root.iter(f"{SM}url") if "da-nang" in u.findtext(f"{SM}loc"))
    assert bridge.findtext(f"{SM}lastmod") == "2024-03-02T17:40:00+07:00"


def test_sitemap_splits_into_an_index(newsroom: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sitemaps, "MAX_URLS", 7)
    build_into(SITES / "newsroom", tmp_path / "out")
    index = lxml.etree.fromstring((tmp_path / "out/sitemap.xml").read_bytes())
    assert index.tag == f"{SM}sitemapindex"
    parts = [s.findtext(f"{SM}loc") for s in index.iter(f"{SM}sitemap")]
    locs: list[str] = []
    for part in parts:
        document = lxml.etree.fromstring((tmp_path / "out" / part.split("/news/", 1)[1]).read_bytes())
        urls = [u.findtext(f"{SM}loc") for u in document.iter(f"{SM}url")]
        assert 0 < len(urls) <= 7
        locs += urls
    whole = lxml.etree.fromstring((newsroom / "sitemap.xml").read_bytes())
    assert locs == [u.findtext(f"{SM}loc") for u in whole.iter(f"{SM}url")]


def test_chunking_by_size() -> None:
    entries = [(f"/a/{'x' * 100}{i}/", None) for i in range(10)]
    chunks = chunk_entries(entries, "https://example.org/", max_bytes=1200)
    assert len(chunks) > 2 and sum(len(c) for c in chunks) == 10
    assert chunk_entries(entries, "https://example.org/") == [tuple(entries)]


@settings(max_examples=200, deadline=None)
@given(paths=st.lists(st.from_regex(r"/[a-zü%&]{0,30}", fullmatch=True), max_size=40),
       max_urls=st.integers(1, 12), max_bytes=st.integers(300, 3000))
def test_sitemap_chunks_are_full_and_within_limits(paths: list[str], max_urls: int, max_bytes: int) -> None:
    # Each part is as full as the limits allow (so a split does not move with how it was computed).
    from sitegen.urls import absolute_url

    base = "https://example.org/news/"
    entries = [(path, None) for path in paths]

    def size(chunk: list[tuple[str, None]]) -> int:
        return sitemaps._HEAD_OVERHEAD + sum(len(absolute_url(url, base).encode()) * 2 + sitemaps._ENTRY_OVERHEAD
                                             for url, _ in chunk)

    chunks = chunk_entries(entries, base, max_urls=max_urls, max_bytes=max_bytes)
    assert [entry for chunk in chunks for entry in chunk] == entries
    for number, chunk in enumerate(chunks):
        assert len(chunk) <= max_urls and (len(chunk) == 1 or size(list(chunk)) <= max_bytes)
        if number + 1 < len(chunks):
            assert len(chunk) == max_urls or size([*chunk, chunks[number + 1][0]]) > max_bytes


_PLAIN_OR_NOT = st.from_regex(r"/[a-z]{0,30}", fullmatch=True) | st.from_regex(r"/[a-zü%&]{0,30}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(paths=st.lists(_PLAIN_OR_NOT, max_size=40, unique=True),
       moves=st.dictionaries(st.integers(0, 39), _PLAIN_OR_NOT, max_size=3),
       max_urls=st.integers(1, 12), max_bytes=st.integers(300, 3000))
# Split by size, one URL a file: a shorter URL in the first leaves room for the second's.
@example(paths=["/" + letter * 20 for letter in "abcdef"], moves={0: "/a"}, max_urls=12, max_bytes=590)
# Split by count, two URLs a file: a longer URL in the first no longer leaves room for the second.
@example(paths=["/" + letter * 20 for letter in "abcd"], moves={0: "/" + "x" * 40}, max_urls=2, max_bytes=630)
def test_urls_changed_in_place_change_the_chunks_as_chunking_anew_would(
        paths: list[str], moves: dict[int, str], max_urls: int, max_bytes: int) -> None:
    # An edit build that moves a story re-chunks no sitemap entry: the files that list it change, alone.
    base = "https://example.org/news/"
    moved = {paths[n]: new for n, new in moves.items() if n < len(paths)}
    entries = [(path, None) for path in paths]
    chunks = chunk_entries(entries, base, max_urls=max_urls, max_bytes=max_bytes)
    changed = sitemaps.changed_chunks(chunks, moved, base, max_urls=max_urls, max_bytes=max_bytes)
    anew = chunk_entries([(moved.get(url, url), None) for url, _ in entries], base, max_urls=max_urls, max_bytes=max_bytes)
    if changed is not None:
        assert [changed.get(number, chunk) for number, chunk in enumerate(chunks)] == anew
        assert set(changed) == {n for n, chunk in enumerate(chunks) if any(url in moved for url, _ in chunk)}
    # Split by count, with room to spare, as nearly every site's sitemap is: never chunked anew.
    assert sitemaps.changed_chunks(chunk_entries(entries, base, max_urls=max_urls), moved, base, max_urls=max_urls) \
        is not None


def test_plain_paths_just_past_the_size_limit_are_split() -> None:
    # Plain paths are sized without making them absolute: the bound must still count every byte.
    from sitegen.urls import absolute_url

    base = "https://example.org/news/"
    entries = [(f"/world/{'story-' * 4}{number:04d}/", None) for number in range(12)]
    whole = sitemaps._HEAD_OVERHEAD + sum(len(absolute_url(url, base).encode()) * 2 + sitemaps._ENTRY_OVERHEAD
                                          for url, _ in entries)
    assert chunk_entries(entries, base, max_urls=12, max_bytes=whole) == [tuple(entries)]
    split = chunk_entries(entries, base, max_urls=12, max_bytes=whole - 1)
    assert [len(chunk) for chunk in split] == [11, 1]


def test_sitemap_urls_are_escaped_for_xml() -> None:
    # urlset writes its lines itself (one per URL, for 50,000-URL files), so its escaping is checked here.
    from sitegen.config import Config

    when = datetime(2024, 3, 2, 9, 15, tzinfo=timezone(timedelta(hours=7)))
    config = Config(base_url="https://example.org/a&b<c>/")
    xml = sitemaps.urlset((("/world/story/", when.isoformat()), ("/tags/", None)), config)
    root = lxml.etree.fromstring(xml.encode("utf-8"))
    urls = root.findall(f"{SM}url")
    assert [u.findtext(f"{SM}loc") for u in urls] == ["https://example.org/a&b<c>/world/story/",
                                                       "https://example.org/a&b<c>/tags/"]
    assert [u.findtext(f"{SM}lastmod") for u in urls] == ["2024-03-02T09:15:00+07:00", None]


@settings(max_examples=300, deadline=None)
@given(paths=st.lists(st.one_of(st.from_regex(r"/[a-z0-9/._~%&<>?#ü -]{0,20}", fullmatch=True), st.text(max_size=20)),
                      max_size=8),
       base=st.sampled_from(["", "https://example.org/", "https://example.org/a&b<c>", "http://x/ü/"]))
def test_sitemap_locations_are_the_absolute_urls_escaped(paths: list[str], base: str) -> None:
    # urlset takes a short cut for plain slugs; every path must come out as the general rule writes it.
    from sitegen.config import Config
    from sitegen.urls import absolute_url
    from sitegen.xmlwriter import text

    xml = sitemaps.urlset(tuple((path, None) for path in paths), Config(base_url=base))
    assert xml.count("<loc>") == len(paths)
    assert re.findall(r"<loc>(.*?)</loc>", xml, re.S) == [text(absolute_url(path, base)) for path in paths]


def test_a_sitemap_parts_newest_entry_is_by_time_not_by_text() -> None:
    # As text, 09:15+07:00 sorts after 03:00+00:00, but it is 02:15 UTC: three quarters of an hour earlier.
    entries = (("/a/", "2024-03-02T09:15:00+07:00"), ("/b/", None),
               ("/c/", "2024-03-02T03:00:00+00:00"))
    assert sitemaps.newest(entries) == "2024-03-02T03:00:00+00:00"
    # Offsets to the second (local mean time, before time zones) that end alike are still compared.
    lmt = (("/a/", "1890-01-01T05:00:00+07:06:40"), ("/b/", "1890-01-01T01:00:00-01:06:40"))
    assert sitemaps.newest(lmt) == "1890-01-01T01:00:00-01:06:40"
    assert sitemaps.newest((("/b/", None),)) is None


@settings(max_examples=300, deadline=None)
@given(times=st.lists(st.datetimes(min_value=datetime(1800, 1, 1), max_value=datetime(2200, 1, 1),
                                   timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=7)),
                                                              timezone(timedelta(hours=7, minutes=6, seconds=40)),
                                                              timezone(-timedelta(hours=1, minutes=6, seconds=40))])),
                      max_size=6))
def test_a_sitemap_parts_newest_entry_is_the_latest_time(times: list[datetime]) -> None:
    # newest compares text when every time has one format and offset; it must agree with the clock.
    stamps = [when.isoformat() for when in times]
    entries = tuple((f"/{i}/", stamp) for i, stamp in enumerate(stamps))
    found = sitemaps.newest(entries)
    if not stamps:
        assert found is None
        return
    # The same moment may be written with two offsets; either is right.
    assert found in stamps
    assert datetime.fromisoformat(found) == max(map(datetime.fromisoformat, stamps))


def test_news_sitemap_covers_two_days_and_at_most_1000() -> None:
    now = datetime(2024, 3, 3, 12, tzinfo=timezone.utc)
    articles = tuple(
        Article(source_path=Path(f"{i}.md"), slug=f"s{i}", headline="h", standfirst="",
                published=now - timedelta(minutes=3 * i))
        for i in range(1500)
    )
    recent = news_articles(articles, now)
    assert len(recent) == 961  # three-minute spacing: stories 0 to 960 fall inside the 48 hours
    assert news_articles(articles * 2, now)[:1000] == news_articles(articles * 2, now)
    assert len(news_articles(articles * 2, now)) == 1000
    assert news_articles(articles, now - timedelta(days=30)) == ()


def test_news_sitemap_content(newsroom: Path) -> None:
    # The test clock is 2024-11-25; only a story from the two days before it would be listed.
    root = lxml.etree.fromstring((newsroom / "news-sitemap.xml").read_bytes())
    assert root.findall(f"{SM}url") == []


def test_news_sitemap_lists_recent_articles(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({"seeds/fresh.md": "---\ntitle: Fresh story\ndate: 2024-11-24T10:00:00Z\nlanguage: vi\n---\nx",
                      "seeds/stale.md": "---\ntitle: Stale story\ndate: 2024-11-01T10:00:00Z\n---\nx"},
                     config='base_url = "https://x.example/"\n[publisher]\nname = "Báo <Test>"\n')
    build_into(site, tmp_path / "out")
    root = lxml.etree.fromstring((tmp_path / "out/news-sitemap.xml").read_bytes())
    (url,) = root.findall(f"{SM}url")
    assert url.findtext(f"{SM}loc") == "https://x.example/news/fresh-story/"
    assert url.findtext(f"{NEWS}news/{NEWS}publication/{NEWS}name") == "Báo <Test>"
    assert url.findtext(f"{NEWS}news/{NEWS}publication/{NEWS}language") == "vi"
    assert url.findtext(f"{NEWS}news/{NEWS}publication_date") == "2024-11-24T10:00:00+00:00"
    assert url.findtext(f"{NEWS}news/{NEWS}title") == "Fresh story"


def test_robots_points_at_both_sitemaps(newsroom: Path) -> None:
    assert (newsroom / "robots.txt").read_text() == (
        "User-agent: *\nAllow: /\nSitemap: https://example.org/news/sitemap.xml\n"
        "Sitemap: https://example.org/news/news-sitemap.xml\n"
    )


def test_an_unbylined_story_is_credited_to_the_publisher(newsroom: Path) -> None:
    html = (newsroom / "news/undated-wire-story-about-a-harbour/index.html").read_text()
    data = extruct.extract(html, base_url="https://example.org/news/", syntaxes=["json-ld"], uniform=True)
    article = next(d for d in data["json-ld"] if d["@type"] == "NewsArticle")
    assert article["author"] == [article["publisher"]] and article["author"][0]["name"] == "Fixture Media"


def test_article_structured_data(newsroom: Path) -> None:
    html = (newsroom / "vietnam/da-nang-mo-cua-cau-moi-qua-song-han/index.html").read_text()
    data = extruct.extract(html, base_url="https://example.org/news/vietnam/da-nang-mo-cua-cau-moi-qua-song-han/",
                           syntaxes=["json-ld"], uniform=True)
    article = next(d for d in data["json-ld"] if d["@type"] == "NewsArticle")
    url = "https://example.org/news/vietnam/da-nang-mo-cua-cau-moi-qua-song-han/"
    assert article["headline"] == "Đà Nẵng mở cửa cầu mới qua sông Hàn"
    assert article["description"] == "Cây cầu thứ bảy bắc qua sông Hàn được thông xe sáng nay."
    assert article["image"] == ["https://images.example.org/da-nang-bridge.jpg"]
    assert article["datePublished"] == "2024-03-02T09:15:00+07:00"
    assert article["dateModified"] == "2024-03-02T17:40:00+07:00"
    assert article["author"][0] == {"@type": "Person", "name": "Nguyễn Văn An",
                                    "url": "https://example.org/news/authors/nguyen-van-an/"}
    assert article["publisher"] == {"@type": "Organization", "name": "Fixture Media", "url": "https://example.org/news/",
                                    "logo": {"@type": "ImageObject", "url": "https://example.org/logo.png",
                                             "width": 600, "height": 60}}
    assert article["mainEntityOfPage"] == {"@type": "WebPage", "@id": url}
    assert article["articleSection"] == "Vietnam" and article["keywords"] == ["Đà Nẵng", "Giao thông"]
    assert article["inLanguage"] == "vi"
    crumbs = next(d for d in data["json-ld"] if d["@type"] == "BreadcrumbList")
    assert [i["item"] for i in crumbs["itemListElement"]] == [
        "https://example.org/news/", "https://example.org/news/vietnam/", url]
    properties = extruct.extract(html, syntaxes=["opengraph"])["opengraph"][0]["properties"]
    og = dict(properties)
    assert [value for key, value in properties if key == "article:tag"] == ["Đà Nẵng", "Giao thông"]
    assert og["og:type"] == "article" and og["og:url"] == url
    assert og["article:published_time"] == "2024-03-02T09:15:00+07:00"
    assert og["article:modified_time"] == "2024-03-02T17:40:00+07:00"
    assert og["article:section"] == "Vietnam" and og["og:image"] == "https://images.example.org/da-nang-bridge.jpg"
    assert og["og:image:width"] == "1200" and og["og:image:height"] == "800"
    page = lxml.etree.HTML(html.encode())
    assert next(m.get("content") for m in page.iter("meta") if m.get("name") == "twitter:card") == "summary_large_image"
    assert next(link.get("href") for link in page.iter("link") if link.get("rel") == "canonical") == url


def test_front_page_structured_data(newsroom: Path) -> None:
    data = extruct.extract((newsroom / "index.html").read_text(), syntaxes=["json-ld"], uniform=True)["json-ld"]
    assert {d["@type"] for d in data} == {"WebSite", "Organization"}
    website = next(d for d in data if d["@type"] == "WebSite")
    assert website["url"] == "https://example.org/news/" and website["name"] == "The Daily Fixture"


def test_without_base_url_build_still_works(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({"seeds/a.md": "---\ntitle: Story\ndate: 2024-01-01\nsection: World\n---\nx"})
    report = build_into(site, tmp_path / "out")
    assert not report.errors and "sitemap.xml" in report.warnings[0] and "base_url" in report.warnings[0]
    out = tmp_path / "out"
    assert not (out / "sitemap.xml").exists() and (out / "robots.txt").read_text() == "User-agent: *\nAllow: /\n"
    parsed = feedparser.parse((out / "feed.xml").read_bytes())
    assert not parsed.bozo and parsed.entries[0].id.startswith("urn:uuid:")
    page = (out / "world/story/index.html").read_text()
    assert 'rel="canonical"' not in page and "og:url" not in page
    article = next(d for d in extruct.extract(page, syntaxes=["json-ld"], uniform=True)["json-ld"]
                   if d["@type"] == "NewsArticle")
    assert article["url"] == "./"


def test_correction_is_visible_and_dated(newsroom: Path) -> None:
    page = lxml.etree.HTML((newsroom / "vietnam/da-nang-mo-cua-cau-moi-qua-song-han/index.html").read_bytes())
    dateline = "".join(next(p for p in page.iter("p") if p.get("class") == "dateline").itertext())
    assert "Cập nhật 2 tháng 3, 2024, 17:40" in dateline
    notice = "".join(next(a for a in page.iter("aside") if a.get("class") == "correction").itertext())
    assert "Đính chính: An earlier version misstated the bridge's length" in notice


def test_a_tag_spelled_anew_reaches_every_feed_in_a_second_build_in_one_process(
        make_site: Callable[..., Path], tmp_path: Path) -> None:
    # The first file by path spells a tag for the whole site; `sitegen serve` builds again in one process.
    story = "---\ntitle: {title}\ndate: 2024-01-0{day}\nsection: World\ntags: [{tag}]\n---\nText.\n"
    site = make_site({"seeds/a.md": story.format(title="A", day=1, tag="Hanoi"),
                      "seeds/b.md": story.format(title="B", day=2, tag="Hanoi")})
    build_into(site, tmp_path / "out", workers=1)
    (site / "seeds/a.md").write_text(story.format(title="A", day=1, tag="HANOI"), encoding="utf-8")
    build_into(site, tmp_path / "out", workers=1)
    for name in ("feed.json", "world/feed.json", "tags/hanoi/feed.json"):
        items = json.loads((tmp_path / "out" / name).read_text(encoding="utf-8"))["items"]
        assert [item["tags"] for item in items] == [["World", "HANOI"]] * 2, name
