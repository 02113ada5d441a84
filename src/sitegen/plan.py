"""The plan: a pure function from the site to every output page, each with what it shows."""

from __future__ import annotations

import bisect
import heapq
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sitegen import sitemaps
from sitegen.config import Config
from sitegen.errors import BuildError
from sitegen.feeds import FORMATS, Feed, feed_entries, feed_title
from sitegen.model import Article, Sections, Site, Term
from sitegen.published import Move
from sitegen.redirects import REDIRECTS_FILE
from sitegen.sitemaps import SitemapEntry, chunk_entries, newest, news_articles
from sitegen.urls import Links, paginated

RELATED_WINDOW = 12


@dataclass(frozen=True)
class Page:
    """One output file: its site path, the template that renders it, its context, and when what it shows changed."""

    url: str
    template: str
    context: Mapping[str, Any]
    language: str | None = None
    lastmod: datetime | None = None


@dataclass(frozen=True)
class Pagination:
    """Page `number` of the listing whose first page is at `first`, and the numbers of the pages either side.

    Page 1 shows the newest stories; the others are numbered from the oldest (see `page_span`), so
    a page keeps its number and its stories as new ones are published. No total: every page of a
    listing would change with it.
    """

    number: int
    first: str
    newer_number: int | None
    older_number: int | None

    def url(self, number: int) -> str:
        return paginated(self.first, number)

    @property
    def previous(self) -> str | None:
        """The page of newer stories."""
        return None if self.newer_number is None else self.url(self.newer_number)

    @property
    def next(self) -> str | None:
        """The page of older stories."""
        return None if self.older_number is None else self.url(self.older_number)


def pagination(number: int, total: int, first: str) -> Pagination:
    """Page `number` of `total`: from page 1 a reader goes to the newest of the others, then down to page 2."""
    if number == 1:
        return Pagination(1, first, None, total if total > 1 else None)
    return Pagination(number, first, number + 1 if number < total else 1, number - 1 if number > 2 else None)


def page_span(members: int, size: int, number: int) -> tuple[int, int]:
    """Where page `number` of a listing of `members` stories, newest first, starts and stops.

    Page 1 holds the newest `size`. The rest are counted from the oldest: page 2 holds the oldest
    `size`, page 3 the next, and the highest number whatever is left, so a new story changes page
    1 and the highest-numbered page alone, and every other page's address keeps its stories.
    """
    if number == 1:
        return 0, min(members, size)
    stop = members - (number - 2) * size
    return max(size, stop - size), stop


def related_articles(site: Site, count: int) -> list[tuple[Article, ...]]:
    """For each article (in site order), up to `count` others sharing its tags (weighted) or section."""
    index = {id(a): i for i, a in enumerate(site.articles)}
    # Keyed by kind too: a tag and a section may share a name and slug, and are still two lists.
    members: dict[tuple[str, Term], list[int]] = {}
    for kind, groups in (("tag", site.tags), ("section", site.sections)):
        for term, items in groups.items():
            members[kind, term] = [index[id(a)] for a in items]
    result: list[tuple[Article, ...]] = []
    for here, article in enumerate(site.articles):
        lists = [(members["tag", t], 2) for t in article.tags if ("tag", t) in members]
        if article.section and ("section", article.section) in members:
            lists.append((members["section", article.section], 1))
        result.append(tuple(site.articles[i] for i in related_indices(here, lists, count)))
    return result


def related_indices(here: int, lists: Iterable[tuple[list[int], int]], count: int) -> list[int]:
    """Site positions of up to `count` articles most often near article `here` in `lists` (sorted positions, weight).

    Ties go to the nearer article in the site's order. Only articles within RELATED_WINDOW places
    of `here` in a list count, so an edit reaches only the related boxes near it.
    """
    scores: Counter[int] = Counter()
    for members, weight in lists:
        # A window around the article keeps this linear in archive size, not quadratic.
        local = bisect.bisect_left(members, here)
        window = members[max(0, local - RELATED_WINDOW) : local + RELATED_WINDOW + 1]
        for _ in range(weight):
            scores.update(window)  # counted in C: this runs for every article of the archive
    scores.pop(here, None)
    best = heapq.nsmallest(count, [(-score, abs(i - here), i) for i, score in scores.items()])
    return [i for _, _, i in best]


