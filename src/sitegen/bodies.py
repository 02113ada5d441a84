"""Article bodies at render time: looked up by digest (in memory or in the cache) and noted per page."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from markupsafe import Markup

from sitegen.assets.markup import MEDIA_MARK, resolve_marks
from sitegen.crosslinks import resolve_links
from sitegen.errors import BuildError
from sitegen.model import Article, Body
from sitegen.urls import Links


class BodyLookup:
    """Finds an article's body for templates and feeds, and remembers which bodies the current page used.

    What a page used decides, on the next build, whether a body edit means rendering it again.
    """

    def __init__(self, store: Mapping[str, Body], words_per_minute: int = 230, links: Links | None = None) -> None:
        self.store = store
        self.words_per_minute = words_per_minute
        # Where stories are, for the links bodies make to them.
        self.links = links
        self.used: set[str] = set()
        # How the current page links to a site path; a body's published files are linked through it.
        self.url: Callable[[str], str] = str

    def note(self, article: Article) -> None:
        """Count the article's body as shown on the current page without fetching it."""
        self.used.add(article.digest)

    def _stored(self, article: Article) -> Body:
        self.used.add(article.digest)
        try:
            return self.store[article.digest]
        except KeyError:
            raise BuildError(f"the body of {article.source_path} is missing from the build cache", article.source_path,
                             None, "delete .sitegen-cache/ and build again") from None

    def __call__(self, article: Article) -> Body:
        body = self._stored(article)
        html: str = body.html
        if MEDIA_MARK in html:
            html = resolve_marks(html, self.url)
        if article.links and self.links is not None:
            links = self.links
            html = resolve_links(html, article, lambda: links.article(article), links.targets, self.url)
        return body if html is body.html else Body(Markup(html), body.word_count)

    def reading_minutes(self, article: Article) -> int:
        # The word count alone: its photos and links need not be made right for the page.
        return max(1, math.ceil(self._stored(article).word_count / self.words_per_minute))

    def start_page(self, url: Callable[[str], str] = str) -> None:
        """Start noting bodies afresh for a page that links to a site path as `url` says."""
        self.used = set()
        self.url = url
