"""Links between stories and pages in bodies: checked against the site being built, then pointed at URLs.

A body keeps each link to a page of the site as a placeholder (see load/links.py). Once the site is
planned, every such link is checked: a story's source file must be a story this build publishes,
a path must be a page or file it writes, and a #fragment must name an id on the page. Rendering
then writes each as a link from the page showing the body, so it works under any base path.
"""

from __future__ import annotations

import difflib
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin

from markupsafe import escape

from sitegen.errors import ContentError
from sitegen.load.links import LINK_MARK, LINK_MARKED
from sitegen.model import Article, BodyLink, Selection

_ORIGIN = "https://site.invalid"


def site_path(link: BodyLink, page_url: str) -> str:
    """The site path, percent-decoded, that a link written as a path names from the article's page `page_url`."""
    if link.target.startswith("/"):
        return unquote(link.target)
    joined = urljoin(_ORIGIN + page_url, link.target)
    return unquote(joined[len(_ORIGIN):] or "/")


def link_targets(articles: Iterable[Article], url: Callable[[Article], str]) -> dict[str, str]:
    """Site path of every published article some article links to by source file, by that file."""
    by_path = {str(article.source_path): article for article in articles}
    wanted = {link.target for article in by_path.values() for link in article.links if link.source}
    return {path: url(by_path[path]) for path in sorted(wanted) if path in by_path}


def link_signature(article: Article, targets: Mapping[str, str]) -> str:
    """What an article's body shows of other stories: the URLs its source-file links go to."""
    return "\0".join(targets.get(link.target, "") for link in article.links if link.source)


def resolve_links(html: str, article: Article, page_url: Callable[[], str], targets: Mapping[str, str],
                  url: Callable[[str], str]) -> str:
    """A body's HTML with each link placeholder made a link from the page being rendered, via `url`.

    `page_url()` is the article's own site path, which relative links start from; a link that names
    nothing (the build reported it) stays as written.
    """
    if LINK_MARK not in html:
        return html

    def one(index: int) -> str:
        if index >= len(article.links):
            return ""
        link = article.links[index]
        if link.source:
            found = targets.get(link.target)
            return link.written if found is None else url(found) + link.suffix
        return url(site_path(link, page_url())) + link.suffix

    return LINK_MARKED.sub(lambda match: str(escape(one(int(match.group(1))))), html)


@dataclass(frozen=True)
class Reachable:
    """What links in one build may reach, as questions the full build and an edit build answer alike."""

    # Any article read, drafts and embargoed ones too, by source path.
    article: Callable[[str], Article | None]
    # Why a read article is not in this build ("" when it is).
    left_out: Callable[[Article], str]
    url: Callable[[Article], str]
    # Whether the build writes a page or file at a site path (percent-decoded).
    page: Callable[[str], bool]
    # The published article at a site path, if any: its ids are what a #fragment may name.
    article_at: Callable[[str], Article | None]
    # Ids the theme gives every article page (a skip link's target, say).
    theme_ids: frozenset[str]
    # Names of story files in a folder, and site paths near a given one: hints for a typo.
    near_files: Callable[[str], list[str]]
    near_pages: Callable[[str], list[str]]


def check_links(article: Article, reach: Reachable, content_dir: Path) -> list[ContentError]:
    """Every link of `article`'s body that names no story or page of this build, or no id on it."""
    errors: list[ContentError] = []
    for link in article.links:
        problem = _source_problem(link, reach, content_dir) if link.source else _page_problem(link, article, reach)
        if problem is not None:
            errors.append(ContentError(problem[0], article.source_path, link.line, problem[1]))
    return errors


