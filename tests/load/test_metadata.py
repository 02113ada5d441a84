"""Front matter and sidecar metadata: fields, aliases, time zones, and errors that name the line."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sitegen.errors import ContentError
from sitegen.load import load_article
from sitegen.load.article import LoadSettings
from tests.conftest import write

SETTINGS = LoadSettings("en", ZoneInfo("Asia/Ho_Chi_Minh"), "News")


def load(tmp_path: Path, name: str, text: str | bytes, sidecar: str | None = None):  # type: ignore[no-untyped-def]
    path = write(tmp_path / name, text)
    if sidecar is not None:
        write(path.with_suffix(".yaml"), sidecar)
    return load_article(path, SETTINGS)[0]


def test_sidecar_gives_wire_copy_its_metadata(tmp_path: Path) -> None:
    article = load(tmp_path, "a.txt", "Head\nStand\nBody./.",
                   "published: 2022-05-27T08:30:00+07:00\nauthors: [A B]\nsection: World\ntags: x, y\nslug: custom\n")
    assert article.published == datetime(2022, 5, 27, 8, 30, tzinfo=timezone(timedelta(hours=7)))
    assert [a.name for a in article.authors] == ["A B"]
    assert article.section is not None and article.section.slug == "world"
    assert [t.slug for t in article.tags] == ["x", "y"]
    assert article.slug == "custom"


def test_front_matter_on_wire_copy(tmp_path: Path) -> None:
    article = load(tmp_path, "a.txt", "---\ndate: 2022-01-02\nlanguage: vi\n---\nTiêu đề\nSapo\nThân bài.")
    assert article.headline == "Tiêu đề" and article.language == "vi"
    # A bare date is midnight in the site's time zone, not the build machine's.
    assert article.published == datetime(2022, 1, 2, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


def test_front_matter_and_sidecar_together_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="sidecar"):
        load(tmp_path, "a.txt", "---\ndate: 2022-01-02\n---\nH\nS", "section: World\n")


def test_bad_date_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ContentError) as info:
        load(tmp_path, "a.md", "---\ntitle: T\ndate: 27/05/2022\n---\nBody")
    assert info.value.path == tmp_path / "a.md" and info.value.line == 3
    assert "not a valid date" in info.value.message and "ISO 8601" in (info.value.hint or "")


def test_bad_sidecar_line_is_in_the_sidecar(tmp_path: Path) -> None:
    with pytest.raises(ContentError) as info:
        load(tmp_path, "a.txt", "H\nS", "section: World\ndraft: maybe\n")
    assert info.value.path == tmp_path / "a.yaml" and info.value.line == 2


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    with pytest.raises(ContentError) as info:
        load(tmp_path, "a.md", "---\ntitle: T\ntags: [a, b\ndate: 2022-01-01\n---\nBody")
    assert "not valid YAML" in info.value.message and info.value.line is not None and info.value.line >= 3


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    with pytest.raises(ContentError) as info:
        load(tmp_path, "a.md", "---\ntitle: T\npublised: 2022-01-01\n---\nBody")
    assert info.value.line == 3 and "published" in (info.value.hint or "")


def test_updated_before_published_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="earlier"):
        load(tmp_path, "a.md", "---\ntitle: T\ndate: 2022-01-02\nupdated: 2022-01-01\n---\nBody")


def test_unquoted_boolean_title_asks_for_quotes(tmp_path: Path) -> None:
    with pytest.raises(ContentError) as info:
        load(tmp_path, "a.md", "---\ntitle: yes\n---\nBody")
    assert info.value.hint == 'quote the value: title: "true"'


@pytest.mark.parametrize("text", [
    "---\ntitle: First\ndate: 2022-01-01\ntitle: Second\n---\nBody",
    "---\ntitle: T\ndate: 2022-01-01\n'title': Second\n---\nBody",
])
def test_a_key_given_twice_is_an_error_at_the_second(tmp_path: Path, text: str) -> None:
    with pytest.raises(ContentError) as info:
        load(tmp_path, "a.md", text)
    assert (info.value.message, info.value.line) == ("front matter gives 'title' twice", 4)


def test_a_sidecar_key_given_twice_is_an_error_in_the_sidecar(tmp_path: Path) -> None:
    with pytest.raises(ContentError) as info:
        load(tmp_path, "a.txt", "Headline\nStandfirst\nBody./.", sidecar="tags: [a]\ntags: [b]\n")
    assert info.value.path is not None and info.value.path.suffix == ".yaml" and info.value.line == 2


def test_a_merge_may_override_keys(tmp_path: Path) -> None:
    text = "---\nbase: &base {title: Base, section: World}\n<<: *base\ntitle: Own\n---\nBody"
    # YAML itself is content with the override; only the metadata's own check ('base' is no field) stops it.
    with pytest.raises(ContentError, match="unknown front matter key 'base'"):
        load(tmp_path, "a.md", text)


def test_numeric_title_is_text(tmp_path: Path) -> None:
    assert load(tmp_path, "a.md", "---\ntitle: 1984\n---\nBody").headline == "1984"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"  \r\n \n", "is empty"),
        (b"Headline\nStandfirst\nCaf\xe9 au lait", "not valid UTF-8"),
    ],
)
def test_unreadable_files(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(ContentError) as info:
        load(tmp_path, "a.txt", data)
    assert message in info.value.message
    assert info.value.line == (3 if b"\xe9" in data else 1)


def test_bom_and_crlf(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "\ufeffHeadline\r\nStandfirst\r\nBody one.\r\nBody two./.".encode())
    article, body = load_article(path, SETTINGS)
    assert article.headline == "Headline"
    assert str(body.html) == "<p>Body one.</p>\n<p>Body two.</p>"


def test_control_characters_are_removed(tmp_path: Path) -> None:
    article = load(tmp_path, "a.txt", "Head\x00line\x1b\nStand\x0bfirst\nBody")
    assert article.headline == "Headline" and article.standfirst == "Standfirst"


def test_vietnamese_slug_transliterates(tmp_path: Path) -> None:
    assert load(tmp_path, "a.txt", "Đà Nẵng đón khách\nS").slug == "da-nang-don-khach"


def test_emoji_only_headline_gets_a_slug(tmp_path: Path) -> None:
    assert load(tmp_path, "🎉.txt", "🎉🎉\nS").slug.startswith("article-")
