"""Every URL comes from here: permalinks, page paths, relative links and absolute URLs."""

from __future__ import annotations

import posixpath
from urllib.parse import quote, urlsplit

from sitegen.model import Article

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


def relative_url(target: str, current: str) -> str:
    """A link from page `current` to site path `target` that works under any base path."""
    if urlsplit(target).scheme or target.startswith("//"):
        return target
    target = "/" + target.lstrip("/")
    start = current if current.endswith("/") else posixpath.dirname(current) + "/"
    link = posixpath.relpath(target, start)
    if target.endswith("/") and not link.endswith("/"):
        link = "./" if link == "." else link + "/"
    return quote(link, safe="/#?=&%.-_~:")


def absolute_url(target: str, base_url: str) -> str:
    """`target` under the configured base URL; the site path alone when there is none."""
    if urlsplit(target).scheme or target.startswith("//"):
        return target
    if not base_url:
        return target
    return base_url.rstrip("/") + "/" + quote(target.lstrip("/"), safe="/#?=&%.-_~:")


def rooted_url(target: str, base_path: str) -> str:
    """`target` as an absolute path under the base path, for pages served at any URL (404)."""
    if urlsplit(target).scheme or target.startswith("//"):
        return target
    return base_path.rstrip("/") + "/" + quote(target.lstrip("/"), safe="/#?=&%.-_~:")
