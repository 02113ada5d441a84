"""Sitemaps: sitemap.xml (split into an index past the protocol's limits), a Google News sitemap, robots.txt."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta

from sitegen.config import Config
from sitegen.feeds import xml_document
from sitegen.model import Article
from sitegen.sanitize import clean_text
from sitegen.urls import Links, absolute_url

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
MAX_URLS = 50_000
MAX_BYTES = 50 * 1024 * 1024
NEWS_WINDOW = timedelta(days=2)
NEWS_MAX = 1000
# What one <url> costs beyond its address and date, with room for indentation.
_ENTRY_OVERHEAD = 96
_HEAD_OVERHEAD = 256

ET.register_namespace("news", NEWS_NS)


@dataclass(frozen=True)
class SitemapEntry:
    url: str
    lastmod: datetime | None


def chunk_entries(entries: list[SitemapEntry], base_url: str,
                  max_urls: int | None = None, max_bytes: int | None = None) -> list[tuple[SitemapEntry, ...]]:
    """Split entries so no sitemap file passes the protocol's 50,000 URLs or 50 MB."""
    max_urls = max_urls or MAX_URLS
    max_bytes = max_bytes or MAX_BYTES
    chunks: list[tuple[SitemapEntry, ...]] = []
    current: list[SitemapEntry] = []
    size = _HEAD_OVERHEAD
    for entry in entries:
        cost = len(absolute_url(entry.url, base_url).encode("utf-8")) * 2 + _ENTRY_OVERHEAD
        if current and (len(current) >= max_urls or size + cost > max_bytes):
            chunks.append(tuple(current))
            current, size = [], _HEAD_OVERHEAD
        current.append(entry)
        size += cost
    chunks.append(tuple(current))
    return chunks


def _lastmod(moment: datetime) -> str:
    return moment.isoformat()


def urlset(entries: tuple[SitemapEntry, ...], config: Config) -> str:
    """One sitemap file listing `entries` with their last modification."""
    root = ET.Element("urlset", {"xmlns": SITEMAP_NS})
    for entry in entries:
        element = ET.SubElement(root, "url")
        ET.SubElement(element, "loc").text = absolute_url(entry.url, config.base_url)
        if entry.lastmod:
            ET.SubElement(element, "lastmod").text = _lastmod(entry.lastmod)
    return xml_document(root)


def sitemap_index(parts: tuple[tuple[str, datetime | None], ...], config: Config) -> str:
    """A sitemap index pointing at each part file."""
    root = ET.Element("sitemapindex", {"xmlns": SITEMAP_NS})
    for url, lastmod in parts:
        element = ET.SubElement(root, "sitemap")
        ET.SubElement(element, "loc").text = absolute_url(url, config.base_url)
        if lastmod:
            ET.SubElement(element, "lastmod").text = _lastmod(lastmod)
    return xml_document(root)


def news_articles(articles: tuple[Article, ...], now: datetime) -> tuple[Article, ...]:
    """Articles published in the two days up to `now`, newest first, at most 1,000."""
    recent = [a for a in articles if a.published and now - NEWS_WINDOW <= a.published <= now]
    return tuple(recent[:NEWS_MAX])


def news_language(tag: str) -> str:
    """Google News wants an ISO 639 code, except zh-cn and zh-tw."""
    lowered = tag.lower().replace("_", "-")
    return lowered if lowered in ("zh-cn", "zh-tw") else lowered.split("-")[0]


def news_sitemap(articles: tuple[Article, ...], config: Config, links: Links) -> str:
    """A Google News sitemap: publication name and language, date and title for each article."""
    root = ET.Element("urlset", {"xmlns": SITEMAP_NS})
    for article in articles:
        assert article.published is not None
        element = ET.SubElement(root, "url")
        ET.SubElement(element, "loc").text = absolute_url(links.article(article), config.base_url)
        news = ET.SubElement(element, f"{{{NEWS_NS}}}news")
        publication = ET.SubElement(news, f"{{{NEWS_NS}}}publication")
        ET.SubElement(publication, f"{{{NEWS_NS}}}name").text = clean_text(config.publisher_name)
        ET.SubElement(publication, f"{{{NEWS_NS}}}language").text = news_language(article.language)
        ET.SubElement(news, f"{{{NEWS_NS}}}publication_date").text = article.published.isoformat()
        ET.SubElement(news, f"{{{NEWS_NS}}}title").text = clean_text(article.headline)
    return xml_document(root)


def robots(sitemap_urls: tuple[str, ...], config: Config) -> str:
    """robots.txt allowing everything and naming the sitemaps."""
    lines = ["User-agent: *", "Allow: /"]
    lines += [f"Sitemap: {absolute_url(url, config.base_url)}" for url in sitemap_urls]
    return "\n".join(lines) + "\n"
