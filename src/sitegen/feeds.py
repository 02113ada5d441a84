"""Feeds: Atom 1.0, RSS 2.0 and JSON Feed 1.1 for the site and for every section, tag and author."""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from functools import lru_cache

from sitegen.bodies import BodyLookup
from sitegen.config import Config
from sitegen.model import Article, Term
from sitegen.sanitize import clean_text
from sitegen.urls import Links, absolute_url
from sitegen.xmlwriter import DECLARATION, XmlWriter

ATOM = "http://www.w3.org/2005/Atom"
RSS_NAMESPACES = {
    "xmlns:atom": ATOM,
    "xmlns:dc": "http://purl.org/dc/elements/1.1/",
    "xmlns:content": "http://purl.org/rss/1.0/modules/content/",
    "xmlns:media": "http://search.yahoo.com/mrss/",
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

    url: str
    id: str
    author_urls: tuple[str, ...]
    categories: tuple[Term, ...]
    content_html: str
    image: str | None
    # The lead photo's type, and its byte length and size when it is a published local photo.
    image_type: str = "image/jpeg"
    image_length: int | None = None
    image_size: tuple[int, int] | None = None


def feed_title(config: Config, term: Term | None) -> str:
    """The site's feed is named after the site; a section's, tag's or author's after both."""
    return config.title if term is None else f"{config.title}: {term.name}"


def alternates(config: Config, prefix: str, term: Term | None) -> tuple[tuple[str, str, str], ...]:
    """(title, media type, URL) of the three feeds at `prefix`, for <link rel="alternate">."""
    names = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}
    title = feed_title(config, term)
    return tuple((f"{title} ({names[kind]})", MEDIA_TYPES[kind], prefix + FORMATS[kind]) for kind in FORMATS)


def feed_entries(articles: tuple[Article, ...], limit: int) -> tuple[Article, ...]:
    """The newest `limit` dated articles (an entry without a date has no place in a feed)."""
    return tuple(a for a in articles if a.published is not None)[:limit]


def _id(url: str, key: str, config: Config) -> str:
    # An id must be an absolute IRI; without a base URL a stable name-based UUID stands in.
    return url if config.base_url else f"urn:uuid:{uuid.uuid5(_ID_NAMESPACE, key)}"


def _content(article: Article, config: Config, bodies: BodyLookup) -> str:
    """The article's body for feeds that carry it in full; looked up here so the page notes its use."""
    return _clean_body(bodies(article).html) if config.feeds.content == "full" else ""


@lru_cache(maxsize=256)
def _clean_body(html: str) -> str:
    return clean_text(str(html))


def _entry_id(article: Article, url: str, config: Config, links: Links) -> str:
    """An entry's id never changes: an article that moved keeps the id of the URL it was first published at."""
    first = links.first(article)
    if first == links.article(article):
        return _id(url, "article:" + article.slug, config)
    return _id(absolute_url(first, config.base_url), "article-at:" + first, config)


def _entry(article: Article, content_html: str, config: Config, links: Links) -> FeedEntry:
    """An article's feed fields, with URLs made absolute."""
    url = absolute_url(links.article(article), config.base_url)
    lead = article.lead_figure
    variant = lead.image.social if lead and lead.image else None
    image = absolute_url(variant.url if variant else lead.src, config.base_url) if lead and lead.src else None
    return FeedEntry(
        url=url,
        id=_entry_id(article, url, config, links),
        author_urls=tuple(absolute_url(links.author(a), config.base_url) for a in article.authors),
        categories=(*((article.section,) if article.section else ()), *article.tags),
        content_html=content_html,
        image=image,
        image_type=variant.media_type if variant else image_type(image or ""),
        image_length=variant.length if variant else None,
        image_size=(variant.width, variant.height) if variant and variant.width else None,
    )


def _latest(feed: Feed) -> datetime:
    return max((a.modified for a in feed.entries if a.modified), default=EPOCH)


