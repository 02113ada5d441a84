"""The pages reached by an edit that files an article anew, and by a story published or taken down.

An edit that files an article anew (sections, tags, authors, `updated`, publication time) keeps
its slug, and keeps or changes its place in the site's order; a story published or taken down
(a file added or removed, a draft made public or a story made a draft) takes or gives up a
place. Every listing it was not and is not in keeps its pages. What it reaches: its own page;
the listing pages and feeds of every term it left, joined or kept, where their members or page
count changed or it shows; the front and month pages likewise; the related-story boxes within
RELATED_WINDOW places of it in their terms, and of where its move shifted some stories and not
others (ties go to the nearer story in the site's order); the tag, author and month indexes;
and the sitemaps. They are planned with plan.py's own functions, from where the cache says
every article is filed (`Cache.filings`), so only the articles they show are read.
"""

from __future__ import annotations

import bisect
import math
import pickle
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sitegen import sitemaps
from sitegen.cache import Cache, PageReader, filing_row
from sitegen.config import Config
from sitegen.errors import BuildError
from sitegen.feeds import FORMATS
from sitegen.model import Article, Sections, Selection, Term, file_under, order_key
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
    page_span,
    pagination,
    related_indices,
    sitemap_entry,
    sitemap_pages,
    sitemap_parts,
    term_context,
    term_feed,
    terms_page,
)
from sitegen.sitemaps import NEWS_MAX, NEWS_WINDOW, SitemapEntry, next_change
from sitegen.urls import Links, paginated

