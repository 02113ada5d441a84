"""The Markdown reader: same model as wire copy, and raw HTML sanitised."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sitegen.errors import ContentError
from sitegen.load import load_article
from sitegen.load.article import LoadSettings
from sitegen.load.markdown import markdown_to_html
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


def test_title_from_first_heading(tmp_path: Path) -> None:
    article, body = load_article(write(tmp_path / "a.md", "# The Title\n\nBody."), SETTINGS)
    assert article.headline == "The Title" and "The Title" not in str(body.html)


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