def _newest(articles: Iterable[Article]) -> datetime | None:
    """When a listing last changed: the latest modification among the stories it shows (for the sitemap)."""
    return max((a.modified for a in articles if a.modified), default=None)


def listing_page(first: str, template: str, chunk: tuple[Article, ...], number: int, total: int,
                 context: Mapping[str, Any]) -> Page:
    """Page `number` of `total` of the listing at `first`, showing `chunk`."""
    paging = pagination(number, total, first)
    return Page(paging.url(number), template, {**context, "articles": chunk, "pagination": paging},
                lastmod=_newest(chunk))


def page_count(members: int, size: int) -> int:
    """How many pages a listing of `members` articles takes; an empty listing still gets its first page."""
    return max(1, math.ceil(members / size))


def _listing(url: str, template: str, articles: tuple[Article, ...], size: int,
             context: Mapping[str, Any]) -> list[Page]:
    """The pages of a paginated listing."""
    total = page_count(len(articles), size)
    return [listing_page(url, template, articles[slice(*page_span(len(articles), size, n))], n, total, context)
            for n in range(1, total + 1)]


def front_page(links: Links, chunk: tuple[Article, ...], number: int, total: int, lead: Article | None,
               nav: tuple[Term, ...]) -> Page:
    """A page of the front page's listing; the lead story sits above the first page's list."""
    page = listing_page(links.home, "index.html", chunk, number, total, {"lead": None, "nav_sections": nav})
    if number == 1 and lead is not None:
        page = replace(page, context={**page.context, "lead": lead}, lastmod=_newest([lead, *chunk]))
    return page


def term_context(kind: str, term: Term, nav: tuple[Term, ...]) -> dict[str, Any]:
    """What a section's, tag's or author's listing pages share."""
    return {"kind": kind, "title": term.name, "term": term, "nav_sections": nav}


def month_context(key: tuple[int, int] | None, nav: tuple[Term, ...]) -> dict[str, Any]:
    return {"kind": "month", "title": None, "term": None, "month": key, "nav_sections": nav}


def article_page(article: Article, similar: tuple[Article, ...], links: Links, nav: tuple[Term, ...]) -> Page:
    crumbs = [("Home", links.home)]
    if article.section:
        crumbs.append((article.section.name, links.section(article.section)))
    return Page(links.article(article), "article.html",
                {"article": article, "related": similar, "breadcrumbs": tuple(crumbs), "nav_sections": nav},
                language=article.language, lastmod=article.modified)


def terms_page(links: Links, kind: str, counts: tuple[tuple[Term, int], ...], nav: tuple[Term, ...],
               newest: datetime | None) -> Page:
    """The index of every tag (`kind` 'tag') or author, with how many articles each has."""
    url, title = (links.tags_index, "Tags") if kind == "tag" else (links.authors_index, "Authors")
    return Page(url, "terms.html", {"kind": kind, "title": title, "terms": counts, "nav_sections": nav},
                lastmod=newest)


def archive_page(links: Links, months: tuple[tuple[tuple[int, int] | None, int], ...], nav: tuple[Term, ...],
                 newest: datetime | None) -> Page:
    return Page(links.archive, "archive.html", {"months": months, "nav_sections": nav}, lastmod=newest)


