"""Rendering works out only the page metadata a theme's templates refer to."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

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


_PRINTING = (
    "{{ value }}|<p title='{{ value }}'>{{ value }}</p>|{% set held %}<b>{{ value }}</b>{% endset %}{{ held }}"
    "|{% macro box(v) %}<i>{{ v }}</i>{% endmacro %}{{ box(value) }}|{{ value ~ '<' }}|{{ [value]|join(',') }}"
    "|{% for c in [value, value] %}{{ loop.index }}{{ c }}{% endfor %}|{{ value if value else '&' }}"
)


class _Html:
    def __html__(self) -> str:
        return "<em>trusted</em>"


@given(st.one_of(st.text(), st.integers(), st.just(Markup("<b>&amp;</b>")), st.builds(_Html), st.none()))
def test_printed_values_are_escaped_as_jinja_itself_escapes_them(value: object) -> None:
    ours = make_environment(Config(), [], {})
    theirs = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    assert "escape_output(" in str(ours.compile(_PRINTING, raw=True))
    assert ours.from_string(_PRINTING).render(value=value) == theirs.from_string(_PRINTING).render(value=value)


def test_an_undefined_value_printed_is_still_an_error() -> None:
    with pytest.raises(jinja2.UndefinedError):
        make_environment(Config(), [], {}).from_string("<p>{{ missing }}</p>").render()
