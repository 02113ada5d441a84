"""The content model: frozen articles and the site that owns them and their indexes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from markupsafe import Markup

RTL_LANGUAGES = frozenset({"ar", "arc", "ckb", "dv", "fa", "ha", "he", "khw", "ks", "ps", "sd", "ug", "ur", "yi"})


def text_direction(language: str) -> str:
    """'rtl' for right-to-left scripts, else 'ltr', from a BCP 47 tag."""
    primary = language.replace("_", "-").split("-")[0].lower()
    return "rtl" if primary in RTL_LANGUAGES else "ltr"


def _set_state(self: object, state: dict[str, Any]) -> None:
    """Unpickle through __init__, which sets fields in order, so instances share one key table.

    Filling __dict__ directly is a little faster but gives every instance its own keys: about
    a kilobyte more for each of an archive's 100,000 articles.
    """
    type(self).__init__(self, **state)  # type: ignore[misc]


@dataclass(frozen=True)
class Variant:
    """One file made from a local photo or file: its site path, pixel size (0 when none), type and byte length."""

    url: str
    width: int
    height: int
    media_type: str
    length: int

    __setstate__ = _set_state


# Formats browsers may lack, offered in <source> elements before the fallback every browser shows.
MODERN_TYPES = ("image/avif", "image/webp")


@dataclass(frozen=True)
class Image:
    """A local photo as published: its variants in every width and format, narrowest first in each format."""

    width: int
    height: int
    variants: tuple[Variant, ...]

    __setstate__ = _set_state

    def of_type(self, media_type: str) -> tuple[Variant, ...]:
        return tuple(v for v in self.variants if v.media_type == media_type)

    @property
    def fallback(self) -> tuple[Variant, ...]:
        """The variants every browser and social network can show (JPEG, PNG; GIF or SVG when copied as is)."""
        return tuple(v for v in self.variants if v.media_type not in MODERN_TYPES)

    @property
    def modern_types(self) -> tuple[str, ...]:
        return tuple(t for t in MODERN_TYPES if any(v.media_type == t for v in self.variants))

    @property
    def default(self) -> Variant:
        """The fallback `src`: the widest no wider than 1200 px, else the narrowest."""
        fallback = self.fallback
        fitting = [v for v in fallback if v.width <= 1200]
        return fitting[-1] if fitting else fallback[0]

    @property
    def social(self) -> Variant:
        """For og:image and JSON-LD: the narrowest fallback at least 1200 px wide, else the widest."""
        fallback = self.fallback
        return next((v for v in fallback if v.width >= 1200), fallback[-1])

    @property
    def thumbnail(self) -> Variant:
        """For cards in listings: the narrowest fallback."""
        return self.fallback[0]


@dataclass(frozen=True)
class Figure:
    """An image with its caption and credit; `src` is None when the source was lost.

    A local photo has `image`, its published variants, and `src` is its default variant's site path.
    """

    src: str | None
    alt: str
    caption: str
    credit: str | None
    width: int | None = None
    height: int | None = None
    image: Image | None = None

    __setstate__ = _set_state


@dataclass(frozen=True)
class Term:
    """A section, tag or author: a display name and the slug its pages live under."""

    name: str
    slug: str

    def __reduce__(self) -> tuple[Any, ...]:
        # Unpickled terms are shared: 100,000 cached articles name only a few hundred of them.
        return (_shared_term, (self.name, self.slug))


@lru_cache(maxsize=65536)
def _shared_term(name: str, slug: str) -> Term:
    return Term(name, slug)


# An article's section, tags and authors.
Terms = tuple[Term | None, tuple[Term, ...], tuple[Term, ...]]


class Sections(tuple[Term, ...]):
    """The site's sections in the order its navigation shows them: one value, which every page holds.

    A type of its own so that the cache can store it once for all of a build's pages (see `cache.Fingerprinter`).
    """

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        return (Sections, (tuple(self),))


@dataclass(frozen=True)
class Body:
    """An article's text, kept apart from its metadata so that an archive's bodies need not stay in memory."""

    html: Markup
    word_count: int


@dataclass(frozen=True)
class BodyLink:
    """A link in a body to a page of this site, kept so the build can check it and point it at the page's URL.

    `target` is the source file of an article (`source`) or a path, site-rooted or relative to the
    article's page; `suffix` is the query and fragment as written.
    """

    target: str
    source: bool
    suffix: str
    line: int
    written: str

    __setstate__ = _set_state

    @property
    def fragment(self) -> str:
        """The fragment without '#', percent-decoded ('' when there is none)."""
        return unquote(self.suffix.partition("#")[2])


@dataclass(frozen=True)
class Article:
    """Everything about an article but its body: what listings, feeds and planning work from."""

    source_path: Path
    slug: str
    headline: str
    standfirst: str
    figures: tuple[Figure, ...] = ()
    published: datetime | None = None
    updated: datetime | None = None
    authors: tuple[Term, ...] = ()
    section: Term | None = None
    tags: tuple[Term, ...] = ()
    language: str = "en"
    draft: bool = False
    source: str | None = None
    corrections: tuple[str, ...] = ()
    # A hash of the source bytes, sidecar, load settings and local files used: the article's identity for caching.
    digest: str = ""
    # The local files (photos, documents) the article uses, as absolute paths: an input like its own file.
    assets: tuple[str, ...] = ()
    # The published files (names under /media/) its pages show or link to.
    media: tuple[str, ...] = ()
    # A stable name given in its metadata (`id:`), for a story whose file may be renamed or moved.
    story_id: str | None = None
    # Site paths it was published at elsewhere (`aliases:`, say a WordPress import), redirected to it.
    aliases: tuple[str, ...] = ()
    # Links in its body to other pages of the site, and the ids its body gives elements (link targets).
    links: tuple[BodyLink, ...] = ()
    anchors: frozenset[str] = frozenset()
    # Its own section, tags and authors, when the site files it under other spellings (see `file_under`):
    # a stored page then names its terms, which it otherwise takes from the article as its file has them.
    spelled_as: Terms | None = None

    __setstate__ = _set_state

    @property
    def direction(self) -> str:
        return text_direction(self.language)

    @property
    def lead_figure(self) -> Figure | None:
        # A loop, not next() over a generator: every card asks, twice (5% of rendering in a profile).
        for figure in self.figures:
            if figure.src:
                return figure
        return None

    @property
    def modified(self) -> datetime | None:
        """The later of published and updated: what feeds and sitemaps call last modified."""
        if self.updated and (self.published is None or self.updated > self.published):
            return self.updated
        return self.published

    @property
    def is_updated(self) -> bool:
        return bool(self.updated and self.published and self.updated > self.published)


@dataclass(frozen=True)
class Selection:
    """Which articles a build publishes: drafts and embargoed (future-dated) ones only when asked for."""

    drafts: bool
    future: bool
    now: datetime

    def keeps(self, draft: bool, published: float | None) -> bool:
        """Whether an article with this draft state and publication time (a timestamp) is published."""
        return (self.drafts or not draft) and (self.future or published is None or published <= self.now.timestamp())

    def keeps_article(self, article: Article) -> bool:
        return self.keeps(article.draft, article.published.timestamp() if article.published else None)


def publication_order_key(article: Article) -> tuple[int, float, str, str]:
    """The site's order: see `order_key`."""
    return order_key(article.published.timestamp() if article.published else None, article.slug,
                     str(article.source_path))


