"""Feeds: Atom 1.0, RSS 2.0 and JSON Feed 1.1 for the site and for every section, tag and author."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime

from sitegen.config import Config
from sitegen.model import Article
from sitegen.sanitize import clean_text
from sitegen.urls import Links, absolute_url

ATOM = "http://www.w3.org/2005/Atom"
NAMESPACES = {
    "atom": ATOM,
    "dc": "http://purl.org/dc/elements/1.1/",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "media": "http://search.yahoo.com/mrss/",
}
FORMATS = {"atom": "feed.xml", "rss": "rss.xml", "json": "feed.json"}
MEDIA_TYPES = {"atom": "application/atom+xml", "rss": "application/rss+xml", "json": "application/feed+json"}
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ID_NAMESPACE = uuid.UUID("6f1c2f5e-0b7a-4d55-9a39-2f1f5f1c9e11")


@dataclass(frozen=True)
class Feed:
    """One feed's subject: what it is called, the page it mirrors, and its newest entries."""

    title: str
    description: str
    page: str
    prefix: str
    entries: tuple[Article, ...]

    def url(self, kind: str) -> str:
        return self.prefix + FORMATS[kind]


@dataclass(frozen=True)
class FeedEntry:
    """What every format needs from an article, with URLs already made absolute."""

    article: Article
    url: str
    id: str
    author_urls: tuple[str, ...]
    content_html: str
    image: str | None


def feed_entries(articles: tuple[Article, ...], limit: int) -> tuple[Article, ...]:
    """The newest `limit` dated articles (an entry without a date has no place in a feed)."""
    return tuple(a for a in articles if a.published is not None)[:limit]


def _id(url: str, key: str, config: Config) -> str:
    # An id must be an absolute IRI; without a base URL a stable name-based UUID stands in.
    return url if config.base_url else f"urn:uuid:{uuid.uuid5(_ID_NAMESPACE, key)}"


def _entry(article: Article, config: Config, links: Links) -> FeedEntry:
    url = absolute_url(links.article(article), config.base_url)
    lead = article.lead_figure
    return FeedEntry(
        article=article,
        url=url,
        id=_id(url, "article:" + article.slug, config),
        author_urls=tuple(absolute_url(links.author(a), config.base_url) for a in article.authors),
        content_html=clean_text(str(article.body_html)) if config.feeds.content == "full" else "",
        image=absolute_url(lead.src, config.base_url) if lead and lead.src else None,
    )


def _latest(feed: Feed) -> datetime:
    return max((a.modified for a in feed.entries if a.modified), default=EPOCH)


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat()


def xml_document(root: ET.Element) -> str:
    """An indented XML document with its declaration; the serializer escapes all text."""
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k.rstrip("_"): v for k, v in attributes.items()})
    if text is not None:
        element.text = clean_text(text)
    return element


def atom(feed: Feed, config: Config, links: Links) -> str:
    """An Atom 1.0 (RFC 4287) document; text is escaped by the serializer, never put in CDATA."""
    # Atom as the default namespace, written as a plain attribute: ElementTree would prefix every tag.
    root = ET.Element("feed", {"xmlns": ATOM, "xml:lang": config.language})
    a = ""
    _sub(root, a + "title", feed.title)
    if feed.description:
        _sub(root, a + "subtitle", feed.description)
    self_url = absolute_url(feed.url("atom"), config.base_url)
    _sub(root, a + "link", rel="self", type=MEDIA_TYPES["atom"], href=self_url)
    _sub(root, a + "link", rel="alternate", type="text/html", href=absolute_url(feed.page, config.base_url))
    _sub(root, a + "id", _id(self_url, "feed:" + feed.prefix, config))
    _sub(root, a + "updated", _rfc3339(_latest(feed)))
    _sub(root, a + "generator", "sitegen")
    for article in feed.entries:
        entry = _entry(article, config, links)
        element = _sub(root, a + "entry")
        _sub(element, a + "title", article.headline)
        _sub(element, a + "link", rel="alternate", type="text/html", href=entry.url)
        _sub(element, a + "id", entry.id)
        assert article.published is not None
        _sub(element, a + "published", _rfc3339(article.published))
        _sub(element, a + "updated", _rfc3339(article.modified or article.published))
        for author, url in zip(article.authors, entry.author_urls):
            person = _sub(element, a + "author")
            _sub(person, a + "name", author.name)
            if config.base_url:
                _sub(person, a + "uri", url)
        for term in (*((article.section,) if article.section else ()), *article.tags):
            _sub(element, a + "category", term=term.slug, label=term.name)
        if article.standfirst:
            _sub(element, a + "summary", article.standfirst, type="text")
        if entry.content_html:
            _sub(element, a + "content", entry.content_html, type="html")
        if entry.image:
            _sub(element, a + "link", rel="enclosure", type=_image_type(entry.image), href=entry.image)
    return xml_document(root)