Key = tuple[str, str]  # (kind, slug) of a section, tag or author
Months = tuple[tuple[tuple[int, int] | None, int], ...]  # each month's (year, month) and story count, as archived
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
    # Whether an article's publication time, or whether it is published, changed; and so when the site
    # next changes by itself (see `next_change`).
    retimed: bool = False
    valid_until: float | None = None
    # Articles the site gained (negative: lost), and that it leaves out (drafts, embargoed) gained.
    articles: int = 0
    skipped: int = 0


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
                  cache: Cache, selection: Selection, cards: dict[str, str],
                  new: Mapping[str, tuple[Article, str]] | None = None,
                  gone: Mapping[str, Article] | None = None, then: Selection | None = None) -> Refiled | None:
    """The pages edits, new files and removed ones reach, planned as the full build would; None when the
    full build must plan.

    `files` maps every source path to its digest before the edits; `edits` maps a source path to
    the article before, after, and after's card key; `new` maps a new file's path to its article
    and card key; `gone` a removed file's path to its article as the last build had it. An edit
    that makes an article a draft, or embargoes it, takes it out of the site like a removed file;
    one that publishes a draft brings it in like a new file; drafts and embargoed stories edited,
    added or removed change only when the site next changes by itself. The full build plans when
    an article coming into the site has a slug another file has, an article coming, going or
    edited in the site is undated, its slug changes, a term's spelling for the whole site (by its
    first file by path) changes, a section (every page's navigation shows them) or a month
    appears or empties, or an article gets a URL another page has. Notes the card key of every
    article read in `cards`, for fingerprints. `then` is what the last build published (default:
    `selection`), at a moment before this one's when time has passed since: a story it held back for
    its time comes in as an edit that publishes it, and the news sitemap is listed again.
    """
    then = then or selection
    moved = then.now != selection.now
    gone, new = gone or {}, new or {}
    # The changed files' own filings first: when each is a draft or a story held back for its time, before and
    # after, no page changes, and where every other story is filed (0.4 s to read at 100,000 articles) is not read.
    own = {row[0]: Filed._make(row) for row in cache.filings({path: files[path] for path in (*edits, *gone)
                                                                if path in files}, few=True)}
    # Each changed file's filing after the edits (None: removed); files whose article is in the site after the
    # edits and was not (`arriving`), was and is not (`leaving`), or neither (`unseen`: a draft or embargoed
    # story edited, added or removed, which only the embargo's end can show).
    changed: dict[str, Filed | None] = {}
    arriving: dict[str, Article] = {}
    leaving: dict[str, Article] = {}
    unseen = 0
    for path, before in gone.items():
        was = own.get(path)
        if was is None or was.digest != before.digest:
            return None
        changed[path] = None
        if then.keeps(was.draft, was.published):
            leaving[path] = before
        else:
            unseen += 1
    for path, (before, after, card) in edits.items():
        was, now = own.get(path), Filed.of(after, card)
        if was is None or was.digest != before.digest or before.slug != after.slug:
            return None
        changed[path] = now
        shown, shows = then.keeps(was.draft, was.published), selection.keeps(now.draft, now.published)
        if (shown and was.published is None) or (shows and now.published is None):
            return None
        if shown and not shows:
            leaving[path] = before
        elif shows and not shown:
            arriving[path] = after
        elif not shown:
            unseen += 1
    for path, (article, card) in new.items():
        if path in files:
            return None
        changed[path] = filed = Filed.of(article, card)
        if selection.keeps(article.draft, filed.published):
            arriving[path] = article
        else:
            unseen += 1
    if not moved and unseen == len(changed):
        held = _held_back_only(cache, selection, changed, len(new) - len(gone))
        if held is not None:
            return held
    rows = {row[0]: Filed._make(row) for row in cache.filings(files)}
    if any(rows.get(path) is None or rows[path].digest != filed.digest for path, filed in own.items()):
        return None
    # Every story whose time came between the two moments must be among the edits, or this misses its pages.
    if moved and any(then.keeps(f.draft, f.published) != selection.keeps(f.draft, f.published)
                     for path, f in rows.items() if path not in changed):
        return None
    after_rows = dict(rows)
    for path, after_filed in changed.items():
        if after_filed is None:
            del after_rows[path]
        else:
            after_rows[path] = after_filed
    for path in arriving:
        now = after_rows[path]
        if now.published is None or any(f.slug == now.slug for other, f in after_rows.items() if other != path):
            return None
    site = sorted((f for f in after_rows.values() if selection.keeps(f.draft, f.published)), key=Filed.order)
    position = {f.path: i for i, f in enumerate(site)}
    # Articles that left the site are numbered after it, as they were filed.
    position.update((path, len(site) + k) for k, path in enumerate(sorted(leaving)))
    edited = {position[path]: rows[path] for path in edits if path in position and path not in leaving and path not in arriving}
    added = {position[path] for path in arriving}
    left = {position[path]: article for path, article in leaving.items()}
    # A new file was filed nowhere before.
    old_site = [edited.get(i, f) if i not in added else f._replace(terms=(), keys=()) for i, f in enumerate(site)]
    old_site += [rows[path] for path in sorted(leaving)]
    redated = any(rows[path].published != after_rows[path].published for path in edits)
    retimed = moved or bool(added or left or unseen) or redated
    # The site's order before the edits, as positions in today's.
    if redated:
        old_order = sorted((i for i in range(len(old_site)) if i not in added), key=lambda i: old_site[i].order())
    else:
        # No story's time changed: today's order without the stories added, with those that left put back in
        # (sorting 100,000 took a new story's build a tenth of a second).
        old_order = [i for i in range(len(site)) if i not in added]
        for i in range(len(site), len(old_site)):
            bisect.insort(old_order, i, key=lambda j: old_site[j].order())
    affected = {key for i in edited for key in (*edited[i].keys, *site[i].keys)}
    affected |= {key for i in added for key in site[i].keys}
    affected |= {key for i in left for key in old_site[i].keys}
    names, old_names = _names(site, old_site, affected)
    if any(old_names[key] != names[key] for key in affected if key in names and key in old_names):
        return None
    members = _members(site)
    rank = {i: k for k, i in enumerate(old_order)}.__getitem__ if retimed else None
    old_members = {key: sorted([*(i for i in members.get(key, []) if i not in edited and i not in added),
                                *(i for i in (*edited, *left) if key in old_site[i].keys)], key=rank)
                   for key in affected}
    if any(bool(old_members[key]) != (key in members) for key in affected if key[0] == "section"):
        return None
    current = {i: edits[old_site[i].path][1] for i in edited}
    current.update((position[path], article) for path, article in arriving.items())
    refiled = _Planner(config, cache, site, {i: edits[old_site[i].path][0] for i in edited}, current,
                       names, members, old_members, selection.now, cards, old_site, old_order, left, moved).run()
    if refiled is None or not retimed:
        return refiled
    until = next_change(selection.now.timestamp(), (f.published for f in after_rows.values() if f.published is not None),
                        (f.published for f in site if f.published is not None))
    return Refiled(refiled.pages, refiled.removed, True, until, len(site) - len(old_order),
                   (len(after_rows) - len(site)) - (len(rows) - len(old_order)))


