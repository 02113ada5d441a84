"""Every URL comes from here: permalinks, page paths, relative links and absolute URLs."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, urlsplit

from sitegen.config import Config
from sitegen.model import Article, Term
from sitegen.published import identity

UNDATED = "undated"


def article_url(article: Article, scheme: str, default_section: str) -> str:
    """The site path of an article from the permalink scheme, e.g. '/world/some-slug/'."""
    published = article.published
    return scheme.format(
        section=article.section.slug if article.section else default_section,
        slug=article.slug,
        year=f"{published.year:04d}" if published else UNDATED,
        month=f"{published.month:02d}" if published else UNDATED,
        day=f"{published.day:02d}" if published else UNDATED,
    )


def paginated(url: str, number: int) -> str:
    """The path of page `number` of a listing at `url`: '/world/', '/world/page/2/'."""
    return url if number == 1 else f"{url}page/{number}/"


def output_path(url: str) -> str:
    """The file a site path is written to: '/a/b/' -> 'a/b/index.html'."""
    relative = url.lstrip("/")
    return relative + "index.html" if relative == "" or relative.endswith("/") else relative


_SAFE_PATH = re.compile(r"[A-Za-z0-9/._~%#?=&:-]*")


@lru_cache(maxsize=16384)
def _quote(path: str) -> str:
    # Site paths are almost always plain ASCII slugs; quoting only the rest keeps big builds fast.
    # Kept: a page links to forty or so paths, nearly all of which every other page links to too;
    # as many as a 10,000-article site's pages hold those (65,536 took 5.6 MB in each worker at 100,000).
    return path if _SAFE_PATH.fullmatch(path) else quote(path, safe="/#?=&%.-_~:")


def relative_url(target: str, current: str) -> str:
    """A link from page `current` to site path `target` that works under any base path."""
    site_path = target.startswith("/") and not target.startswith("//")  # the common case: nothing to parse
    if not site_path and ("://" in target or target.startswith(("//", "mailto:", "tel:")) or urlsplit(target).scheme):
        return target
    if current.endswith("/") and target.startswith(current):
        return _quote(target[len(current):] or "./")
    # Up to the root, then down: never the shortest path, but right and cheap at archive scale.
    # Quoting leaves "../" as it is, so the path from the root is quoted alone, as other pages quote it.
    return "../" * (current.count("/") - 1) + _quote(target.lstrip("/")) or "./"


def absolute_url(target: str, base_url: str) -> str:
    """`target` under the configured base URL; the site path alone when there is none."""
    # Site paths (the common case) start with one '/'; only anything else needs parsing.
    if not base_url or target.startswith("//") or (not target.startswith("/") and urlsplit(target).scheme):
        return target
    return base_url.rstrip("/") + "/" + _quote(target.lstrip("/"))


# Site paths that `absolute_url` only puts the base URL before: nothing to quote, and no character
# that XML or HTML escapes. Nearly every page's path is one.
PLAIN_PATH = re.compile(r"/(?!/)[A-Za-z0-9/._~%-]*")


def absolute_urls(targets: Iterable[str], base_url: str,
                  escape: Callable[[str], str] | None = None) -> Iterator[str]:
    """`escape(absolute_url(target, base_url))` for each target, for tens of thousands at once.

    `escape` must work character by character and leave the plain path characters as they are,
    as the XML and HTML escapes do: plain paths are neither quoted nor escaped, only prefixed.
    """
    prefix = base_url.rstrip("/") + "/" if base_url else "/"
    if escape is not None:
        prefix = escape(prefix)
    plain = PLAIN_PATH.fullmatch
    for target in targets:
        if plain(target):
            yield prefix + target[1:]
        else:
            url = absolute_url(target, base_url)
            yield url if escape is None else escape(url)


def rooted_url(target: str, base_path: str) -> str:
    """`target` as an absolute path under the base path, for pages served at any URL (404)."""
    if urlsplit(target).scheme or target.startswith("//"):
        return target
    return base_path.rstrip("/") + "/" + quote(target.lstrip("/"), safe="/#?=&%.-_~:")


# Article paths a Links keeps at a time (see `Links.article`). As many as the fingerprinter keeps
# references: a worker's environment outlives a build, and what it keeps holds old articles alive.
PATH_MEMORY = 16384


@dataclass(frozen=True)
class Links:
    """The one place templates get URLs from; every value is a site path like '/world/'."""

    config: Config
    home: str = "/"
    archive: str = "/archive/"
    tags_index: str = "/tags/"
    authors_index: str = "/authors/"
    not_found: str = "/404.html"
    search: str = "/search/"
    # The search index's folder (see search.py).
    search_bundle: str = "/pagefind/"
    stylesheet: str = "/static/css/site.css"
    # The first URL of each article that has moved since, by how the record of published URLs names it.
    first_urls: Mapping[str, str] = field(default_factory=dict)
    content_dir: Path | None = None
    # The site path of each story that bodies link to by its source file, by that file (see crosslinks.py).
    targets: Mapping[str, str] = field(default_factory=dict)
    # Each recent article's path by id, with the article, which keeps the id its own: a story's path
    # is asked for by every card, feed entry and sitemap that shows it, 650,000 times at 10,000
    # articles, and formatting it anew each time was 3% of a build in a profile. Never pickled: it goes nowhere.
    _paths: dict[int, tuple[Article, str]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def article(self, article: Article) -> str:
        known = self._paths.get(id(article))
        if known is not None and known[0] is article:
            return known[1]
        if len(self._paths) >= PATH_MEMORY:
            self._paths.clear()
        path = article_url(article, self.config.permalinks.article, self.config.default_section)
        self._paths[id(article)] = (article, path)
        return path

    def first(self, article: Article) -> str:
        """Where the article was first published: what its feed entries are known by, wherever it moves."""
        if self.first_urls:
            found = self.first_urls.get(identity(article, self.content_dir or Path(".")))
            if found is not None:
                return found
        return self.article(article)

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
