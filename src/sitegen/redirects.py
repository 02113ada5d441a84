"""Redirects for URLs that moved: a page at each old URL, for any host, and the `_redirects` file hosts read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from markupsafe import escape

from sitegen.config import Config
from sitegen.labels import label
from sitegen.model import text_direction
from sitegen.urls import absolute_url, relative_url, rooted_url

REDIRECTS_FILE = "/_redirects"


def redirect_page(url: str, context: Mapping[str, Any], config: Config) -> str:
    """A page at old URL `url` that sends readers and crawlers on to the article's page.

    A refresh at once, for browsers; the canonical link, which search engines follow as a
    redirect; `noindex`, so the old URL leaves their index; and a link a person can follow.
    """
    target: str = context["target"]
    language: str = context["language"]
    relative = escape(relative_url(target, url))
    canonical = escape(absolute_url(target, config.base_url) if config.base_url else relative_url(target, url))
    headline = escape(context["headline"])
    return (f'<!DOCTYPE html>\n<html lang="{escape(language)}" dir="{text_direction(language)}">\n<head>\n'
            f'<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{headline}</title>\n"
            f'<meta name="robots" content="noindex">\n<link rel="canonical" href="{canonical}">\n'
            f'<meta http-equiv="refresh" content="0; url={relative}">\n</head>\n<body>\n'
            f'<p>{label("moved", language)} <a href="{relative}">{headline}</a></p>\n</body>\n</html>\n')


def host_redirects(moves: Iterable[tuple[str, str]], config: Config) -> str:
    """Netlify's and Cloudflare Pages' `_redirects`: one 'old new 301' line a move, paths under the base path."""
    base = config.base_path
    return "".join(f"{rooted_url(old, base)} {rooted_url(new, base)} 301\n" for old, new in moves)