def _held_back_only(cache: Cache, selection: Selection, changed: Mapping[str, Filed | None], skipped: int,
                    ) -> Refiled | None:
    """`refiled_pages`' answer when every file `changed` (filing after the edits, None if removed) is a draft or a
    story held back for its time, before and after: no page, and only when the site next changes by itself;
    None when the cache cannot say that moment."""
    # Only a time after `now`, or one within the news window before it, can be that moment.
    now = selection.now.timestamp()
    dated = cache.published_from(now - NEWS_WINDOW.total_seconds(), math.inf)
    if dated is None:
        return None
    times = [(published, draft) for path, _, _, published, draft in dated if path not in changed]
    times += [(f.published, f.draft) for f in changed.values() if f is not None and f.published is not None]
    until = next_change(now, (time for time, _ in times), (time for time, draft in times if selection.keeps(draft, time)))
    return Refiled({}, [], True, until, 0, skipped)


class _Planner:
    """Plans the pages an edit reaches, reading only the articles they show."""

    def __init__(self, config: Config, cache: Cache, site: list[Filed], edited: dict[int, Article],
                 current: dict[int, Article], names: dict[Key, Term], members: dict[Key, list[int]],
                 old_members: dict[Key, list[int]], now: datetime, cards: dict[str, str], old_site: list[Filed],
                 old_order: list[int], left: dict[int, Article], moved: bool = False) -> None:
        # Each edited article by site position, as it was (`edited`) and as it is (`current`, which
        # has new files' articles too); and those that left the site, numbered after it, as they were.
        self.config, self.cache, self.site, self.edited, self.current = config, cache, site, edited, current
        self.added = current.keys() - edited.keys()
        self.left = left
        # Time passed since the last build: the news sitemap's two days are others.
        self.moved = moved
        # Whatever changed: pages showing any of these are planned.
        self.changed = current.keys() | left.keys()
        self.names, self.members, self.old_members, self.now, self.cards = names, members, old_members, now, cards
        # Where every article was filed before the edits, and their order then, by today's positions.
        # Member lists before the edits are in that order too, so comparing slices compares articles.
        self.old_site, self.old_order = old_site, old_order
        self.rank = {i: k for k, i in enumerate(old_order)}
        self._old_lists: dict[Key, list[int]] = {}
        self.links = Links(config)
        self.size = config.page_size
        rank = {slug: i for i, slug in enumerate(s.url_slug for s in config.sections)}
        sections = sorted((key for key in members if key[0] == "section"), key=lambda k: (rank.get(k[1], len(rank)), k[1]))
        self.nav = Sections(names[key] for key in sections)
        self.terms = [*sections, *sorted(k for k in members if k[0] == "tag"),
                      *sorted(k for k in members if k[0] == "author")]
        self.removed: list[str] = []
        self._articles: dict[int, Article] = {}
        # Stories each month an edit reached gained (or lost), and the archive's months before and now.
        self.month_change: dict[tuple[int, int] | None, int] = {}
        self.months: tuple[Months, Months] = ((), ())

    def run(self) -> Refiled | None:
        found = self._listings()
        if found is None:
            return None
        listings, feeds = found
        related = self._related()
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
        self.months = archive.context["months"], tuple(
            (key, count + self.month_change.get(key, 0)) for key, count in archive.context["months"])
        pages[self.links.archive] = archive_page(self.links, self.months[1], self.nav, latest)
        if recent is not None:
            pages["/news-sitemap.xml"] = news_page(tuple(self._articles[j] for j in recent))
        for i, before in self.edited.items():
            old = self.links.article(before)
            if old != self.links.article(self._articles[i]):
                if self.cache.stored_pages([self.links.article(self._articles[i])]):
                    return None
                self.removed.append(old)
        if self.cache.stored_pages([self.links.article(self._articles[i]) for i in self.added]):
            return None
        self.removed += [self.links.article(article) for article in self.left.values()]
        if self.config.base_url and not self._sitemaps(pages):
            return None
        return Refiled(pages, self.removed)

    def _listings(self) -> tuple[list[_Listing], list[tuple[Term | None, str, list[int]]]] | None:
        """The listing pages to plan, and the feeds: those of the terms edits touched, and where edits show.

        None when a month gains its first story or loses its last, which the archive's URLs show.
        """
        listings: list[_Listing] = []
        feeds: list[tuple[Term | None, str, list[int]]] = []
        urls = {"section": self.links.section, "tag": self.links.tag, "author": self.links.author}
        limit = self.config.feeds.limit
        for key in sorted(self.old_members):
            old, new = self.old_members[key], self.members.get(key, [])
            term = self.names.get(key) or Term("", key[1])
            url = urls[key[0]](term)
            listing = self._paged(url, term_context(key[0], term, self.nav), old, new)
            if listing is None:
                self.removed += [url + name for name in FORMATS.values()]
                continue
            listings.append(listing)
            old_top, new_top = self._dated(old)[:limit], self._dated(new)[:limit]
            if old_top != new_top or self.changed & set(new_top):
                feeds.append((term, url, new_top))
        everyone = list(range(len(self.site)))
        front = _Listing(self.links.home, "index.html", {}, everyone, [], front=True)
        total, old_total = page_count(len(everyone) - 1, self.size), page_count(len(self.old_order) - 1, self.size)
        front.numbers.extend(n for n in range(1, total + 1)
                             if self._renewed(self.old_order, everyone, n, (old_total, total), front=True))
        self.removed += [paginated(self.links.home, n) for n in range(total + 1, old_total + 1)]
        listings.append(front)
        top = self._dated(everyone)[:limit]
        if top != self._dated(self.old_order)[:limit] or self.changed & set(top):
            feeds.append((None, self.links.home, top))
        months = self._months(everyone)
        if months is None:
            return None
        for month, (old, new) in sorted(months.items(), key=lambda item: item[0] or (0, 0)):
            self.month_change[month] = len(new) - len(old)
            listing = self._paged(self.links.month(month), month_context(month, self.nav), old, new)
            if listing is not None:
                listings.append(listing)
        return listings, feeds

    def _paged(self, url: str, context: dict[str, object], old: list[int], new: list[int]) -> _Listing | None:
        """The pages of a listing that changed from `old` members to `new`; pages it lost are removed."""
        old_total = page_count(len(old), self.size) if old else 0
        new_total = page_count(len(new), self.size) if new else 0
        self.removed += [paginated(url, n) for n in range(new_total + 1, old_total + 1)]
        if not new:
            return None
        numbers = [n for n in range(1, new_total + 1) if self._renewed(old, new, n, (old_total, new_total))]
        return _Listing(url, "list.html", context, new, numbers)

    def _renewed(self, old: list[int], new: list[int], number: int, totals: tuple[int, int], front: bool = False) -> bool:
        """Whether page `number` is new, links to other pages or shows other articles than before, or an edited one."""
        if number > totals[0] or pagination(number, totals[0], "") != pagination(number, totals[1], ""):
            return True
        chunk = self._slice(new, number, front)
        return chunk != self._slice(old, number, front) or bool(self.changed & set(chunk))

    def _slice(self, members: list[int], number: int, front: bool) -> list[int]:
        if front:
            # The lead story is member 0; the list starts after it.
            start, stop = page_span(len(members) - 1, self.size, number)
            return (members[:1] if number == 1 else []) + members[1 + start : 1 + stop]
        return members[slice(*page_span(len(members), self.size, number))]

    def _months(self, everyone: list[int]) -> dict[tuple[int, int] | None, tuple[list[int], list[int]]] | None:
        """The months edited stories were or are archived under, with their members before and now."""
        found: dict[tuple[int, int] | None, tuple[list[int], list[int]]] = {}
        for i in self.changed:
            now = self._month_of(i) if i < len(self.site) else None
            then = self._month_of(i, before=True) if i in self.edited or i in self.left else now
            for month in {now, then} - {None}:
                if month in found:
                    continue
                # A month's stories are a run in the site's order, then and now; one list gives the
                # other through a story that stayed.
                new = self._span(everyone, i, self._month_of) if month == now else []
                old = self._span(self.old_order, self.rank[i], self._month_then) if month == then and i in self.rank else []
                if not new:
                    j = next((j for j in old if j not in self.changed), None)
                    new = [] if j is None else self._span(everyone, j, self._month_of)
                if not old:
                    j = next((j for j in new if j not in self.changed), None)
                    old = [] if j is None else self._span(self.old_order, self.rank[j], self._month_then)
                if not old or not new:
                    return None
                found[month] = old, new
        return found

    @staticmethod
    def _span(order: list[int], at: int, month: Callable[[int], tuple[int, int] | None]) -> list[int]:
        """The run of `order` around index `at` archived in the same month."""
        key = month(order[at])
        start, stop = at, at + 1
        while start > 0 and month(order[start - 1]) == key:
            start -= 1
        while stop < len(order) and month(order[stop]) == key:
            stop += 1
        return order[start:stop]

    def _dated(self, members: list[int]) -> list[int]:
        # Those that left the site are dated: the full build plans when an undated one goes.
        return [i for i in members if i >= len(self.site) or self.site[i].published is not None]

    def _chunk(self, listing: _Listing, number: int) -> list[int]:
        return self._slice(listing.members, number, listing.front)

    def _listing_pages(self, listing: _Listing) -> Iterable[Page]:
        if listing.front:
            total = page_count(len(listing.members) - 1, self.size)
            for n in listing.numbers:
                start, stop = page_span(len(listing.members) - 1, self.size, n)
                chunk = tuple(self._articles[j] for j in listing.members[1 + start : 1 + stop])
                lead = self._articles[listing.members[0]] if n == 1 and listing.members else None
                yield front_page(self.links, chunk, n, total, lead, self.nav)
            return
        total = page_count(len(listing.members), self.size)
        for n in listing.numbers:
            chunk = tuple(self._articles[j] for j in self._chunk(listing, n))
            yield listing_page(listing.first, listing.template, chunk, n, total, listing.context)

    def _month_of(self, i: int, before: bool = False) -> tuple[int, int] | None:
        """The month (in the site's time zone) the article at position `i` is archived under, now or before the edits."""
        published = (self.old_site if before else self.site)[i].published
        if published is None:
            return None
        local = datetime.fromtimestamp(published, self.config.tz)
        return (local.year, local.month)

    def _month_then(self, i: int) -> tuple[int, int] | None:
        return self._month_of(i, before=True)

    def _related(self) -> dict[int, list[int]]:
        """The related-story boxes to plan, by site position: of the edited and new stories and those near them
        in their terms, and of others whose box now holds other stories, or the same in another order."""
        count = self.config.related_count
        near, moved = self._near()
        related = {i: related_indices(i, self._related_lists(i), count) for i in near}
        for i in moved - near:
            now = related_indices(i, self._related_lists(i), count)
            then = related_indices(self.rank[i], self._related_lists(i, before=True), count)
            if [self.old_order[k] for k in then] != now:
                related[i] = now
        return related

    def _near(self) -> tuple[set[int], set[int]]:
        """Articles whose related-story box an edit may change: the edited and new ones and those near
        them in their terms; and those whose box a move may change, by a tie it breaks otherwise."""
        near = set(self.current)
        for key in self.old_members:
            if key[0] == "author":
                continue
            for members in (self.old_members[key], self.members.get(key, [])):
                for i in self.changed:
                    if i in members:
                        local = members.index(i)
                        near.update(members[max(0, local - RELATED_WINDOW) : local + RELATED_WINDOW + 1])
        near -= self.left.keys()
        # Stories the edits shifted by the same number of places in the site's order keep their
        # distances to each other, so only where the shift changes along a term's members can a
        # tie break: those within RELATED_WINDOW of there.
        moved: set[int] = set()
        shift = {i: i - k for k, i in enumerate(self.old_order) if k != i}
        for key, members in self.members.items() if shift else ():
            if key[0] != "author":
                shifts = [shift.get(i, 0) for i in members]
                for k in range(1, len(shifts)):
                    if shifts[k] != shifts[k - 1]:
                        moved.update(members[max(0, k - RELATED_WINDOW) : k + RELATED_WINDOW])
        return near, moved

    def _related_lists(self, i: int, before: bool = False) -> list[tuple[list[int], int]]:
        """As `plan.related_articles` weighs them: tags twice, the section once; `before` the edits, by
        positions then, for an article that is not edited."""
        keys = self.site[i].keys
        members = self._old_members if before else self.members.__getitem__
        return ([(members(key), 2) for key in keys if key[0] == "tag"]
                + [(members(key), 1) for key in keys if key[0] == "section"])

    def _old_members(self, key: Key) -> list[int]:
        """A term's members before the edits, by their positions then."""
        found = self._old_lists.get(key)
        if found is None:
            members = self.old_members[key] if key in self.old_members else self.members[key]
            found = self._old_lists[key] = [self.rank[i] for i in members]
        return found

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
        if self.moved:
            return recent
        before = recent
        if self.added or self.left or any(self.old_site[i].published != self.site[i].published for i in self.edited):
            before = [i for i in self.old_order if (t := self.old_site[i].published) is not None and low <= t <= high]
        return recent if self.changed & {*recent, *before[:NEWS_MAX]} else None

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
        """Plan the sitemap anew into `pages`; False when the stored one is not as this expects.

        Stories are listed oldest first (see `plan._syndication_pages`), so the files before the oldest story
        these edits reach stay as they are, and are not read: at 100,000 articles, reading and listing all
        three took a new story's build 0.3 s.
        """
        count, old_count = len(self.site), len(self.old_order)
        try:
            stored = stored_sitemap(self.cache, self._unchanged_stories(), (old_count, self.links.home))
        except _READ_ERRORS:
            return False
        if stored is None:
            return False
        kept, read, parts, offset = stored
        entries = [entry for _, chunk in read for entry in chunk]
        if len(entries) <= old_count - offset or entries[old_count - offset][0] != self.links.home:
            return False
        lastmods = dict(entries)
        for url, page in pages.items():
            if page.template in ("article.html", "list.html", "index.html", "terms.html", "archive.html"):
                lastmods[url] = sitemap_entry(page)[1]
        # The stories after the first `offset`, by site position (newest first), then turned oldest first.
        urls = [""] * (count - offset)
        for k, i in enumerate(self.old_order):
            at = old_count - 1 - k - offset
            if at < 0:
                break
            if i in self.left:
                if entries[at][0] != self.links.article(self.left[i]):
                    return False
            elif i < len(urls):
                urls[i] = entries[at][0]
            else:
                return False
        for i, before in self.edited.items():
            if urls[i] != self.links.article(before):
                return False
            urls[i] = self.links.article(self._articles[i])
        for i in self.added:
            urls[i] = self.links.article(self._articles[i])
        urls.reverse()
        urls += [paginated(self.links.home, n) for n in range(1, page_count(count - 1, self.size) + 1)]
        by_kind = {"section": self.links.section, "tag": self.links.tag, "author": self.links.author}
        for key in self.terms:
            first = by_kind[key[0]](self.names[key])
            urls += [paginated(first, n) for n in range(1, page_count(len(self.members[key]), self.size) + 1)]
        months = next((n for n in range(old_count - offset, len(entries)) if entries[n][0] == self.links.archive),
                      None)
        if months is None:
            return False
        urls += [self.links.tags_index, self.links.authors_index, self.links.archive]
        # Then every month's pages, which a new publication time can add or take away.
        if [url for url, _ in entries[months + 1 :]] != self._month_urls(self.months[0]):
            return False
        urls += self._month_urls(self.months[1])
        if any(url not in lastmods for url in urls):
            return False
        fresh: list[SitemapEntry] = [(url, lastmods[url]) for url in urls]
        if fresh == entries:
            return True
        maps = sitemap_pages(fresh, self.config.base_url, kept)
        pages.update((page.url, page) for page in maps)
        self.removed += sorted(set(parts) - {page.url for page in maps})
        return True

    def _unchanged_stories(self) -> int:
        """How many of the oldest stories are the same before and after the edits, in the same order."""
        new = max((*self.edited, *self.added), default=None)
        old = max((self.rank[i] for i in (*self.edited, *self.left)), default=None)
        return min(len(self.site) - 1 - new if new is not None else len(self.site),
                   len(self.old_order) - 1 - old if old is not None else len(self.old_order))

    def _month_urls(self, months: Months) -> list[str]:
        return [paginated(self.links.month(key), n) for key, count in months
                for n in range(1, page_count(count, self.size) + 1)]


