"""Cleaning untrusted text: what XML 1.0 forbids goes, whatever script it sits in."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sitegen.sanitize import clean_html, clean_text, quote_url, safe_url

_FORBIDDEN = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]"


def _plainly_cleaned(text: str) -> str:
    return re.sub(_FORBIDDEN, "", unicodedata.normalize("NFC", text))


# Every code point, lone surrogates and noncharacters included, among Vietnamese, Arabic and emoji.
_ANY = st.characters(codec=None, exclude_categories=())
_AROUND = st.sampled_from(["Đà Nẵng", "ế", "مرحبا", "🌊", "\uefbf", "\uffbe", "\ufffd", " ", "a"])
_CONTROLS = st.sampled_from([chr(code) for code in [*range(0x20), 0x7F, 0x80, 0x9F]])


@given(st.lists(st.one_of(_ANY, _AROUND, _CONTROLS), max_size=30).map("".join))
@example("Huế\x00")
@example("\ud800 Đà Nẵng")
@example("\ufffe")
@example("\uffff🌊")
@example("\x7f")
@example("e\u0301\x1f")
@settings(max_examples=500)
def test_clean_text_drops_exactly_what_xml_forbids(text: str) -> None:
    cleaned = clean_text(text)
    assert cleaned == _plainly_cleaned(text)
    assert not re.search(_FORBIDDEN, cleaned)


def test_clean_text_keeps_clean_text_itself() -> None:
    text = "Đà Nẵng\tmở cửa\ncầu 🌉 — جسر\r\n\ufffd"
    assert clean_text(text) is text


def test_clean_html_drops_forbidden_characters_and_disallowed_markup() -> None:
    cleaned = clean_html('<p onclick="x()">Huế\x00\ufffe <script>alert(1)</script><img src="a.png"></p>')
    assert cleaned == '<p>Huế <img src="a.png" alt=""></p>'


@pytest.mark.parametrize(("typed", "quoted"), [
    ("https://example.org/a b", "https://example.org/a%20b"),
    (" https://example.org/c d?e=f g#x#y ", "https://example.org/c%20d?e=f%20g#x%23y"),
    ("https://example.org/100%", "https://example.org/100%25"),
    ("https://example.org/%41%zz", "https://example.org/%41%25zz"),
    ('https://example.org/{x}|^`"<>\\[]', "https://example.org/%7Bx%7D%7C%5E%60%22%3C%3E%5C%5B%5D"),
    ("https://example.org/Đà Nẵng/🎉", "https://example.org/Đà%20Nẵng/🎉"),
    ("https://[2001:db8::1]:8080/a\tb\nc", "https://[2001:db8::1]:8080/abc"),
    ("/images/my photo.jpg", "/images/my%20photo.jpg"),
    ("mailto:desk@example.org?subject=a tip", "mailto:desk@example.org?subject=a%20tip"),
    ("https://example.org/a?b=1&c=2#top", "https://example.org/a?b=1&c=2#top"),
])
def test_quote_url_encodes_what_no_url_may_hold_and_nothing_else(typed: str, quoted: str) -> None:
    assert quote_url(typed) == quoted


_URL_PIECES = st.sampled_from(["https://example.org/", "/", "a", " ", "%", "%41", "#", "?", "&", '"', "<",
                               "{", "|", "\\", "^", "`", "[", "]", "Đà", "🎉", "\x85", "\t", "="])


@given(st.lists(_URL_PIECES, max_size=12).map("".join))
@example("https://example.org/a b#c#d")
def test_quoted_urls_are_valid_keep_their_meaning_and_stay_put(url: str) -> None:
    quoted = quote_url(url)
    # What browsers read is unchanged: the same characters once escapes are undone.
    assert unquote(quoted) == unquote(re.sub("[\t\n\r]", "", url.strip("\t\n\f\r ")))
    # The scheme and host are left as written: no escape mends a bad host.
    start = re.match(r"(?:[A-Za-z][A-Za-z0-9+.\-]*:)?(?://[^/?#]*)?", quoted).end()  # type: ignore[union-attr]
    head, _, fragment = quoted[start:].partition("#")
    for part in (head, fragment):
        assert re.fullmatch(r"(?:[!$&'()*+,\-./0-9:;=?@A-Z_a-z~\xa0-\U0010fffd]|%[0-9A-Fa-f]{2})*", part), quoted
    assert quote_url(quoted) == quoted


def test_safe_url_quotes_and_refuses_a_host_no_escape_can_mend() -> None:
    assert safe_url("https://images.example.org/a photo.jpg") == "https://images.example.org/a%20photo.jpg"
    assert safe_url("https://images exam.org/a.jpg") is None
    assert safe_url("java\tscript:alert(1)") is None


def test_clean_html_quotes_link_image_and_quote_urls_and_leaves_good_ones_as_they_are() -> None:
    html = ('<p><a href=" https://example.org/c d?e=f&amp;g">raw</a> <img src="x y.png" alt="a"> '
            '<q cite="a b">q</q> <a href="https://example.org/&quot;x">qq</a> <a href="https://ok.example/?a=1&amp;b=Đà">ok</a></p>')
    assert clean_html(html) == (
        '<p><a href="https://example.org/c%20d?e=f&amp;g">raw</a> <img src="x%20y.png" alt="a"> '
        '<q cite="a%20b">q</q> <a href="https://example.org/%22x">qq</a> <a href="https://ok.example/?a=1&amp;b=Đà">ok</a></p>')


def test_clean_html_makes_an_h1_an_h2_and_only_the_tag() -> None:
    html = '<h1 title="a <h1> b">Head</h1><p>&lt;h1&gt; as text</p><pre><code>&lt;/h1&gt;</code></pre>'
    assert clean_html(html) == '<h2 title="a &lt;h1&gt; b">Head</h2><p>&lt;h1&gt; as text</p><pre><code>&lt;/h1&gt;</code></pre>'
