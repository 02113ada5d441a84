"""URLs: relative links that work under any base path, and output file names."""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitegen import urls
from sitegen.config import Config, PermalinkConfig
from sitegen.model import Article, Term
from sitegen.urls import Links, absolute_url, absolute_urls, output_path, paginated, relative_url, rooted_url


@pytest.mark.parametrize(
    ("target", "current", "expected"),
    [
        ("/world/x/", "/", "world/x/"),
        ("/", "/world/x/", "../../"),
        ("/", "/", "./"),
        ("/static/css/site.css", "/world/x/", "../../static/css/site.css"),
        ("/tags/a/page/2/", "/tags/a/", "page/2/"),
        ("https://img.example/a.jpg", "/world/x/", "https://img.example/a.jpg"),
        ("images/a.jpg", "/world/x/", "../../images/a.jpg"),
    ],
)
def test_relative_url(target: str, current: str, expected: str) -> None:
    assert relative_url(target, current) == expected


def test_absolute_and_rooted() -> None:
    assert absolute_url("/world/x/", "https://example.org/news/") == "https://example.org/news/world/x/"
    assert absolute_url("/world/x/", "") == "/world/x/"
    assert rooted_url("/static/a.css", "/news/") == "/news/static/a.css"


def test_paths() -> None:
    assert paginated("/world/", 1) == "/world/" and paginated("/world/", 3) == "/world/page/3/"
    assert output_path("/") == "index.html" and output_path("/a/b/") == "a/b/index.html"
    assert output_path("/404.html") == "404.html"


@settings(max_examples=300, deadline=None)
@given(targets=st.lists(st.one_of(st.from_regex(r"/[a-z0-9/._~%&?#ü :<\"-]{0,20}", fullmatch=True),
                                  st.text(max_size=20)), max_size=8),
       base=st.sampled_from(["", "https://example.org/", "https://example.org/news", "http://x/ü/"]))
def test_absolute_urls_are_absolute_url_of_each(targets: list[str], base: str) -> None:
    # Plain paths take a short cut; every target, plain or not, must come out as absolute_url makes it.
    assert list(absolute_urls(targets, base)) == [absolute_url(target, base) for target in targets]
    escaped = [html.escape(absolute_url(target, base)) for target in targets]
    assert list(absolute_urls(targets, base, html.escape)) == escaped


def _story(slug: str, section: str | None, day: int) -> Article:
    return Article(source_path=Path(f"{slug}.md"), slug=slug, headline="h", standfirst="",
                   published=datetime(2024, 5, day, tzinfo=UTC), section=Term(section, section) if section else None)


def test_an_article_path_kept_for_one_article_is_never_given_to_another(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(urls, "PATH_MEMORY", 3)
    config = Config(permalinks=PermalinkConfig(article="/{section}/{year}/{month}/{day}/{slug}/"))
    links = Links(config)
    stories = [_story(f"s{n}", "world" if n % 2 else None, n + 1) for n in range(8)]
    fresh = Links(config)
    for _ in range(2):
        for story in stories:
            assert links.article(story) == urls.article_url(story, config.permalinks.article, config.default_section)
    # An article changed is a new object with a path of its own, even while the old one is kept.
    moved = replace(stories[0], slug="renamed", section=Term("Sport", "sport"))
    assert links.article(stories[0]) == fresh.article(stories[0]) == f"/{config.default_section}/2024/05/01/s0/"
    assert links.article(moved) == "/sport/2024/05/01/renamed/"
    assert links.article(stories[0]) == f"/{config.default_section}/2024/05/01/s0/"
    # What a Links keeps is no part of what it is.
    assert links == fresh


def _relative_url_as_first_written(target: str, current: str) -> str:
    site_path = target.startswith("/") and not target.startswith("//")
    if not site_path and ("://" in target or target.startswith(("//", "mailto:", "tel:")) or urlsplit(target).scheme):
        return target
    if current.endswith("/") and target.startswith(current):
        return quote(target[len(current):] or "./", safe="/#?=&%.-_~:")
    return quote("../" * (current.count("/") - 1) + target.lstrip("/") or "./", safe="/#?=&%.-_~:")


_PATHS = st.lists(st.sampled_from(["world", "a b", "Đà Nẵng", "x?y=1", "%20", "page", "2", "", "~", "#top", ".."]),
                  max_size=4).map(lambda parts: "/" + "/".join(parts))


@given(_PATHS | st.text(max_size=12), _PATHS.map(lambda path: path if path.endswith("/") else path + "/") | _PATHS)
def test_relative_urls_are_quoted_as_a_whole_path_would_be(target: str, current: str) -> None:
    assert relative_url(target, current) == _relative_url_as_first_written(target, current)
