"""The plan: a pure function from the site to every output page, each with what it shows."""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sitegen.config import Config
from sitegen.errors import BuildError
from sitegen.feeds import FORMATS, Feed, feed_entries, feed_title
from sitegen.model import Article, Site, Term
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
    """Page `number` of `total` of the listing whose first page is at `first`."""

    number: int
    total: int
    # Not every page's URL: a listing of N pages would then hold N * N of them (the front page of a
    # 100,000-article archive has 5,000 pages), to be pickled and fingerprinted with each page.
    first: str

    def url(self, number: int) -> str:
        return paginated(self.first, number)

    @property
    def urls(self) -> tuple[str, ...]:
        """Every page's URL, for themes that list them."""
        return tuple(self.url(n) for n in range(1, self.total + 1))

    @property
    def previous(self) -> str | None:
        return self.url(self.number - 1) if self.number > 1 else None

    @property
    def next(self) -> str | None:
        return self.url(self.number + 1) if self.number < self.total else None


def related_articles(site: Site, count: int) -> list[tuple[Article, ...]]:
    """For each article (in site order), up to `count` others sharing its tags (weighted) or section."""
    index = {id(a): i for i, a in enumerate(site.articles)}
    members: dict[Term, list[int]] = {}
    position: dict[Term, dict[int, int]] = {}
    for groups in (site.tags, site.sections):
        for term, items in groups.items():
            members[term] = [index[id(a)] for a in items]
            position[term] = {g: i for i, g in enumerate(members[term])}
    result: list[tuple[Article, ...]] = []
    for here, article in enumerate(site.articles):
        scores: Counter[int] = Counter()
        lists = [(t, 2) for t in article.tags if t in members]
        if article.section in members:
            lists.append((article.section, 1))  # type: ignore[arg-type]
        for term, weight in lists:
            # A window around the article keeps this linear in archive size, not quadratic.
            local = position[term][here]
            window = members[term][max(0, local - RELATED_WINDOW) : local + RELATED_WINDOW + 1]
            for _ in range(weight):
                scores.update(window)  # counted in C: this loop runs for every article of the archive
        scores.pop(here, None)
        best = heapq.nsmallest(count, [(-score, abs(i - here), i) for i, score in scores.items()])
        result.append(tuple(site.articles[i] for _, _, i in best))
    return result


def _newest(articles: Iterable[Article]) -> datetime | None:
    """When a listing last changed: the latest modification among the stories it shows (for the sitemap)."""
    return max((a.modified for a in articles if a.modified), default=None)


def _listing(url: str, template: str, articles: tuple[Article, ...], size: int, **context: Any) -> list[Page]:
    """The pages of a paginated listing; an empty listing still gets its first page."""
    total = max(1, math.ceil(len(articles) / size))
    pages = []
    for number in range(1, total + 1):
        chunk = articles[(number - 1) * size : number * size]
        pagination = Pagination(number, total, url)
        pages.append(Page(pagination.url(number), template,
                          {**context, "articles": chunk, "pagination": pagination}, lastmod=_newest(chunk)))
    return pages


def _html_pages(site: Site, config: Config, links: Links) -> list[Page]:
    """Articles, front page, sections, tags, authors, archives and the 404 page.

    Every context carries the section navigation, which every page shows.
    """
    size = config.page_size
    nav = tuple(site.sections)
    related = related_articles(site, config.related_count)
    pages: list[Page] = []
    for article, similar in zip(site.articles, related, strict=True):
        crumbs = [("Home", links.home)]
        if article.section:
            crumbs.append((article.section.name, links.section(article.section)))
        pages.append(Page(
            links.article(article), "article.html",
            {"article": article, "related": similar, "breadcrumbs": tuple(crumbs), "nav_sections": nav},
            language=article.language, lastmod=article.modified,
        ))
    # The lead story sits above the first page's list; later pages continue after it.
    front = _listing(links.home, "index.html", site.articles[1:], size, lead=None, nav_sections=nav)
    if site.articles:
        first, lead = front[0], site.articles[0]
        front[0] = replace(first, context={**first.context, "lead": lead},
                           lastmod=_newest([lead, *first.context["articles"]]))
    pages += front
    for kind, groups, url_of in _term_kinds(site, links):
        for term, articles in groups.items():
            pages += _listing(url_of(term), "list.html", articles, size, kind=kind, title=term.name, term=term,
                              nav_sections=nav)
    newest = _newest(site.articles)
    pages.append(Page(links.tags_index, "terms.html",
                      {"kind": "tag", "title": "Tags", "terms": _counts(site.tags), "nav_sections": nav},
                      lastmod=newest))
    pages.append(Page(links.authors_index, "terms.html",
                      {"kind": "author", "title": "Authors", "terms": _counts(site.authors), "nav_sections": nav},
                      lastmod=newest))
    months = tuple((key, len(items)) for key, items in site.archives.items())
    pages.append(Page(links.archive, "archive.html", {"months": months, "nav_sections": nav}, lastmod=newest))
    for key, articles in site.archives.items():
        pages += _listing(links.month(key), "list.html", articles, size, kind="month", title=None, term=None,
                          month=key, nav_sections=nav)
    pages.append(Page(links.not_found, "404.html", {"nav_sections": nav}))
    return pages