def image_type(url: str) -> str:
    lowered = url.lower().split("?")[0]
    for suffix, kind in ((".png", "image/png"), (".webp", "image/webp"), (".gif", "image/gif"),
                         (".avif", "image/avif"), (".svg", "image/svg+xml")):
        if lowered.endswith(suffix):
            return kind
    return "image/jpeg"


def _atom_entry(article: Article, content_html: str, config: Config, links: Links) -> str:
    entry = _entry(article, content_html, config, links)
    assert article.published is not None
    xml = XmlWriter(depth=1)
    xml.open("entry")
    xml.leaf("title", article.headline)
    xml.leaf("link", None, {"rel": "alternate", "type": "text/html", "href": entry.url})
    xml.leaf("id", entry.id)
    xml.leaf("published", article.published.isoformat())
    xml.leaf("updated", (article.modified or article.published).isoformat())
    for author, url in zip(article.authors, entry.author_urls, strict=True):
        xml.open("author")
        xml.leaf("name", author.name)
        if config.base_url:
            xml.leaf("uri", url)
        xml.close("author")
    for term in entry.categories:
        xml.leaf("category", None, {"term": term.slug, "label": term.name})
    if article.standfirst:
        xml.leaf("summary", article.standfirst, {"type": "text"})
    if entry.content_html:
        xml.leaf("content", entry.content_html, {"type": "html"})
    if entry.image:
        enclosure = {"rel": "enclosure", "type": entry.image_type, "href": entry.image}
        if entry.image_length is not None:
            enclosure["length"] = str(entry.image_length)
        xml.leaf("link", None, enclosure)
    xml.close("entry")
    return xml.getvalue()


def atom(feed: Feed, config: Config, entries: FeedEntries) -> str:
    """An Atom 1.0 (RFC 4287) document."""
    xml = XmlWriter()
    xml.open("feed", {"xmlns": ATOM, "xml:lang": config.language})
    xml.leaf("title", feed.title)
    if feed.description:
        xml.leaf("subtitle", feed.description)
    self_url = absolute_url(feed.url("atom"), config.base_url)
    xml.leaf("link", None, {"rel": "self", "type": MEDIA_TYPES["atom"], "href": self_url})
    xml.leaf("link", None, {"rel": "alternate", "type": "text/html", "href": absolute_url(feed.page, config.base_url)})
    xml.leaf("id", _id(self_url, "feed:" + feed.prefix, config))
    xml.leaf("updated", _latest(feed).isoformat())
    xml.leaf("generator", "sitegen")
    for article in feed.entries:
        xml.raw(entries.get("atom", article))
    xml.close("feed")
    return DECLARATION + xml.getvalue()


def _rss_item(article: Article, content_html: str, config: Config, links: Links) -> str:
    entry = _entry(article, content_html, config, links)
    assert article.published is not None
    xml = XmlWriter(depth=2)
    xml.open("item")
    xml.leaf("title", article.headline)
    xml.leaf("link", entry.url)
    xml.leaf("guid", entry.id, {"isPermaLink": "true" if config.base_url else "false"})
    xml.leaf("pubDate", format_datetime(article.published))
    for author in article.authors:
        xml.leaf("dc:creator", author.name)
    for term in entry.categories:
        xml.leaf("category", term.name)
    xml.leaf("description", article.standfirst or article.headline)
    if entry.content_html:
        xml.leaf("content:encoded", entry.content_html)
    if entry.image:
        media = {"url": entry.image, "medium": "image", "type": entry.image_type}
        if entry.image_length is not None:
            # RSS's own enclosure needs the length, which only a published local photo has.
            xml.leaf("enclosure", None, {"url": entry.image, "length": str(entry.image_length), "type": entry.image_type})
            media["fileSize"] = str(entry.image_length)
        if entry.image_size:
            media.update(width=str(entry.image_size[0]), height=str(entry.image_size[1]))
        xml.leaf("media:content", None, media)
    xml.close("item")
    return xml.getvalue()


