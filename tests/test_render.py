"""Rendering works out only the page metadata a theme's templates refer to."""

from __future__ import annotations

from pathlib import Path

from sitegen.config import Config
from sitegen.model import Article, Term
from sitegen.render import _used_metadata, make_environment
from sitegen.seo import METADATA, page_metadata
from sitegen.theme import theme_dir
from sitegen.urls import Links
from tests.conftest import write


def environment(folder: Path) -> object:
    return make_environment(Config(), [folder, theme_dir() / "templates"], {})


def test_the_default_theme_uses_all_the_metadata(tmp_path: Path) -> None:
    env = environment(tmp_path)
    for name in ("article.html", "list.html", "index.html", "404.html"):
        assert _used_metadata(env, name) == METADATA  # type: ignore[arg-type]


def test_a_theme_gets_what_it_refers_to_through_extends_and_includes(tmp_path: Path) -> None:
    write(tmp_path / "base.html", "<link rel=canonical href='{{ canonical }}'>{% block main %}{% endblock %}")
    write(tmp_path / "part.html", "{% for f in page_feeds %}{{ f }}{% endfor %}")
    write(tmp_path / "article.html", "{% extends 'base.html' %}{% block main %}{% include 'part.html' %}{% endblock %}")
    write(tmp_path / "list.html", "{% extends 'base.html' %}")
    write(tmp_path / "index.html", "{% set which = 'part.html' %}{% include which %}")
    env = environment(tmp_path)
    assert _used_metadata(env, "article.html") == {"canonical", "page_feeds"}  # type: ignore[arg-type]
    assert _used_metadata(env, "list.html") == {"canonical"}  # type: ignore[arg-type]
    # A template named at render time could use anything.
    assert _used_metadata(env, "index.html") == METADATA  # type: ignore[arg-type]


def test_wanted_metadata_is_the_same_as_when_all_is_worked_out() -> None:
    config = Config(title="Daily", base_url="https://example.org/")
    story = Article(source_path=Path("a.md"), slug="a", headline="A <b>", standfirst="S & s",
                    section=Term("World", "world"), digest="d")
    context = {"article": story}
    everything = page_metadata("/world/a/", "article.html", context, "en", config, Links(config))
    assert set(everything) == METADATA and everything["structured_data"]
    for key in METADATA:
        part = page_metadata("/world/a/", "article.html", context, "en", config, Links(config), frozenset({key}))
        assert part == {key: everything[key]}
