"""Cleaning untrusted text: what XML 1.0 forbids goes, whatever script it sits in."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sitegen.sanitize import clean_html, clean_text

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
