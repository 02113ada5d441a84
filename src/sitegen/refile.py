"""The pages an edit that refiles articles reaches: new sections, tags or authors, or a new `updated`.

An edited article that keeps its publication time and slug keeps its place in the site's order,
so the front page, the archives and every listing it was not and is not in keep their pages.
What it reaches: its own page; the listing pages and feeds of every term it left, joined or kept,
where their members or page count changed or it shows; its front page and month page; the
related-story boxes within RELATED_WINDOW places of it in those terms; the tag, author and
month indexes; and the sitemap. They are planned with plan.py's own functions, from where the
cache says every article is filed (`Cache.filings`), so only the articles they show are read.
"""

from __future__ import annotations

import bisect
import pickle
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sitegen.cache import Cache, PageReader, filing_row
from sitegen.config import Config
from sitegen.errors import BuildError
from sitegen.feeds import FORMATS
from sitegen.model import Article, Selection, Term, file_under, order_key
from sitegen.plan import (
    RELATED_WINDOW,
    Page,
    archive_page,
    article_page,
    feed_pages,
    front_page,
    listing_page,
    month_context,
    news_page,
    page_count,
    related_indices,
    sitemap_entries,
    sitemap_entry,
    sitemap_pages,
    term_context,
    term_feed,
    terms_page,
)
from sitegen.sitemaps import NEWS_MAX, NEWS_WINDOW, SitemapEntry
from sitegen.urls import Links, paginated

Key = tuple[str, str]  # (kind, slug) of a section, tag or author
_READ_ERRORS = (BuildError, pickle.UnpicklingError, AttributeError, ImportError, EOFError, KeyError, TypeError)


class Filed(NamedTuple):
    """Where an article is filed: all a listing needs to place it, without the article itself.

    A tuple, made straight from the cache's rows: 100,000 of them are read for an edit.
    """

    path: str
    digest: str
    card: str
    published: float | None
    slug: str
    modified: float | None
    draft: bool
    # (kind, slug, name) of its section, tags and authors, as its file spells them.
    terms: tuple[tuple[str, str, str], ...]

    # Each term's (kind, slug) once: two spellings of a tag file the article under one.
    keys: tuple[Key, ...]

    @classmethod
    def of(cls, article: Article, card: str) -> Filed:
        return cls._make(filing_row(article, card))

    def order(self) -> tuple[int, float, str, str]:
        return order_key(self.published, self.slug, self.path)


@dataclass(frozen=True)
class Refiled:
    """The pages to plan again, by URL, and the URLs the site no longer has."""

    pages: dict[str, Page]
    removed: list[str]


@dataclass(frozen=True)
class _Listing:
    """Some pages of one paginated listing, by the site positions of its members."""

    first: str
    template: str
    context: dict[str, object]
    members: list[int]
    numbers: list[int]
    # The front page: its first member is the lead story, above the first page's list.
    front: bool = False


def refiled_pages(config: Config, files: Mapping[str, str], edits: Mapping[str, tuple[Article, Article, str]],
                  cache: Cache, selection: Selection, cards: dict[str, str]) -> Refiled | None:
    """The pages edits reach, planned as the full build would; None when the full build must plan.

    `files` maps every source path to its digest before the edits; `edits` maps a source path to
    the article before, after, and after's card key. The full build plans when an edit moves an
    article in the site's order or in or out of it, leaves it undated, changes how a term is
    spelled site-wide (by its first file by path), adds or empties a section (every page's
    navigation shows them), or gives the article a URL another page has. Notes the card key of
    every article read in `cards`, for fingerprints.
    """
    rows = {row[0]: Filed._make(row) for row in cache.filings(files)}
    after_rows = dict(rows)
    for path, (before, after, card) in edits.items():
        was = rows.get(path)
        if (was is None or was.digest != before.digest or before.published is None or after.published is None
                or before.published != after.published or before.published.utcoffset() != after.published.utcoffset()
                or before.slug != after.slug
                or not selection.keeps(before.draft, was.published) or not selection.keeps(after.draft, was.published)):
            return None
        after_rows[path] = Filed.of(after, card)
    site = sorted((f for f in after_rows.values() if selection.keeps(f.draft, f.published)), key=Filed.order)
    position = {f.path: i for i, f in enumerate(site)}
    edited = {position[path]: rows[path] for path in edits}
    old_site = [edited.get(i, f) for i, f in enumerate(site)]
    affected = {key for i in edited for key in (*edited[i].keys, *site[i].keys)}
    names, old_names = _names(site, old_site, affected)
    if any(old_names[key] != names[key] for key in affected if key in names and key in old_names):
        return None
    members = _members(site)
    old_members = {key: sorted([*(i for i in members.get(key, []) if i not in edited),
                                *(i for i in edited if key in edited[i].keys)]) for key in affected}
    if any(bool(old_members[key]) != (key in members) for key in affected if key[0] == "section"):
        return None
    return _Planner(config, cache, site, {position[path]: edit[0] for path, edit in edits.items()},
                    {position[path]: edit[1] for path, edit in edits.items()}, names, members, old_members,
                    selection.now, cards).run()