def order_key(published: float | None, slug: str, path: str) -> tuple[int, float, str, str]:
    """Newest first (`published` a timestamp); undated after every dated article; ties broken by slug, then path."""
    if published is None:
        return (1, 0.0, slug, path)
    return (0, -published, slug, path)


@dataclass(frozen=True)
class Site:
    """Owns every published article, in publication order, and the indexes built from them."""

    articles: tuple[Article, ...]
    sections: dict[Term, tuple[Article, ...]] = field(default_factory=dict)
    tags: dict[Term, tuple[Article, ...]] = field(default_factory=dict)
    authors: dict[Term, tuple[Article, ...]] = field(default_factory=dict)
    archives: dict[tuple[int, int] | None, tuple[Article, ...]] = field(default_factory=dict)


def _group(articles: tuple[Article, ...], keys: object) -> dict[Term, tuple[Article, ...]]:
    groups: dict[Term, list[Article]] = {}
    for article in articles:
        for term in keys(article):  # type: ignore[operator]
            groups.setdefault(term, []).append(article)
    return {term: tuple(items) for term, items in sorted(groups.items(), key=lambda kv: kv[0].slug)}


def term_keys(article: Article) -> Iterator[tuple[str, Term]]:
    """Every (kind, term) the article names, section first, as its file spells them."""
    if article.section:
        yield "section", article.section
    for term in article.tags:
        yield "tag", term
    for term in article.authors:
        yield "author", term


def _canonical_terms(articles: list[Article]) -> list[Article]:
    """One name per slug: 'Đà Nẵng' and 'Da Nang' share a page, named as the first file spells it."""
    names: dict[tuple[str, str], Term] = {}
    for article in sorted(articles, key=lambda a: str(a.source_path)):
        for kind, term in term_keys(article):
            names.setdefault((kind, term.slug), term)
    return [file_under(a, names) for a in articles]


def file_under(article: Article, names: Mapping[tuple[str, str], Term]) -> Article:
    """The article with each term named as `names` has its (kind, slug)."""
    tags = tuple(dict.fromkeys(names["tag", t.slug] for t in article.tags))
    authors = tuple(dict.fromkeys(names["author", t.slug] for t in article.authors))
    section = names["section", article.section.slug] if article.section else None
    # Keep the very object when nothing changes: rebuilds compare contexts, and identity is fastest.
    if tags == article.tags and authors == article.authors and section == article.section:
        return article
    return filed_as(article, (section, tags, authors))


def filed_as(article: Article, terms: Terms) -> Article:
    """The article filed under `terms`, remembering its own spelling (None when they are its own)."""
    if terms == (article.section, article.tags, article.authors):
        return article
    own = article.spelled_as or (article.section, article.tags, article.authors)
    return replace(article, section=terms[0], tags=terms[1], authors=terms[2], spelled_as=None if terms == own else own)


def build_site(articles: list[Article], tz: tzinfo, section_order: tuple[str, ...] = ()) -> Site:
    """Order articles and index them by section, tag, author and month (in the site's time zone)."""
    ordered = tuple(sorted(_canonical_terms(articles), key=publication_order_key))
    sections = _group(ordered, lambda a: (a.section,) if a.section else ())
    rank = {slug: i for i, slug in enumerate(section_order)}
    sections = dict(sorted(sections.items(), key=lambda kv: (rank.get(kv[0].slug, len(rank)), kv[0].slug)))
    archives: dict[tuple[int, int] | None, list[Article]] = {}
    for article in ordered:
        local = article.published.astimezone(tz) if article.published else None
        month = (local.year, local.month) if local else None
        archives.setdefault(month, []).append(article)
    return Site(
        articles=ordered,
        sections=sections,
        tags=_group(ordered, lambda a: a.tags),
        authors=_group(ordered, lambda a: a.authors),
        archives={k: tuple(v) for k, v in archives.items()},
    )