def _html_pages(site: Site, config: Config, links: Links) -> list[Page]:
    """Articles, front page, sections, tags, authors, archives and the 404 page.

    Every context carries the section navigation, which every page shows.
    """
    size = config.page_size
    nav = Sections(site.sections)
    related = related_articles(site, config.related_count)
    pages = [article_page(article, similar, links, nav)
             for article, similar in zip(site.articles, related, strict=True)]
    rest = site.articles[1:]
    total = page_count(len(rest), size)
    lead = site.articles[0] if site.articles else None
    pages += [front_page(links, rest[slice(*page_span(len(rest), size, n))], n, total, lead, nav)
              for n in range(1, total + 1)]
    for kind, groups, url_of in _term_kinds(site, links):
        for term, articles in groups.items():
            pages += _listing(url_of(term), "list.html", articles, size, term_context(kind, term, nav))
    newest = _newest(site.articles)
    pages.append(terms_page(links, "tag", _counts(site.tags), nav, newest))
    pages.append(terms_page(links, "author", _counts(site.authors), nav, newest))
    months = tuple((key, len(items)) for key, items in site.archives.items())
    pages.append(archive_page(links, months, nav, newest))
    for key, articles in site.archives.items():
        pages += _listing(links.month(key), "list.html", articles, size, month_context(key, nav))
    pages.append(Page(links.not_found, "404.html", {"nav_sections": nav}))
    if config.search.enabled:
        pages.append(search_page(config, links, nav))
    return pages


# Where the search form sends a reader whose browser runs no JavaScript, and the field naming the site.
SEARCH_ENGINES = {"duckduckgo": ("https://duckduckgo.com/", "sites"),
                  "google": ("https://www.google.com/search", "as_sitesearch")}


def search_page(config: Config, links: Links, nav: tuple[Term, ...]) -> Page:
    """The search page: Pagefind in the browser, else the configured search engine restricted to the site."""
    host = urlsplit(config.base_url).netloc if config.base_url else ""
    engine = SEARCH_ENGINES.get(config.search.fallback) if host else None
    fallback = {"action": engine[0], "field": engine[1], "host": host, "name": config.search.fallback} if engine else None
    return Page(links.search, "search.html", {"nav_sections": nav, "fallback": fallback})


def _term_kinds(site: Site, links: Links) -> tuple[tuple[str, dict[Term, tuple[Article, ...]], Any], ...]:
    return (("section", site.sections, links.section), ("tag", site.tags, links.tag),
            ("author", site.authors, links.author))


def term_feed(config: Config, term: Term | None, url: str, articles: tuple[Article, ...]) -> Feed:
    """The feed of a listing: the site's (`term` None) or a section's, tag's or author's."""
    description = config.description if term is None else f"Latest from {term.name}"
    return Feed(feed_title(config, term), description, url, url, feed_entries(articles, config.feeds.limit))


def feed_pages(feed: Feed) -> list[Page]:
    """The feed in each format."""
    return [Page(feed.url(kind), "feed:" + kind, {"feed": feed}) for kind in FORMATS]


def _feeds(site: Site, config: Config, links: Links) -> dict[str, Feed]:
    """Every feed, keyed by the site path of the listing it mirrors."""
    feeds = {links.home: term_feed(config, None, links.home, site.articles)}
    for _kind, groups, url_of in _term_kinds(site, links):
        for term, articles in groups.items():
            url = url_of(term)
            feeds[url] = term_feed(config, term, url, articles)
    return feeds


def _syndication_pages(site: Site, config: Config, links: Links, feeds: dict[str, Feed],
                       html: list[Page], now: datetime) -> list[Page]:
    """Feeds in three formats for every listing; sitemaps and robots.txt when there is a base URL."""
    pages = [page for feed in feeds.values() for page in feed_pages(feed)]
    if not config.base_url:
        # The sitemap protocol requires absolute URLs; build.py warns that they were left out.
        pages.append(Page("/robots.txt", "robots", {"sitemaps": ()}))
        return pages
    # Stories oldest first, as `_html_pages` lists them newest first: a new story changes the file of a split
    # sitemap it joins and those after it, and the files before stay as they were, for crawlers and for the
    # edit build that writes them.
    # Not the 404 page, nor the search page: search engines are asked not to index a site's own search.
    stories = len(site.articles)
    pages += sitemap_pages([*(sitemap_entry(p) for p in reversed(html[:stories])),
                            *(sitemap_entry(p) for p in html[stories:] if p.template not in ("404.html", "search.html"))],
                           config.base_url)
    pages.append(news_page(news_articles(site.articles, now)))
    pages.append(Page("/robots.txt", "robots", {"sitemaps": ("/sitemap.xml", "/news-sitemap.xml")}))
    return pages


