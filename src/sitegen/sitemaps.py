"""Sitemaps: sitemap.xml (split into an index past the protocol's limits), a Google News sitemap, robots.txt."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from operator import itemgetter

from sitegen.config import Config
from sitegen.model import Article
from sitegen.urls import PLAIN_PATH, Links, absolute_url, absolute_urls
from sitegen.xmlwriter import DECLARATION, XmlWriter, text

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
MAX_URLS = 50_000
MAX_BYTES = 50 * 1024 * 1024
NEWS_WINDOW = timedelta(days=2)
# The least time that separates two moments of a build's record (ISO 8601, to the microsecond).
EDGE = 1e-6
NEWS_MAX = 1000
# What one <url> costs beyond its address and date, with room for indentation.
_ENTRY_OVERHEAD = 96
_HEAD_OVERHEAD = 256

# A page in the sitemap: its URL, and its last modification as the sitemap writes it (ISO 8601).
# Text in a plain tuple: an edit that changes the sitemap pickles every entry again to fingerprint
# it. 15,000 zoned datetimes took a fifth of a second; 15,000 named tuples, 55 ms; plain ones, 12.
SitemapEntry = tuple[str, str | None]


def newest(entries: tuple[SitemapEntry, ...]) -> str | None:
    """The latest `lastmod` among the entries, as written."""
    stamps = [lastmod for _, lastmod in entries if lastmod]
    # ISO 8601 times of one length and one UTC offset (what follows the seconds and their fraction)
    # sort as text as they do in time; parsing the 140,000 of an archive's sitemap took a tenth of a
    # second of every edit that changes it.
    if len({(len(stamp), stamp[19:].lstrip(".0123456789")) for stamp in stamps}) == 1:
        return max(stamps)
    return max(stamps, key=datetime.fromisoformat, default=None)


def chunk_entries(entries: list[SitemapEntry], base_url: str,
                  max_urls: int | None = None, max_bytes: int | None = None) -> list[tuple[SitemapEntry, ...]]:
    """Split entries so no sitemap file passes the protocol's 50,000 URLs or 50 MB."""
    max_urls = max_urls or MAX_URLS
    max_bytes = max_bytes or MAX_BYTES
    # A bound on the costs added up below, without making each URL absolute: a plain path is only
    # prefixed, and quoting turns any other character into at most twelve bytes. When every run of
    # `max_urls` entries is within it, the loop below would split by count alone; an edit build sizes
    # its sitemap again. (Twelve bytes for every character was over 50 MB for 50,000 entries, and
    # sizing them one by one took an edit that moves a page 0.23 s at 100,000 articles.)
    by_count = [tuple(entries[start:start + max_urls]) for start in range(0, len(entries), max_urls)] or [()]
    if all(_bounded(chunk, base_url, max_bytes) for chunk in by_count):
        return by_count
    chunks: list[tuple[SitemapEntry, ...]] = []
    current: list[SitemapEntry] = []
    size = _HEAD_OVERHEAD
    for entry, url in zip(entries, absolute_urls((url for url, _ in entries), base_url), strict=True):
        cost = len(url.encode("utf-8")) * 2 + _ENTRY_OVERHEAD
        if current and (len(current) >= max_urls or size + cost > max_bytes):
            chunks.append(tuple(current))
            current, size = [], _HEAD_OVERHEAD
        current.append(entry)
        size += cost
    chunks.append(tuple(current))
    return chunks


def _bounded(chunk: tuple[SitemapEntry, ...], base_url: str, max_bytes: int) -> bool:
    """Whether a bound on the size of the chunk's file is within `max_bytes`."""
    each = (len(base_url) + 1) * 2 + _ENTRY_OVERHEAD
    plain = PLAIN_PATH.fullmatch
    return _HEAD_OVERHEAD + len(chunk) * each + sum(2 * len(url) if plain(url) else 24 * len(url) for url, _ in chunk) \
        <= max_bytes


def changed_chunks(chunks: list[tuple[SitemapEntry, ...]], changed: Mapping[str, str], base_url: str,
                   max_urls: int | None = None, max_bytes: int | None = None) -> dict[int, tuple[SitemapEntry, ...]] | None:
    """The chunks `chunk_entries` made that list a URL in `changed`, by number, with it changed in place;
    None unless `chunk_entries` of all the entries so changed would split them where they were split.

    So it would when every chunk but the last is full (the entries were split by count, and so each
    file is within the limit) and each changed chunk still is: no longer than it was, or within the
    bound. Every other chunk costs what it did. An edit that moves a story so changes one file of
    an archive's sitemap, without sizing its 140,000 entries again.
    """
    max_urls = max_urls or MAX_URLS
    if any(len(chunk) != max_urls for chunk in chunks[:-1]):
        return None
    return changed_in(dict(enumerate(chunks)), changed, base_url, max_bytes)