def _names(site: list[Filed], old_site: list[Filed], affected: set[Key]) -> tuple[dict[Key, Term], dict[Key, Term]]:
    """Each term's name as the first file by path spells it (see `model._canonical_terms`), and the
    `affected` terms' names as it spelled them before the edits (`old_site` has those that left the site too)."""
    names: dict[Key, Term] = {}
    old: dict[Key, Term] = {}
    paths = [filed.path for filed in old_site]
    for i in sorted(range(len(old_site)), key=paths.__getitem__):
        filed, was = site[i] if i < len(site) else None, old_site[i]
        for kind, slug, name in filed.terms if filed else ():
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


def sitemap_files_listing(cache: Cache, urls: Iterable[str],
                          ) -> tuple[dict[int, tuple[SitemapEntry, ...]], dict[str, str], list[str]] | None:
    """The files of the last build's sitemap, split by count, that may list one of `urls`: their entries by number
    (from 0), the fingerprint of every file by URL, and every file's URL. None unless its index says it is so split.

    A file is read only when its stored form holds one of the URLs as written (a pickle holds each string's UTF-8
    bytes): a story moved at 100,000 articles read all three files, 0.1 s of its build, to change one.
    """
    root = cache.stored_pages(["/sitemap.xml"])
    if not root or root["/sitemap.xml"][1] is None:
        return None
    index: Page = _READER.load(root["/sitemap.xml"][1])
    counts = index.context.get("counts") if index.template == "sitemap:index" else None
    if counts is None or any(count != sitemaps.MAX_URLS for count in counts[:-1]):
        return None
    files = [url for url, _ in index.context["parts"]]
    stored = cache.stored_pages(files)
    needles = [url.encode("utf-8", "surrogatepass") for url in urls]
    found: dict[int, tuple[SitemapEntry, ...]] = {}
    for number, url in enumerate(files):
        data = stored[url][1] if url in stored else None
        if data is None:
            raise BuildError(f"the cached sitemap part {url} is missing", None, None, "delete .sitegen-cache/")
        if any(needle in data for needle in needles):
            found[number] = _READER.load(data).context["entries"]
    return found, {url: print_ for url, (print_, _) in {**root, **stored}.items()}, files


