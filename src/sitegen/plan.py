"""The plan: a pure function from the site to every output page, each with its inputs."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sitegen.config import Config
from sitegen.errors import BuildError
from sitegen.model import Article, Site, Term
from sitegen.urls import UNDATED, article_url, paginated

RELATED_WINDOW = 25


@dataclass(frozen=True)
class Page:
    """One output file: its site path, the template that renders it, its context and inputs."""

    url: str
    template: str
    context: Mapping[str, Any]
    inputs: frozenset[Path] = frozenset()
    language: str | None = None


@dataclass(frozen=True)
class Pagination:
    number: int
    total: int
    urls: tuple[str, ...]

    @property
    def previous(self) -> str | None:
        return self.urls[self.number - 2] if self.number > 1 else None

    @property
    def next(self) -> str | None:
        return self.urls[self.number] if self.number < self.total else None


@dataclass(frozen=True)
class Links:
    """The one place templates get URLs from; every value is a site path like '/world/'."""

    config: Config
    home: str = "/"
    archive: str = "/archive/"
    tags_index: str = "/tags/"
    authors_index: str = "/authors/"
    not_found: str = "/404.html"
    stylesheet: str = "/static/css/site.css"

    def article(self, article: Article) -> str:
        return article_url(article, self.config.permalinks.article, self.config.default_section)

    def section(self, term: Term) -> str:
        return f"/{term.slug}/"

    def tag(self, term: Term) -> str:
        return f"/tags/{term.slug}/"

    def author(self, term: Term) -> str:
        return f"/authors/{term.slug}/"

    def month(self, key: tuple[int, int] | None) -> str:
        return f"/archive/{UNDATED}/" if key is None else f"/archive/{key[0]:04d}/{key[1]:02d}/"

    def static(self, name: str) -> str:
        return "/static/" + name.lstrip("/")


def reading_minutes(article: Article, words_per_minute: int) -> int:
    return max(1, math.ceil(article.word_count / words_per_minute))


def related_articles(site: Site, count: int) -> dict[Path, tuple[Article, ...]]:
    """For each article, up to `count` others sharing its tags (weighted) or section, nearest in time."""
    position: dict[Term, dict[Path, int]] = {}
    for groups in (site.tags, site.sections):
        for term, items in groups.items():
            position[term] = {a.source_path: i for i, a in enumerate(items)}
    order = {a.source_path: i for i, a in enumerate(site.articles)}
    result: dict[Path, tuple[Article, ...]] = {}
    for article in site.articles:
        scores: dict[Path, int] = {}
        by_path: dict[Path, Article] = {}
        lists = [(site.tags[t], t, 2) for t in article.tags if t in site.tags]
        if article.section in site.sections:
            lists.append((site.sections[article.section], article.section, 1))
        for items, term, weight in lists:
            # A window around the article keeps this linear in archive size, not quadratic.
            here = position[term][article.source_path]
            for other in items[max(0, here - RELATED_WINDOW) : here + RELATED_WINDOW + 1]:
                if other.source_path != article.source_path:
                    scores[other.source_path] = scores.get(other.source_path, 0) + weight
                    by_path[other.source_path] = other
        here = order[article.source_path]
        ranked = sorted(scores, key=lambda p: (-scores[p], abs(order[p] - here), order[p]))
        result[article.source_path] = tuple(by_path[p] for p in ranked[:count])
    return result


def _inputs(articles: Iterable[Article]) -> frozenset[Path]:
    return frozenset(a.source_path for a in articles)


def _listing(url: str, template: str, articles: tuple[Article, ...], size: int, **context: Any) -> list[Page]:
    """The pages of a paginated listing; an empty listing still gets its first page."""
    total = max(1, math.ceil(len(articles) / size))
    urls = tuple(paginated(url, n) for n in range(1, total + 1))
    pages = []
    for number in range(1, total + 1):
        chunk = articles[(number - 1) * size : number * size]
        pages.append(Page(urls[number - 1], template,
                          {**context, "articles": chunk, "pagination": Pagination(number, total, urls)},
                          _inputs(chunk)))
    return pages


def plan_site(site: Site, config: Config) -> list[Page]:
    """Every page of the site: articles, front page, sections, tags, authors, archives, 404."""
    links = Links(config)
    size = config.page_size
    related = related_articles(site, config.related_count)
    pages: list[Page] = []
    for article in site.articles:
        crumbs = [("Home", links.home)]
        if article.section:
            crumbs.append((article.section.name, links.section(article.section)))
        pages.append(Page(
            links.article(article), "article.html",
            {"article": article, "related": related[article.source_path],
             "reading_minutes": reading_minutes(article, config.words_per_minute),
             "breadcrumbs": tuple(crumbs)},
            frozenset({article.source_path, *(a.source_path for a in related[article.source_path])}),
            language=article.language,
        ))
    # The lead story sits above the first page's list; later pages continue after it.
    front = _listing(links.home, "index.html", site.articles[1:], size, lead=None)
    if site.articles:
        first = front[0]
        front[0] = Page(first.url, first.template, {**first.context, "lead": site.articles[0]},
                        first.inputs | {site.articles[0].source_path})
    pages += front
    for kind, groups, url_of in (("section", site.sections, links.section), ("tag", site.tags, links.tag),
                                 ("author", site.authors, links.author)):
        for term, articles in groups.items():
            pages += _listing(url_of(term), "list.html", articles, size, kind=kind, title=term.name, term=term)
    pages.append(Page(links.tags_index, "terms.html", {"kind": "tag", "title": "Tags", "terms": _counts(site.tags)},
                      _inputs(site.articles)))
    pages.append(Page(links.authors_index, "terms.html",
                      {"kind": "author", "title": "Authors", "terms": _counts(site.authors)}, _inputs(site.articles)))
    months = tuple((key, len(items)) for key, items in site.archives.items())
    pages.append(Page(links.archive, "archive.html", {"months": months}, _inputs(site.articles)))
    for key, articles in site.archives.items():
        pages += _listing(links.month(key), "list.html", articles, size, kind="month", title=None, term=None,
                          month=key)
    pages.append(Page(links.not_found, "404.html", {}, frozenset()))
    _check_unique(pages)
    return pages


def _counts(groups: Mapping[Term, tuple[Article, ...]]) -> tuple[tuple[Term, int], ...]:
    return tuple((term, len(items)) for term, items in groups.items())


def _check_unique(pages: list[Page]) -> None:
    seen: dict[str, Page] = {}
    for page in pages:
        other = seen.get(page.url)
        if other is not None:
            names = sorted(str(p) for p in other.inputs | page.inputs)[:2]
            raise BuildError(
                f"two pages would be written to {page.url} ({other.template} and {page.template})",
                names[0] if names else None, None,
                "rename the section, tag or slug that collides, or change permalinks.article",
            )
        seen[page.url] = page