def changed_in(chunks: Mapping[int, tuple[SitemapEntry, ...]], changed: Mapping[str, str], base_url: str,
               max_bytes: int | None = None) -> dict[int, tuple[SitemapEntry, ...]] | None:
    """`changed_chunks` of a sitemap split by count, given the chunks (by number) that may list a URL in `changed`."""
    max_bytes = max_bytes or MAX_BYTES
    found: dict[int, tuple[SitemapEntry, ...]] = {}
    for number, chunk in chunks.items():
        # Where each changed URL is, found in C: a loop over a file's 50,000 entries in Python took 50 ms.
        at = dict(zip(map(itemgetter(0), chunk), range(len(chunk)), strict=True))
        places = sorted(at[url] for url in changed if url in at)
        if not places:
            continue
        entries = list(chunk)
        for place in places:
            url, lastmod = entries[place]
            entries[place] = (changed[url], lastmod)
        found[number] = tuple(entries)
        grown = sum(_url_bytes(changed[chunk[place][0]], base_url) - _url_bytes(chunk[place][0], base_url)
                    for place in places)
        if grown > 0 and not _bounded(found[number], base_url, max_bytes):
            return None
    return found


def _url_bytes(url: str, base_url: str) -> int:
    return len(absolute_url(url, base_url).encode("utf-8"))


def urlset(entries: tuple[SitemapEntry, ...], config: Config) -> str:
    """One sitemap file listing `entries` with their last modification."""
    # One string per URL, not XmlWriter's one per tag: a file of 50,000 URLs made 200,000 of them.
    # Quoting and escaping each of 15,000 URLs took 50 ms of every edit that moves a page; the
    # slugs that nearly every site path is made of need neither (`absolute_urls`).
    locations = absolute_urls((url for url, _ in entries), config.base_url, text)
    lines = [f'{DECLARATION}<urlset xmlns="{SITEMAP_NS}">\n']
    for (_, lastmod), loc in zip(entries, locations, strict=True):
        when = f"    <lastmod>{lastmod}</lastmod>\n" if lastmod else ""
        lines.append(f"  <url>\n    <loc>{loc}</loc>\n{when}  </url>\n")
    lines.append("</urlset>\n")
    return "".join(lines)


def sitemap_index(parts: tuple[tuple[str, str | None], ...], config: Config) -> str:
    """A sitemap index pointing at each part file."""
    xml = XmlWriter()
    xml.open("sitemapindex", {"xmlns": SITEMAP_NS})
    for url, lastmod in parts:
        xml.open("sitemap")
        xml.leaf("loc", absolute_url(url, config.base_url))
        if lastmod:
            xml.leaf("lastmod", lastmod)
        xml.close("sitemap")
    xml.close("sitemapindex")
    return DECLARATION + xml.getvalue()


def news_articles(articles: tuple[Article, ...], now: datetime) -> tuple[Article, ...]:
    """Articles published in the two days up to `now`, newest first, at most 1,000."""
    recent = [a for a in articles if a.published and now - NEWS_WINDOW <= a.published <= now]
    return tuple(recent[:NEWS_MAX])


def next_change(now: float, upcoming: Iterable[float], shown: Iterable[float]) -> float | None:
    """The first moment after `now` the same inputs give another site: an embargo lifts (`upcoming`:
    every article's publication time) or a story leaves the news window (`shown`: the site's)."""
    window = NEWS_WINDOW.total_seconds()
    # The window holds its first moment: a story published exactly two days before `now` is still in it,
    # and gone the least moment after, which the record of the last build tells apart (a microsecond).
    leaving = [t + window for t in shown if t <= now <= t + window]
    moments = [t for t in upcoming if t > now] + [m if m > now else now + EDGE for m in leaving]
    return min(moments, default=None)


def news_language(tag: str) -> str:
    """Google News wants an ISO 639 code, except zh-cn and zh-tw."""
    lowered = tag.lower().replace("_", "-")
    return lowered if lowered in ("zh-cn", "zh-tw") else lowered.split("-")[0]


def news_sitemap(articles: tuple[Article, ...], config: Config, links: Links) -> str:
    """A Google News sitemap: publication name and language, date and title for each article."""
    xml = XmlWriter()
    xml.open("urlset", {"xmlns": SITEMAP_NS, "xmlns:news": NEWS_NS})
    for article in articles:
        assert article.published is not None
        xml.open("url")
        xml.leaf("loc", absolute_url(links.article(article), config.base_url))
        xml.open("news:news")
        xml.open("news:publication")
        xml.leaf("news:name", config.publisher_name)
        xml.leaf("news:language", news_language(article.language))
        xml.close("news:publication")
        xml.leaf("news:publication_date", article.published.isoformat())
        xml.leaf("news:title", article.headline)
        xml.close("news:news")
        xml.close("url")
    xml.close("urlset")
    return DECLARATION + xml.getvalue()


def robots(sitemap_urls: tuple[str, ...], config: Config) -> str:
    """robots.txt allowing everything and naming the sitemaps."""
    lines = ["User-agent: *", "Allow: /"]
    lines += [f"Sitemap: {absolute_url(url, config.base_url)}" for url in sitemap_urls]
    return "\n".join(lines) + "\n"
