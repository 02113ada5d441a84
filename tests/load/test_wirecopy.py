"""The wire-copy parser: the seed's layout, its variations, and properties under random input."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitegen.errors import ContentError
from sitegen.load.wirecopy import Paragraph, parse_wire_copy, split_credit
from sitegen.model import Figure

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_e17ba6d16a15c0b0.txt"


def paragraphs(text: str) -> list[str]:
    return [b.text for b in parse_wire_copy(text).blocks if isinstance(b, Paragraph)]


def test_seed_parts() -> None:
    wire = parse_wire_copy(SEED.read_text(encoding="utf-8"))
    assert wire.headline == "US warns Ukraine about using NATO weapons to attack Russian territory"
    assert wire.standfirst.startswith("If Ukraine uses NATO-supplied weapons")
    figures = [b for b in wire.blocks if isinstance(b, Figure)]
    assert figures == [Figure(src=None, alt="", caption="The M777 howitzer is one of the weapons the US has "
                              "provided to Ukraine.", credit="US Marine Corps")]
    texts = [b.text for b in wire.blocks if isinstance(b, Paragraph)]
    assert len(texts) == 9
    # The end mark goes; the sentence's own full stop stays.
    assert texts[-1].endswith('"immediately lead to a proportionate response".')
    assert "/." not in texts[-1]
    # The figure sits where it stood in the copy: after the second paragraph.
    assert isinstance(wire.blocks[2], Figure)


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("The howitzer. Photo: US Marine Corps", ("The howitzer.", "US Marine Corps")),
        ("The howitzer (Photo: VNA)", ("The howitzer", "VNA")),
        ("Cầu Rồng về đêm. Ảnh: Nguyễn Văn A", ("Cầu Rồng về đêm.", "Nguyễn Văn A")),
        ("Cầu Rồng về đêm. (Ảnh: TTXVN)", ("Cầu Rồng về đêm.", "TTXVN")),
        ("Photo: Reuters", ("", "Reuters")),
        ("A photograph without a credit", ("A photograph without a credit", None)),
        ("Photographers: none here", ("Photographers: none here", None)),
    ],
)
def test_split_credit(caption: str, expected: tuple[str, str | None]) -> None:
    assert split_credit(caption) == expected


def test_image_with_source_and_source_line() -> None:
    text = ("Headline\nStandfirst\nPara one.\n![Alt text](https://img.example/x.jpg) |\n"
            "Caption here (Ảnh: TTXVN) |\nPara two.\n(Source: VNA)./.")
    wire = parse_wire_copy(text)
    assert wire.source == "VNA"
    assert wire.blocks[1] == Figure(src="https://img.example/x.jpg", alt="Alt text", caption="Caption here",
                                    credit="TTXVN")
    assert paragraphs(text) == ["Para one.", "Para two."]


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        ("Last sentence./.", "Last sentence."),
        ("Last sentence/.", "Last sentence"),
        ("Last sentence.\n./.", "Last sentence."),
        ("Last sentence. ./. ", "Last sentence."),
        ("Last sentence.\r\n/.", "Last sentence."),
    ],
)
def test_end_mark_variants(last: str, expected: str) -> None:
    assert paragraphs("H\nS\n" + last.replace("\r\n", "\n")) == [expected]


def test_source_line_before_a_lone_end_mark() -> None:
    wire = parse_wire_copy("H\nS\nBody.\n(Nguồn: TTXVN)\n./.")
    assert wire.source == "TTXVN"
    assert paragraphs("H\nS\nBody.\n(Nguồn: TTXVN)\n./.") == ["Body."]


def test_dangerous_image_source_is_dropped_but_caption_kept() -> None:
    wire = parse_wire_copy("H\nS\n![x](javascript:alert(1)) |\nCaption. Photo: A |")
    figure = wire.blocks[0]
    assert isinstance(figure, Figure)
    assert figure.src is None and figure.caption == "Caption." and figure.credit == "A"


def test_image_without_caption_line() -> None:
    wire = parse_wire_copy("H\nS\n![](a.jpg) |\nA normal paragraph.")
    assert wire.blocks == (Figure(src="a.jpg", alt="", caption="", credit=None), Paragraph("A normal paragraph.", 4))


@pytest.mark.parametrize(("line", "src"), [
    ("![](https://img.example/a b.jpg) |", "https://img.example/a%20b.jpg"),
    ('![x](https://img.example/c d.jpg "A title") |', "https://img.example/c%20d.jpg"),
    ("![](https://img.example/e (1).jpg)", "https://img.example/e%20(1).jpg"),
])
def test_an_image_url_typed_with_spaces_is_still_an_image(line: str, src: str) -> None:
    wire = parse_wire_copy(f"H\nS\n{line}\nCaption |")
    assert wire.blocks == (Figure(src=src, alt=line[2:line.index("]")], caption="Caption", credit=None),)


def test_empty_text_is_an_error() -> None:
    with pytest.raises(ContentError) as info:
        parse_wire_copy("\n\n  \n", Path("x.txt"))
    assert info.value.line == 1 and "headline" in (info.value.hint or "")


def test_headline_only() -> None:
    wire = parse_wire_copy("Just a headline")
    assert (wire.headline, wire.standfirst, wire.blocks) == ("Just a headline", "", ())


# Paragraph text that cannot be mistaken for wire-copy syntax: no image lines, caption cells or marks.
plain_line = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="|!/\u0085\u2028\u2029"),
    min_size=1, max_size=60,
).map(str.strip).filter(lambda s: bool(s) and not s.startswith(("(", "Source", "source", "Nguồn")))


@given(st.lists(plain_line, min_size=3, max_size=12))
@settings(max_examples=300, deadline=None)
def test_paragraphs_round_trip(lines: list[str]) -> None:
    wire = parse_wire_copy("\n".join(lines))
    assert wire.headline == lines[0]
    assert wire.standfirst == lines[1]
    assert [b.text for b in wire.blocks if isinstance(b, Paragraph)] == lines[2:]


@given(st.text(max_size=400))
@settings(max_examples=500, deadline=None)
def test_never_crashes(text: str) -> None:
    try:
        wire = parse_wire_copy(text)
    except ContentError as error:
        assert not text.strip() or "headline" in error.message
        return
    assert wire.headline and "\n" not in wire.headline
    for block in wire.blocks:
        if isinstance(block, Figure):
            assert block.src is None or not block.src.lower().startswith("javascript")
