"""Whatever bytes arrive, reading an article gives an article or a located error, never a crash."""

from __future__ import annotations

import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitegen.errors import SitegenError
from sitegen.load import load_or_error
from sitegen.load.article import LoadSettings
from sitegen.model import Article, Body

SETTINGS = LoadSettings("en", ZoneInfo("Asia/Ho_Chi_Minh"), "News")
KEYS = ["title", "date", "updated", "tags", "authors", "section", "language", "slug", "draft", "image",
        "image_width", "corrections", "summary", "unknown"]
VALUES = st.one_of(
    st.text(max_size=30), st.integers(), st.booleans(), st.just("2024-02-30"), st.just("9999-01-01"),
    st.just("[a, b"), st.just("{x: y}"), st.just("&a [1]"), st.just("*a"), st.just("javascript:alert(1)"),
    st.just("2024-01-01T10:00:00+07:00"), st.just("!!python/object:os.system ls"), st.just("'unterminated"),
)
front = st.lists(st.tuples(st.sampled_from(KEYS), VALUES), max_size=6).map(
    lambda pairs: "".join(f"{key}: {value}\n" for key, value in pairs))
OPENINGS = {"none": "{}", "closed": "---\n{}---\n", "unclosed": "---\n{}", "dots": "---\n{}...\n"}
documents = st.tuples(st.sampled_from(sorted(OPENINGS)), front, st.text(max_size=200), st.booleans()).map(
    lambda parts: OPENINGS[parts[0]].format(parts[1]) + parts[2] + ("\r\n" if parts[3] else ""))


@given(documents, st.sampled_from([".md", ".txt"]), st.sampled_from(["", "\ufeff"]))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_reading_never_crashes(document: str, suffix: str, bom: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"article{suffix}"
        path.write_text(bom + document, encoding="utf-8", errors="surrogatepass")
        result = load_or_error(path, SETTINGS)
    assert isinstance(result, (tuple, SitegenError))
    if isinstance(result, SitegenError):
        assert "bug in sitegen" not in (result.hint or ""), result
        assert result.path is not None and result.message
    else:
        article, body = result
        assert isinstance(article, Article) and isinstance(body, Body)
        assert article.headline.strip() and article.slug and body.word_count >= 0


@given(st.binary(max_size=300), st.sampled_from([".md", ".txt"]))
@settings(max_examples=200, deadline=None)
def test_random_bytes_never_crash(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"article{suffix}"
        path.write_bytes(data)
        result = load_or_error(path, SETTINGS)
    assert isinstance(result, SitegenError) or isinstance(result[0], Article)
    if isinstance(result, SitegenError):
        assert "bug in sitegen" not in (result.hint or ""), result