def rss(feed: Feed, config: Config, entries: FeedEntries) -> str:
    """An RSS 2.0 document with dc:creator, content:encoded and media:content."""
    xml = XmlWriter()
    xml.open("rss", {"version": "2.0", **RSS_NAMESPACES})
    xml.open("channel")
    xml.leaf("title", feed.title)
    xml.leaf("link", absolute_url(feed.page, config.base_url))
    xml.leaf("description", feed.description or feed.title)
    xml.leaf("language", config.language)
    xml.leaf("generator", "sitegen")
    xml.leaf("lastBuildDate", format_datetime(_latest(feed)))
    xml.leaf("atom:link", None, {"rel": "self", "type": MEDIA_TYPES["rss"],
                                 "href": absolute_url(feed.url("rss"), config.base_url)})
    for article in feed.entries:
        xml.raw(entries.get("rss", article))
    xml.close("channel")
    xml.close("rss")
    return DECLARATION + xml.getvalue()


def _json_item(article: Article, content_html: str, config: Config, links: Links) -> dict[str, object]:
    entry = _entry(article, content_html, config, links)
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
    item["date_published"] = article.published.isoformat()
    if article.is_updated and article.updated:
        item["date_modified"] = article.updated.isoformat()
    if article.authors:
        item["authors"] = [{"name": a.name, "url": u} for a, u in zip(article.authors, entry.author_urls, strict=True)]
    if entry.categories:
        item["tags"] = [t.name for t in entry.categories]
    item["language"] = article.language
    return item


def _json_entry(article: Article, content_html: str, config: Config, links: Links) -> str:
    """An item as it stands in the feed's "items" list, two levels in."""
    # JSON escapes newlines inside strings, so every newline here is indentation.
    item = json.dumps(_json_item(article, content_html, config, links), ensure_ascii=False, indent=2)
    return item.replace("\n", "\n    ")


def json_feed(feed: Feed, config: Config, entries: FeedEntries) -> str:
    """A JSON Feed 1.1 document, laid out exactly as `json.dumps(..., indent=2)` would."""
    document: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed.title,
        "home_page_url": absolute_url(feed.page, config.base_url),
        "feed_url": absolute_url(feed.url("json"), config.base_url),
        "language": config.language,
    }
    if feed.description:
        document["description"] = feed.description
    head = json.dumps(document, ensure_ascii=False, indent=2)
    items = ",\n    ".join(entries.get("json", article) for article in feed.entries)
    return head[:-2] + (f',\n  "items": [\n    {items}\n  ]' if items else ',\n  "items": []') + "\n}\n"


class FeedEntries:
    """Each article's entry in each format, written once and reused by every feed that carries it.

    An article sits in the site's feed and in its section's, tags' and author's feeds, alike in
    each; an entry depends only on the article and the site's config. Its digest says which
    article, but not how the site spells its terms (the first file by path does), which can change
    between two builds in one process, such as `sitegen serve`'s: the filed terms are in the key.
    """

    def __init__(self, config: Config, links: Links, bodies: BodyLookup, size: int = 4096) -> None:
        self.config, self.links, self.bodies, self.size = config, links, bodies, size
        self._written: OrderedDict[tuple[object, ...], str] = OrderedDict()

    def get(self, kind: str, article: Article) -> str:
        key = (kind, article.digest, article.section, article.tags, article.authors)
        found = self._written.get(key)
        if found is None:
            found = _WRITERS[kind](article, _content(article, self.config, self.bodies), self.config, self.links)
            self._written[key] = found
            if len(self._written) > self.size:
                self._written.popitem(last=False)
        else:
            self._written.move_to_end(key)
            if self.config.feeds.content == "full":
                # The page shows the body as surely as if it had been looked up again.
                self.bodies.note(article)
        return found


_WRITERS: dict[str, Callable[[Article, str, Config, Links], str]] = {
    "atom": _atom_entry, "rss": _rss_item, "json": _json_entry}
RENDERERS = {"atom": atom, "rss": rss, "json": json_feed}
