"""Links in a body to pages of this site: noted as the body is read, and left as placeholders for the build.

A link names another story by its source file (relative to the article, or from the content folder
as `@/world/story.md`) or a page by its path (site-rooted, `/world/`, or relative to the article's
page). Which URL that is, and whether the page exists, is only known once the whole site is planned:
see crosslinks.py.
"""

from __future__ import annotations

import os
import re
from html import unescape
from pathlib import Path
from urllib.parse import unquote

from sitegen.errors import ContentError
from sitegen.load.article import CONTENT_DIR
from sitegen.model import BodyLink

# How a body kept in the cache refers to its n-th link (see `Article.links`): a private-use character
# no source yields in an attribute, then the number. Rendering turns it into the URL for the page.
LINK_MARK = "\ue000link:"
LINK_MARKED = re.compile("\ue000link:([0-9]+)")
# Article files: a link to one is a link to the story it holds.
SOURCE_SUFFIXES = frozenset({".md", ".markdown", ".txt"})
# Zola's convention for a path from the content folder rather than from the article.
CONTENT_ROOT = "@/"
_ID = re.compile(r'\sid="([^"]*)"')


def split_reference(href: str) -> tuple[str, str]:
    """A local URL's path and what follows it (its query and fragment, with their '?' or '#')."""
    cut = min((at for at in (href.find("?"), href.find("#")) if at >= 0), default=len(href))
    return href[:cut], href[cut:]


def is_source_link(href: str) -> bool:
    """Whether a local link names an article's source file rather than a page."""
    path = split_reference(href)[0]
    return path.startswith(CONTENT_ROOT) or os.path.splitext(unquote(path))[1].lower() in SOURCE_SUFFIXES


def content_folder(article: Path, site: Path | None) -> Path:
    """The content folder of the site in folder `site` that holds `article`, spelled as the article's path is.

    Source links are named as the build names files, so '@/' must start where the article's path does.
    Without a site folder (a file read on its own), the article's own folder.
    """
    if site is None:
        return article.parent
    try:
        inside = Path(os.path.relpath(article.resolve(), (site / CONTENT_DIR).resolve()))
    except (OSError, ValueError):
        return article.parent
    if inside.parts[:1] == ("..",):
        return article.parent
    return article.parents[len(inside.parts) - 1]


class BodyLinks:
    """The links one article's body makes to pages of the site, in the order met."""

    def __init__(self, article: Path, site: Path | None) -> None:
        self.article = article
        self.site = site
        self.found: list[BodyLink] = []

    @property
    def content_dir(self) -> Path:
        return content_folder(self.article, self.site)

    def add(self, href: str, line: int) -> str:
        """Note a local link that is not a file published with the article; returns its placeholder."""
        path, suffix = split_reference(href)
        if is_source_link(href):
            link = BodyLink(self._source(path, href, line), True, suffix, line, href)
        else:
            link = BodyLink(path, False, suffix, line, href)
        self.found.append(link)
        return f"{LINK_MARK}{len(self.found) - 1}"

    def _source(self, path: str, href: str, line: int) -> str:
        """The source file a link names, as the build names files; it must be in the content folder."""
        name = unquote(path)
        if name.startswith(CONTENT_ROOT) or name.startswith("/"):
            base, name = str(self.content_dir), name.removeprefix(CONTENT_ROOT).lstrip("/")
        else:
            base = os.path.dirname(str(self.article))
        target = os.path.normpath(os.path.join(base, name))
        content = os.path.normpath(str(self.content_dir))
        if os.path.commonpath([os.path.abspath(target), os.path.abspath(content)]) != os.path.abspath(content):
            raise ContentError(f"links to '{href}', which is outside the content folder {Path(content).name}/",
                               self.article, line,
                               f"link to a story's file inside {Path(content).name}/, such as "
                               f"'{CONTENT_ROOT}world/story.md'")
        return target


def anchors_of(html: str) -> frozenset[str]:
    """The ids a body's HTML gives its elements: what a link's #fragment may name."""
    if ' id="' not in html:
        return frozenset()
    return frozenset(unescape(found) for found in _ID.findall(html))