def sitemap_entry(page: Page) -> SitemapEntry:
    return (page.url, page.lastmod.isoformat() if page.lastmod else None)


def news_page(recent: tuple[Article, ...]) -> Page:
    return Page("/news-sitemap.xml", "sitemap:news", {"articles": recent})


def sitemap_pages(entries: list[SitemapEntry], base_url: str,
                  before: Sequence[tuple[str, str | None]] = ()) -> list[Page]:
    """`/sitemap.xml` listing `entries`, or, past one file's limits, the index of `/sitemaps/sitemap-N.xml`.

    `before`: the files (URL and newest `lastmod`) that list the entries before these, full, kept as they are.
    """
    chunks = chunk_entries(entries, base_url)
    if len(chunks) == 1 and not before:
        return [Page("/sitemap.xml", "sitemap:urlset", {"entries": chunks[0]})]
    pages, parts = [], list(before)
    for number, chunk in enumerate(chunks, start=len(before) + 1):
        url = f"/sitemaps/sitemap-{number}.xml"
        parts.append((url, newest(chunk)))
        pages.append(Page(url, "sitemap:urlset", {"entries": chunk}))
    # How many entries each file lists, which the index does not show: an edit that moves a URL reads
    # the files that may list it alone, knowing from these that the rest are full (see `changed_chunks`).
    counts = (sitemaps.MAX_URLS,) * len(before) + tuple(map(len, chunks))
    pages.append(Page("/sitemap.xml", "sitemap:index", {"parts": tuple(parts), "counts": counts}))
    return pages


def sitemap_parts(root: Page, page: Callable[[str], Page]) -> list[tuple[str, tuple[SitemapEntry, ...]]]:
    """Each file of the sitemap `sitemap_pages` made, with its entries, from its root page and `page(url)` for each part."""
    if root.template == "sitemap:urlset":
        return [(root.url, root.context["entries"])]
    return [(url, page(url).context["entries"]) for url, _ in root.context["parts"]]


def plan_site(site: Site, config: Config, now: datetime) -> list[Page]:
    """Every page of the site; `now` only decides what the Google News sitemap covers."""
    links = Links(config)
    feeds = _feeds(site, config, links)
    html = _html_pages(site, config, links)
    pages = html + _syndication_pages(site, config, links, feeds, html, now)
    _check_unique(pages)
    return pages


def redirect_pages(moves: Iterable[Move]) -> list[Page]:
    """A page at every old URL in `moves`, sending readers on to the article's URL now."""
    return [Page(m.old, "redirect", {"target": m.new, "headline": m.article.headline, "language": m.article.language})
            for m in moves]


def redirects_file(pairs: list[tuple[str, str]]) -> list[Page]:
    """The host redirect file listing every (old, new) pair, when there are any."""
    return [Page(REDIRECTS_FILE, "redirects", {"moves": tuple(pairs)})] if pairs else []


def _counts(groups: Mapping[Term, tuple[Article, ...]]) -> tuple[tuple[Term, int], ...]:
    return tuple((term, len(items)) for term, items in groups.items())


def _check_unique(pages: list[Page]) -> None:
    seen: dict[str, Page] = {}
    for page in pages:
        other = seen.get(page.url)
        if other is not None:
            names = sorted(str(a.source_path) for a in (other.context.get("article"), page.context.get("article")) if a)
            raise BuildError(
                f"two pages would be written to {page.url} ({other.template} and {page.template})",
                names[0] if names else None, None,
                "rename the section, tag or slug that collides, or change permalinks.article",
            )
        seen[page.url] = page