def stored_sitemap(cache: Cache, unchanged: int = 0, home: tuple[int, str] | None = None,
                   ) -> tuple[list[tuple[str, str | None]], list[tuple[str, tuple[SitemapEntry, ...]]], dict[str, str],
                              int] | None:
    """The last build's sitemap: the files left unread (URL and newest `lastmod`), those read with their entries
    (see `sitemap_parts`), the fingerprint of each file read by URL, and how many entries come before the first read.

    Only the files that list the first `unchanged` entries are left unread, and only when the sitemap is split
    by count, as `home` (the index and URL of the entry after the stories) shows in the files read.
    """
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

    index = _READER.load(root["/sitemap.xml"][1])
    size = sitemaps.MAX_URLS
    skipped = unchanged // size if home is not None and index.template == "sitemap:index" else 0
    if skipped and home is not None:
        listed = list(index.context["parts"])
        read = [(url, part(url).context["entries"]) for url, _ in listed[skipped:]]
        # Split by count, each file before the last full: `home` is where counting says it is.
        at, entries = home[0] - skipped * size, [entry for _, chunk in read for entry in chunk]
        if all(len(chunk) == size for _, chunk in read[:-1]) and 0 <= at < len(entries) and entries[at][0] == home[1]:
            return listed[:skipped], read, {url: print_ for url, (print_, _) in stored.items()}, skipped * size
    parts = sitemap_parts(index, part)
    return [], parts, {url: print_ for url, (print_, _) in stored.items()}, 0