def _term_kinds(site: Site, links: Links) -> tuple[tuple[str, dict[Term, tuple[Article, ...]], Any], ...]:
    return (("section", site.sections, links.section), ("tag", site.tags, links.tag),
            ("author", site.authors, links.author))


def _feeds(site: Site, config: Config, links: Links) -> dict[str, Feed]:
    """Every feed, keyed by the site path of the listing it mirrors."""
    limit = config.feeds.limit
    feeds = {links.home: Feed(config.title, config.description, links.home, links.home,
                              feed_entries(site.articles, limit))}
    for _kind, groups, url_of in _term_kinds(site, links):
        for term, articles in groups.items():
            url = url_of(term)
            feeds[url] = Feed(feed_title(config, term), f"Latest from {term.name}", url, url,
                              feed_entries(articles, limit))
    return feeds


def _syndication_pages(site: Site, config: Config, links: Links, feeds: dict[str, Feed],
                       html: list[Page], now: datetime) -> list[Page]:
    """Feeds in three formats for every listing; sitemaps and robots.txt when there is a base URL."""
    pages = []
    for feed in feeds.values():
        pages += [Page(feed.url(kind), "feed:" + kind, {"feed": feed}) for kind in FORMATS]
    if not config.base_url:
        # The sitemap protocol requires absolute URLs; build.py warns that they were left out.
        pages.append(Page("/robots.txt", "robots", {"sitemaps": ()}))
        return pages
    pages += sitemap_pages([SitemapEntry(p.url, p.lastmod.isoformat() if p.lastmod else None)
                            for p in html if p.template != "404.html"], config.base_url)
    recent = news_articles(site.articles, now)
    pages.append(Page("/news-sitemap.xml", "sitemap:news", {"articles": recent}))
    pages.append(Page("/robots.txt", "robots", {"sitemaps": ("/sitemap.xml", "/news-sitemap.xml")}))
    return pages


def sitemap_pages(entries: list[SitemapEntry], base_url: str) -> list[Page]:
    """`/sitemap.xml` listing `entries`, or, past one file's limits, the index of `/sitemaps/sitemap-N.xml`."""
    chunks = chunk_entries(entries, base_url)
    if len(chunks) == 1:
        return [Page("/sitemap.xml", "sitemap:urlset", {"entries": chunks[0]})]
    pages, parts = [], []
    for number, chunk in enumerate(chunks, start=1):
        url = f"/sitemaps/sitemap-{number}.xml"
        parts.append((url, newest(chunk)))
        pages.append(Page(url, "sitemap:urlset", {"entries": chunk}))
    pages.append(Page("/sitemap.xml", "sitemap:index", {"parts": tuple(parts)}))
    return pages


def sitemap_entries(root: Page, page: Callable[[str], Page]) -> list[SitemapEntry]:
    """The entries of the sitemap `sitemap_pages` made, from its root page and `page(url)` for each part."""
    if root.template == "sitemap:urlset":
        return list(root.context["entries"])
    return [entry for url, _ in root.context["parts"] for entry in page(url).context["entries"]]


def plan_site(site: Site, config: Config, now: datetime) -> list[Page]:
    """Every page of the site; `now` only decides what the Google News sitemap covers."""
    links = Links(config)
    feeds = _feeds(site, config, links)
    html = _html_pages(site, config, links)
    pages = html + _syndication_pages(site, config, links, feeds, html, now)
    _check_unique(pages)
    return pages


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