class _Planner:
    """Plans the pages an edit reaches, reading only the articles they show."""

    def __init__(self, config: Config, cache: Cache, site: list[Filed], edited: dict[int, Article],
                 current: dict[int, Article], names: dict[Key, Term], members: dict[Key, list[int]],
                 old_members: dict[Key, list[int]], now: datetime, cards: dict[str, str]) -> None:
        # Each edited article by site position, as it was (`edited`) and as it is (`current`).
        self.config, self.cache, self.site, self.edited, self.current = config, cache, site, edited, current
        self.names, self.members, self.old_members, self.now, self.cards = names, members, old_members, now, cards
        self.links = Links(config)
        self.size = config.page_size
        rank = {slug: i for i, slug in enumerate(s.url_slug for s in config.sections)}
        sections = sorted((key for key in members if key[0] == "section"), key=lambda k: (rank.get(k[1], len(rank)), k[1]))
        self.nav = tuple(names[key] for key in sections)
        self.terms = [*sections, *sorted(k for k in members if k[0] == "tag"),
                      *sorted(k for k in members if k[0] == "author")]
        self.removed: list[str] = []
        self._articles: dict[int, Article] = {}

    def run(self) -> Refiled | None:
        listings, feeds = self._listings()
        related = {i: related_indices(i, self._related_lists(i), self.config.related_count) for i in self._near()}
        newest = self._newest()
        recent = self._recent()
        needed = {*related, *(j for shown in related.values() for j in shown), *(recent or ()),
                  *(j for listing in listings for n in listing.numbers for j in self._chunk(listing, n)),
                  *(j for _, _, shown in feeds for j in shown), *([] if newest is None else [newest])}
        try:
            self._read(needed)
            archive = self._stored_page(self.links.archive)
        except _READ_ERRORS:
            return None
        pages: dict[str, Page] = {}
        for i, shown in related.items():
            page = article_page(self._articles[i], tuple(self._articles[j] for j in shown), self.links, self.nav)
            pages[page.url] = page
        for listing in listings:
            for page in self._listing_pages(listing):
                pages[page.url] = page
        for term, url, shown in feeds:
            for page in feed_pages(term_feed(self.config, term, url, tuple(self._articles[j] for j in shown))):
                pages[page.url] = page
        latest = self._articles[newest].modified if newest is not None else None
        for kind in ("tag", "author"):
            counts = tuple((self.names[key], len(self.members[key])) for key in self.terms if key[0] == kind)
            page = terms_page(self.links, kind, counts, self.nav, latest)
            pages[page.url] = page
        pages[self.links.archive] = archive_page(self.links, archive.context["months"], self.nav, latest)
        if recent is not None:
            pages["/news-sitemap.xml"] = news_page(tuple(self._articles[j] for j in recent))
        for i, before in self.edited.items():
            old = self.links.article(before)
            if old != self.links.article(self._articles[i]):
                if self.cache.stored_pages([self.links.article(self._articles[i])]):
                    return None
                self.removed.append(old)
        if self.config.base_url and not self._sitemaps(pages):
            return None
        return Refiled(pages, self.removed)

    def _listings(self) -> tuple[list[_Listing], list[tuple[Term | None, str, list[int]]]]:
        """The listing pages to plan, and the feeds: those of the terms edits touched, and where edits show."""
        listings: list[_Listing] = []
        feeds: list[tuple[Term | None, str, list[int]]] = []
        urls = {"section": self.links.section, "tag": self.links.tag, "author": self.links.author}
        for key in sorted(self.old_members):
            old, new = self.old_members[key], self.members.get(key, [])
            term = self.names.get(key) or Term("", key[1])
            url = urls[key[0]](term)
            old_total = page_count(len(old), self.size) if old else 0
            new_total = page_count(len(new), self.size) if new else 0
            self.removed += [paginated(url, n) for n in range(new_total + 1, old_total + 1)]
            if not new:
                self.removed += [url + name for name in FORMATS.values()]
                continue
            numbers = [n for n in range(1, new_total + 1)
                       if old_total != new_total or self._changed(old, new, n)]
            listings.append(_Listing(url, "list.html", term_context(key[0], term, self.nav), new, numbers))
            old_top, new_top = self._dated(old)[: self.config.feeds.limit], self._dated(new)[: self.config.feeds.limit]
            if old_top != new_top or self.edited.keys() & set(new_top):
                feeds.append((term, url, new_top))
        everyone = list(range(len(self.site)))
        front = sorted({1 if i == 0 else (i - 1) // self.size + 1 for i in self.edited})
        listings.append(_Listing(self.links.home, "index.html", {}, everyone, front, front=True))
        top = self._dated(everyone)[: self.config.feeds.limit]
        if self.edited.keys() & set(top):
            feeds.append((None, self.links.home, top))
        for i in sorted(self.edited):
            month, start, stop = self._month(i)
            listings.append(_Listing(self.links.month(month), "list.html", month_context(month, self.nav),
                                     list(range(start, stop)), [(i - start) // self.size + 1]))
        return listings, feeds

    def _changed(self, old: list[int], new: list[int], number: int) -> bool:
        """Whether page `number` shows other articles than before, or an edited one."""
        chunk = new[(number - 1) * self.size : number * self.size]
        return chunk != old[(number - 1) * self.size : number * self.size] or bool(self.edited.keys() & set(chunk))

    def _dated(self, members: list[int]) -> list[int]:
        return [i for i in members if self.site[i].published is not None]

    def _chunk(self, listing: _Listing, number: int) -> list[int]:
        if listing.front:
            # The lead story is member 0; the list starts after it.
            return ([0] if number == 1 else []) + listing.members[1 + (number - 1) * self.size : 1 + number * self.size]
        return listing.members[(number - 1) * self.size : number * self.size]

    def _listing_pages(self, listing: _Listing) -> Iterable[Page]:
        if listing.front:
            total = page_count(len(listing.members) - 1, self.size)
            for n in listing.numbers:
                chunk = tuple(self._articles[j] for j in listing.members[1 + (n - 1) * self.size : 1 + n * self.size])
                yield front_page(self.links, chunk, n, total, self._articles[0] if n == 1 else None, self.nav)
            return
        total = page_count(len(listing.members), self.size)
        for n in listing.numbers:
            chunk = tuple(self._articles[j] for j in self._chunk(listing, n))
            yield listing_page(listing.first, listing.template, chunk, n, total, listing.context)

    def _month(self, i: int) -> tuple[tuple[int, int], int, int]:
        """The month (in the site's time zone) article `i` is archived under, and the positions it spans."""
        key = self._month_of(i)
        start, stop = i, i + 1
        while start > 0 and self._month_of(start - 1) == key:
            start -= 1
        while stop < len(self.site) and self._month_of(stop) == key:
            stop += 1
        return key, start, stop  # type: ignore[return-value]

    def _month_of(self, i: int) -> tuple[int, int] | None:
        published = self.site[i].published
        if published is None:
            return None
        local = datetime.fromtimestamp(published, self.config.tz)
        return (local.year, local.month)

    def _near(self) -> set[int]:
        """Articles whose related-story box an edit may change: the edited, and those near them in their terms."""
        near = set(self.edited)
        for key in self.old_members:
            if key[0] == "author":
                continue
            for members in (self.old_members[key], self.members.get(key, [])):
                for i in self.edited:
                    local = bisect.bisect_left(members, i)
                    if local < len(members) and members[local] == i:
                        near.update(members[max(0, local - RELATED_WINDOW) : local + RELATED_WINDOW + 1])
        return near

    def _related_lists(self, i: int) -> list[tuple[list[int], int]]:
        """As `plan.related_articles` weighs them: tags twice, the section once."""
        keys = self.site[i].keys
        return ([(self.members[key], 2) for key in keys if key[0] == "tag"]
                + [(self.members[key], 1) for key in keys if key[0] == "section"])

    def _newest(self) -> int | None:
        """Where the site's most recently modified article is (the first of equals, as `max` picks)."""
        best: int | None = None
        for i, filed in enumerate(self.site):
            if filed.modified is not None and (best is None or filed.modified > self.site[best].modified):  # type: ignore[operator]
                best = i
        return best

    def _recent(self) -> list[int] | None:
        """What the news sitemap lists, when it lists an edited article; None when it need not change."""
        if not self.config.base_url:
            return None
        low, high = (self.now - NEWS_WINDOW).timestamp(), self.now.timestamp()
        recent = [i for i, f in enumerate(self.site) if f.published is not None and low <= f.published <= high][:NEWS_MAX]
        return recent if self.edited.keys() & set(recent) else None

    def _read(self, positions: Iterable[int]) -> None:
        """The articles at these site positions, as now filed; edited ones as they are now."""
        wanted = [i for i in positions if i not in self._articles]
        for i in wanted:
            if i in self.current:
                self._articles[i] = file_under(self.current[i], self.names)
        wanted = [i for i in wanted if i not in self.current]
        found = self.cache.articles(self.site[i].digest for i in wanted)
        for i in wanted:
            filed = self.site[i]
            if filed.digest not in found or found[filed.digest][1] != filed.card:
                raise BuildError(f"the cached article {filed.path} is missing or stale", filed.path, None,
                                 "delete .sitegen-cache/")
            self._articles[i] = file_under(found[filed.digest][0], self.names)
            self.cards[filed.digest] = filed.card

    def _stored_page(self, url: str) -> Page:
        data = self.cache.stored_pages([url]).get(url, ("", None))[1]
        if data is None:
            raise BuildError(f"the cached page {url} is missing", None, None, "delete .sitegen-cache/")
        page: Page = _READER.load(data)
        return page

    def _sitemaps(self, pages: dict[str, Page]) -> bool:
        """Plan the sitemap anew into `pages`; False when the stored one is not as this expects."""
        try:
            stored = stored_sitemap(self.cache)
        except _READ_ERRORS:
            return False
        if stored is None:
            return False
        entries, parts = stored
        count = len(self.site)
        if len(entries) <= count or entries[count][0] != self.links.home:
            return False
        lastmods = dict(entries)
        for url, page in pages.items():
            if page.template in ("article.html", "list.html", "index.html", "terms.html", "archive.html"):
                lastmods[url] = sitemap_entry(page)[1]
        urls = [url for url, _ in entries[:count]]
        for i, before in self.edited.items():
            if urls[i] != self.links.article(before):
                return False
            urls[i] = self.links.article(self._articles[i])
        urls += [paginated(self.links.home, n) for n in range(1, page_count(count - 1, self.size) + 1)]
        by_kind = {"section": self.links.section, "tag": self.links.tag, "author": self.links.author}
        for key in self.terms:
            first = by_kind[key[0]](self.names[key])
            urls += [paginated(first, n) for n in range(1, page_count(len(self.members[key]), self.size) + 1)]
        months = next((n for n in range(count, len(entries)) if entries[n][0] == self.links.archive), None)
        if months is None:
            return False
        urls += [self.links.tags_index, self.links.authors_index, self.links.archive]
        urls += [url for url, _ in entries[months + 1 :]]
        if any(url not in lastmods for url in urls):
            return False
        fresh: list[SitemapEntry] = [(url, lastmods[url]) for url in urls]
        if fresh == entries:
            return True
        maps = sitemap_pages(fresh, self.config.base_url)
        pages.update((page.url, page) for page in maps)
        self.removed += sorted(set(parts) - {page.url for page in maps})
        return True


def _names(site: list[Filed], old_site: list[Filed], affected: set[Key]) -> tuple[dict[Key, Term], dict[Key, Term]]:
    """Each term's name as the first file by path spells it (see `model._canonical_terms`), and the
    `affected` terms' names as it spelled them before the edits."""
    names: dict[Key, Term] = {}
    old: dict[Key, Term] = {}
    for i in sorted(range(len(site)), key=lambda i: site[i].path):
        filed, was = site[i], old_site[i]
        for kind, slug, name in filed.terms:
            if (kind, slug) not in names:
                names[kind, slug] = Term(name, slug)
            if was is filed and (kind, slug) in affected and (kind, slug) not in old:
                old[kind, slug] = Term(name, slug)
        if was is not filed:
            for kind, slug, name in was.terms:
                if (kind, slug) in affected and (kind, slug) not in old:
                    old[kind, slug] = Term(name, slug)
    return names, old


def _members(site: list[Filed]) -> dict[Key, list[int]]:
    """Each term's members by site position, in the site's order."""
    members: dict[Key, list[int]] = {}
    for i, filed in enumerate(site):
        for key in filed.keys:
            members.setdefault(key, []).append(i)
    return members


def _unreadable(path: str, card: str) -> Article:
    raise BuildError("a stored index page names an article", path, None, "delete .sitegen-cache/")


# Index and sitemap pages name no articles.
_READER = PageReader(_unreadable)


def stored_sitemap(cache: Cache) -> tuple[list[SitemapEntry], dict[str, str]] | None:
    """The last build's sitemap entries, and the fingerprint of each of its files by URL."""
    root = cache.stored_pages(["/sitemap.xml"])
    if not root or root["/sitemap.xml"][1] is None:
        return None
    stored = dict(root)

    def part(url: str) -> Page:
        stored.update(cache.stored_pages([url]))
        data = stored[url][1] if url in stored else None
        if data is None:
            raise BuildError(f"the cached sitemap part {url} is missing", None, None, "delete .sitegen-cache/")
        page: Page = _READER.load(data)
        return page

    entries = sitemap_entries(_READER.load(root["/sitemap.xml"][1]), part)
    return entries, {url: print_ for url, (print_, _) in stored.items()}

