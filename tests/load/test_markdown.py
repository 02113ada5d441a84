"""The Markdown reader: same model as wire copy, and raw HTML sanitised."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import markdown as md
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sitegen.errors import ContentError
from sitegen.load import load_article
from sitegen.load.article import LoadSettings
from sitegen.load.markdown import (
    EXTENSIONS,
    _BracketText,
    _converter,
    _inline_starts,
    _NormalizeWhitespace,
    _SkippingInlineProcessor,
    _unneeded_patterns,
    markdown_to_html,
)
from sitegen.sanitize import clean_html
from tests.conftest import write

SETTINGS = LoadSettings("en", ZoneInfo("UTC"), "News")


def test_markdown_article(tmp_path: Path) -> None:
    path = write(tmp_path / "a.md", "---\ntitle: Hello\nsummary: Sum\nimage: https://x.example/a.jpg\n"
                 "image_alt: An alt\nimage_credit: VNA\n---\nSome *text* here.\n\n## Sub\n\nMore.")
    article, body = load_article(path, SETTINGS)
    assert (article.headline, article.standfirst) == ("Hello", "Sum")
    html = str(body.html)
    assert html.startswith('<figure class="figure"><img src="https://x.example/a.jpg" alt="An alt"')
    assert '<span class="figure-credit">Photo: VNA</span>' in html
    assert "<em>text</em>" in html and "<h2>Sub</h2>" in html
    assert body.word_count == 5


def test_words_are_counted_as_a_reader_counts_them(tmp_path: Path) -> None:
    # Contractions and possessives are one word each; markup and entities are not words.
    path = write(tmp_path / "a.md", "---\ntitle: T\n---\nDon't cross Đà Nẵng's *old*&nbsp;bridge, [now](https://x.example/).")
    assert load_article(path, SETTINGS)[1].word_count == 7


def test_title_from_first_heading(tmp_path: Path) -> None:
    article, body = load_article(write(tmp_path / "a.md", "# The Title\n\nBody."), SETTINGS)
    assert article.headline == "The Title" and "The Title" not in str(body.html)


def test_a_heading_written_with_one_hash_under_a_title_is_a_subhead(tmp_path: Path) -> None:
    path = write(tmp_path / "a.md", "---\ntitle: T\n---\n# Subhead\n\nText.\n\n<h1 id=\"raw\">Raw</h1>\n\n## Sub 2\n")
    html = str(load_article(path, SETTINGS)[1].html)
    assert html == '<h2>Subhead</h2>\n<p>Text.</p>\n<h2 id="raw">Raw</h2>\n\n<h2>Sub 2</h2>'


def test_missing_title_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="no title"):
        load_article(write(tmp_path / "a.md", "---\ndate: 2022-01-01\n---\nBody only."), SETTINGS)


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        '<a href="javascript:alert(1)">x</a>',
        '<a href="  JaVaScRiPt:alert(1)">x</a>',
        '<a href="java&#x09;script:alert(1)">x</a>',
        "[x](javascript:alert(1))",
        "[x](vbscript:msgbox(1))",
        '<img src="x" onerror="alert(1)">',
        '<iframe src="https://evil.example"></iframe>',
        '<svg onload="alert(1)"></svg>',
        '<div style="background:url(javascript:alert(1))">x</div>',
        '<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>',
        "<style>body{display:none}</style>",
        '<form action="https://evil.example"><input name="q"></form>',
    ],
)
def test_dangerous_markup_never_survives(source: str) -> None:
    html = markdown_to_html(source).lower()
    for bad in ("<script", "javascript:", "vbscript:", "onerror", "onload", "<iframe", "<svg", "style=",
                "data:text", "<style", "<form", "<input"):
        assert bad not in html


def test_safe_markup_survives() -> None:
    html = markdown_to_html('<p lang="fr">Bonjour</p>\n\n[link](https://example.com/?a=1&b=2)\n\n| a | b |\n|---|---|\n| 1 | 2 |')
    assert '<p lang="fr">Bonjour</p>' in html
    assert '<a href="https://example.com/?a=1&amp;b=2">link</a>' in html
    assert "<table>" in html


# Whole constructs (so that each pattern really fires) mixed with loose marks (so that some nearly do).
_PIECES = st.sampled_from([
    "word", " ", "\n", "\n\n", "\t\n", "  \n", "_em_", "*em*", "**strong**", "__strong__", "`code`", "``a`b``",
    "[a](https://x.example/)", "![i](https://x.example/i.png)", "[r][1]", "[1]: https://x.example/", "[^1]",
    "[^1]: note", "<https://x.example/>", "<a@b.example>", "<b>bold</b>", "&amp;", "&#169;", "\\*", "\\_",
    "*[HTML]: Hyper Text", "HTML", "~~~\ncode\n~~~\n", "| a | b |\n|---|---|\n| 1 | 2 |\n", "Term\n: Definition\n",
    "*", "_", "`", "[", "]", "(", ")", "!", "<", ">", "&", "\\", "# ", "- ", "1. ",
    "```\ncode\n```\n", ": ", ":\t", ":", "|", "<div>x</div>", "> ", "    ", "\t", "[^", "*[", "~~~",
    # Block constructs, nested ones too: quotes and list items are parsed again with their prefixes stripped.
    "Title\n---\n", "Title\n===\n", "---", "===", "- - -", "* * *", "___", "_ _ _", "--", "-", "=", "#",
    "## Heading", "# Heading #", "\n> ", "> a\n> ---\n", "> a\n>\t===\n", "- a\n  ---\n", "1. a\n    b\n    ---\n",
    "> ## quoted heading\n", "> > nested\n", "- item\n\n    > quote\n", "[r]: https://x.example/ \"t\"\n",
    "\r", "\r\n", "\r---", "-\t-\t-", "<div>x</div>---\n", "Title\n--- <div>x</div>\n", "===<b>x</b>",
])
@given(st.lists(_PIECES, max_size=40).map("".join))
# A definition whose colon does not start its line: raw HTML before it is stashed first.
@example("<div>Term</div>: definition")
@example("> Title\n> ---\n")
# Python-Markdown turns a lone CR into a line end, and moves raw HTML that opens a block onto its own line.
@example(":\t\re")
@example(";  \r\\")
@example("<div></div>=  <div/v>")
@example("- item\n\n    Title\n    ===\n")
@settings(max_examples=600, deadline=None)
def test_leaving_out_unneeded_patterns_and_extensions_changes_nothing(text: str) -> None:
    filtered = markdown_to_html(text)
    everything = _reference()
    everything.reset()
    assert filtered == clean_html(everything.convert(text))


@cache
def _reference() -> md.Markdown:
    # Python-Markdown as its documentation says to set it up: every extension by name, nothing left out.
    return md.Markdown(extensions=list(EXTENSIONS), output_format="html")


@given(st.text(alphabet="[]()!ab\\ ", max_size=80))
@example("[a]")
@example("[[a]")
@example("[a]]b[")
@example("][[a][b]]")
def test_a_link_text_ends_at_the_bracket_python_markdown_finds(data: str) -> None:
    for upstream in (md.inlinepatterns.LinkInlineProcessor(md.inlinepatterns.LINK_RE),
                     md.inlinepatterns.ImageInlineProcessor(md.inlinepatterns.IMAGE_LINK_RE)):
        fast = _BracketText(upstream.getText)
        for index in range(len(data) + 1):
            assert fast(data, index) == upstream.getText(data, index), (data, index)


def test_every_link_pattern_finds_its_closing_bracket_without_walking_every_character() -> None:
    converter = _converter(frozenset())
    linking = [p for p in converter.inlinePatterns if isinstance(p, md.inlinepatterns.LinkInlineProcessor)]
    assert {p.__class__.__name__ for p in linking} >= {"LinkInlineProcessor", "ImageInlineProcessor",
                                                       "ReferenceInlineProcessor", "ShortReferenceInlineProcessor"}
    assert all(isinstance(p.getText, _BracketText) for p in linking)
    assert markdown_to_html("A [b [c] d](/e) and ![f](/g.png) [h]") == \
        '<p>A <a href="/e">b [c] d</a> and <img alt="f" src="/g.png"> [h]</p>'


@given(st.lists(st.sampled_from([" ", "  ", "\t", "\n", "\r", "\r\n", "a", "\x02", "\x03", "é"]), max_size=60)
       .map("".join))
@example("\n \n \n")
@example("  \nx")
def test_whitespace_is_normalised_as_python_markdown_does(text: str) -> None:
    lines = text.split("\n")
    converter = md.Markdown()
    assert _NormalizeWhitespace(converter).run(lines) == md.preprocessors.NormalizeWhitespace(converter).run(lines)


def test_unescaping_is_left_out_only_without_a_backslash() -> None:
    assert "tree:unescape" in _unneeded_patterns("Plain words.\n")
    assert "tree:unescape" not in _unneeded_patterns("Not \\*emphasis\\*.\n")
    assert markdown_to_html("Not \\*emphasis\\*.\n") == "<p>Not *emphasis*.</p>"
    assert "unescape" not in _converter(frozenset({"tree:unescape"})).treeprocessors


def test_paragraphs_without_a_pattern_start_are_left_as_they_are() -> None:
    text = "Plain first paragraph.\n\nA [link](https://x.example/) and *emphasis*.\n\nLast, plain.\n"
    converter = _converter(_unneeded_patterns(text))
    inline = converter.treeprocessors["inline"]
    assert isinstance(inline, _SkippingInlineProcessor) and set(inline._starts) == {"[", "*", "_"}
    assert markdown_to_html(text) == ('<p>Plain first paragraph.</p>\n<p>A <a href="https://x.example/">link</a> and '
                                      "<em>emphasis</em>.</p>\n<p>Last, plain.</p>")


def test_an_unknown_inline_pattern_turns_skipping_off() -> None:
    assert _inline_starts(md.Markdown().inlinePatterns) == ("  \n", "![", "&", "*", "<", "[", "\\", "_", "`")
    assert _inline_starts(md.Markdown(extensions=["nl2br"]).inlinePatterns) is None
    strikethrough = md.Markdown()
    strikethrough.inlinePatterns["em_strong"].add("~", "del")  # type: ignore[attr-defined]
    assert "~" in (_inline_starts(strikethrough.inlinePatterns) or ())
    assert isinstance(_converter(frozenset()).treeprocessors["inline"], _SkippingInlineProcessor)


def test_plain_copy_skips_patterns_it_cannot_use() -> None:
    assert {"backtick", "html", "entity", "link"} <= _unneeded_patterns("Plain words, and more words.\n")
    assert "link" not in _unneeded_patterns("A [link](https://x.example/).")
    assert {"tables", "footnotes", "def_list", "abbr", "fenced_code"} <= _unneeded_patterns("He said, plainly.\n")
    assert "def_list" not in _unneeded_patterns("<div>Term</div>: its definition")
    plain = _unneeded_patterns("Officials said the bridge, well-known in Đà Nẵng, opened on May 2, 2024.\n")
    assert {"block:reference", "block:hashheader", "block:quote", "block:hr", "block:setextheader"} <= plain
    # Raw HTML blocks are looked for only in text with a tag or a character reference.
    assert "pre:html_block" in plain
    assert "pre:html_block" not in _unneeded_patterns("A <b>bold</b> claim.\n")
    assert "pre:html_block" not in _unneeded_patterns("Fish &amp; chips.\n")
    assert "footnotes" in plain and "footnotes" not in _unneeded_patterns("A claim.[^1]\n\n[^1]: A note.\n")
    # An underline inside a quote still counts, as does a rule whose marks a tab separates.
    assert "block:setextheader" not in _unneeded_patterns("> Title\n> ---\n")
    assert "block:hr" not in _unneeded_patterns("-\t-\t-\n")
    # A block processor is left out, never the inline pattern of the same name.
    converter = _converter(frozenset({"block:reference"}))
    assert "reference" in converter.inlinePatterns and "reference" not in converter.parser.blockprocessors