def _source_problem(link: BodyLink, reach: Reachable, content_dir: Path) -> tuple[str, str] | None:
    target = reach.article(link.target)
    shown = _shown(link.target, content_dir)
    if target is None:
        if os.path.isfile(link.target):
            return (f"links to '{link.written}', a story that could not be read",
                    f"fix the error reported for {shown}")
        near = reach.near_files(link.target)
        hint = ("did you mean " + " or ".join(f"'{name}'" for name in near) + "?") if near else \
            "link to a story's file by its path from this article, or from the content folder as '@/section/story.md'"
        return f"links to '{link.written}', but there is no story file {shown}", hint
    why = reach.left_out(target)
    if why:
        return f"links to '{link.written}', {why}", _left_out_hint(why)
    return _fragment_problem(link, target, reach)


def _page_problem(link: BodyLink, article: Article, reach: Reachable) -> tuple[str, str] | None:
    path = site_path(link, reach.url(article))
    if not reach.page(path):
        near = reach.near_pages(path)
        hint = ("did you mean " + " or ".join(f"'{page}'" for page in near) + "?") if near else \
            "link to a story by its source file ('@/section/story.md'), or write the full https:// URL of a page " \
            "sitegen does not build"
        return f"links to '{link.written}', but this site has no page {path}", hint
    target = reach.article_at(path)
    return None if target is None else _fragment_problem(link, target, reach)


def _fragment_problem(link: BodyLink, target: Article, reach: Reachable) -> tuple[str, str] | None:
    fragment = link.fragment
    if not fragment or fragment in target.anchors or fragment in reach.theme_ids:
        return None
    ids = sorted(target.anchors)
    near = difflib.get_close_matches(fragment, ids, n=3, cutoff=0.5)
    if near:
        hint = "did you mean " + " or ".join(f"'#{name}'" for name in near) + "?"
    elif ids:
        hint = "its ids are " + ", ".join(f"'{name}'" for name in ids[:8]) + (", …" if len(ids) > 8 else "")
    else:
        hint = "drop the '#…' part, or give the element you mean an id there, as in <h2 id=\"reaction\">"
    return f"links to '{link.written}', but that story has no element with id '{fragment}'", hint


def left_out(article: Article, selection: Selection) -> str:
    """Why a build leaves a story it read out, as a link to it is told."""
    if article.draft and not selection.drafts:
        return "a draft"
    if article.published is not None and article.published > selection.now and not selection.future:
        return f"which is embargoed until {article.published.isoformat()}"
    return "" if selection.keeps_article(article) else "which this build does not publish"


def _left_out_hint(why: str) -> str:
    if "draft" in why:
        return "publish that story (remove 'draft: true') before linking to it, or preview both with --drafts"
    if "embargoed" in why:
        return "link to it once it is published, or preview both with --future"
    return "fix that story's own error first"


def _shown(path: str, content_dir: Path) -> str:
    try:
        return Path(os.path.relpath(path, content_dir)).as_posix()
    except ValueError:
        return path


def near_names(path: str, names: Iterable[str]) -> list[str]:
    """Up to three of `names` (story files) in the folder of `path` with a name like its name."""
    folder, name = posixpath.split(path)
    here = sorted(os.path.basename(other) for other in names if os.path.dirname(other) == folder)
    return difflib.get_close_matches(name, here, n=3, cutoff=0.5)


def near_pages(path: str, pages: Iterable[str]) -> list[str]:
    """Up to three site paths like `path`: the same with a slash added, else close in spelling."""
    candidates = list(pages)
    for variant in (path + "/", path.rstrip("/") + "/", path + ".html"):
        if variant != path and variant in candidates:
            return [variant]
    return difflib.get_close_matches(path, candidates, n=3, cutoff=0.75)


_THEME_ID = re.compile(r"""\sid=["']([^"'{}]+)["']""")


def theme_ids(template_dirs: Iterable[Path]) -> frozenset[str]:
    """The literal ids in the theme's templates, which every article page may carry."""
    found: set[str] = set()
    for folder in template_dirs:
        if folder.is_dir():
            for template in sorted(folder.rglob("*.html")):
                try:
                    found.update(_THEME_ID.findall(template.read_text(encoding="utf-8")))
                except (OSError, UnicodeDecodeError):
                    continue
    return frozenset(found)