def rss(feed: Feed, config: Config, links: Links) -> str:
    """An RSS 2.0 document with dc:creator, content:encoded and media:content."""
    root = ET.Element("rss", {"version": "2.0"})
    channel = _sub(root, "channel")
    _sub(channel, "title", feed.title)
    _sub(channel, "link", absolute_url(feed.page, config.base_url))
    _sub(channel, "description", feed.description or feed.title)
    _sub(channel, "language", config.language)
    _sub(channel, "generator", "sitegen")
    _sub(channel, "lastBuildDate", format_datetime(_latest(feed)))
    _sub(channel, f"{{{ATOM}}}link", rel="self", type=MEDIA_TYPES["rss"],
         href=absolute_url(feed.url("rss"), config.base_url))
    for article in feed.entries:
        entry = _entry(article, config, links)
        item = _sub(channel, "item")
        _sub(item, "title", article.headline)
        _sub(item, "link", entry.url)
        _sub(item, "guid", entry.id, isPermaLink="true" if config.base_url else "false")
        assert article.published is not None
        _sub(item, "pubDate", format_datetime(article.published))
        for author in article.authors:
            _sub(item, f"{{{NAMESPACES['dc']}}}creator", author.name)
        for term in (*((article.section,) if article.section else ()), *article.tags):
            _sub(item, "category", term.name)
        _sub(item, "description", article.standfirst or article.headline)
        if entry.content_html:
            _sub(item, f"{{{NAMESPACES['content']}}}encoded", entry.content_html)
        if entry.image:
            _sub(item, f"{{{NAMESPACES['media']}}}content", url=entry.image, medium="image",
                 type=_image_type(entry.image))
    return xml_document(root)


def json_feed(feed: Feed, config: Config, links: Links) -> str:
    """A JSON Feed 1.1 document."""
    items = []
    for article in feed.entries:
        entry = _entry(article, config, links)
        assert article.published is not None
        item: dict[str, object] = {"id": entry.id, "url": entry.url, "title": article.headline}
        if entry.content_html:
            item["content_html"] = entry.content_html
        else:
            item["content_text"] = article.standfirst or article.headline
        if article.standfirst:
            item["summary"] = article.standfirst
        if entry.image:
            item["image"] = entry.image
        item["date_published"] = _rfc3339(article.published)
        if article.is_updated and article.updated:
            item["date_modified"] = _rfc3339(article.updated)
        if article.authors:
            item["authors"] = [{"name": a.name, "url": u} for a, u in zip(article.authors, entry.author_urls)]
        tags = [t.name for t in (*((article.section,) if article.section else ()), *article.tags)]
        if tags:
            item["tags"] = tags
        item["language"] = article.language
        items.append(item)
    document: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed.title,
        "home_page_url": absolute_url(feed.page, config.base_url),
        "feed_url": absolute_url(feed.url("json"), config.base_url),
        "language": config.language,
        "items": items,
    }
    if feed.description:
        document["description"] = feed.description
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _image_type(url: str) -> str:
    lowered = url.lower().split("?")[0]
    for suffix, kind in ((".png", "image/png"), (".webp", "image/webp"), (".gif", "image/gif"),
                         (".avif", "image/avif"), (".svg", "image/svg+xml")):
        if lowered.endswith(suffix):
            return kind
    return "image/jpeg"


for _prefix, _uri in NAMESPACES.items():
    ET.register_namespace(_prefix, _uri)
RENDERERS = {"atom": atom, "rss": rss, "json": json_feed}
