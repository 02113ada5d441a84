"""Published URLs never break: the record, redirects on every kind of move, aliases, take-downs, feed ids, CI."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from unittest import mock

import feedparser
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sitegen.published
from sitegen.build import BuildOptions
from sitegen.model import Article
from sitegen.published import (
    RECORD_NAME,
    STATES,
    Entry,
    RecordText,
    UrlRecord,
    identity,
    read_record,
    render_record,
    write_record,
)
from sitegen.serve import ServeOptions, Server
from tests.conftest import build_into, count_plans, run_vnu, write
from tests.test_build import tree_digest
from tests.test_theme_browser import browsing

CONFIG = 'title = "T"\nbase_url = "https://example.org/news/"\n'


def story(title: str, section: str = "News", extra: str = "", date: str = "2024-05-01T10:00:00Z") -> str:
    return f"---\ntitle: {title}\ndate: {date}\nsection: {section}\n{extra}---\nText of {title}.\n"


def lines(site: Path) -> list[str]:
    return [line for line in (site / RECORD_NAME).read_text(encoding="utf-8").splitlines() if not line.startswith("#")]


def redirect_target(out: Path, url: str) -> str:
    page = (out / url.strip("/") / "index.html").read_text(encoding="utf-8")
    assert '<meta name="robots" content="noindex">' in page and "<a href=" in page
    return re.search(r'<link rel="canonical" href="([^"]+)">', page).group(1)  # type: ignore[union-attr]


@pytest.fixture
def site(make_site: Callable[..., Path]) -> Path:
    return make_site({"seeds/news/story.md": story("Original headline here"),
                      "seeds/news/other.md": story("Another story", date="2024-04-01T10:00:00Z")}, config=CONFIG)


def test_a_headline_correction_redirects_and_keeps_the_feed_id(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_into(site, out)
    before = lines(site)
    assert before == ["/news/another-story/\tlive\tnews/other.md\tfirst",
                      "/news/original-headline-here/\tlive\tnews/story.md\tfirst"]
    feed_before = {e.title: e.id for e in feedparser.parse((out / "feed.xml").read_bytes()).entries}
    rss_before = {e.title: e.id for e in feedparser.parse((out / "rss.xml").read_bytes()).entries}
    write(site / "seeds/news/story.md", story("Corrected headline now"))
    report = build_into(site, out)
    assert any("moved from /news/original-headline-here/ to /news/corrected-headline-now/" in w and "story.md" in w
               for w in report.warnings)
    # The record changed by exactly that article: its old URL moved, its new one is live.
    assert sorted(set(lines(site)) ^ set(before)) == sorted([
        "/news/corrected-headline-now/\tlive\tnews/story.md", "/news/original-headline-here/\tlive\tnews/story.md\tfirst",
        "/news/original-headline-here/\tmoved\tnews/story.md\tfirst"])
    assert redirect_target(out, "/news/original-headline-here/") == "https://example.org/news/news/corrected-headline-now/"
    assert (out / "_redirects").read_text() == \
        "/news/news/original-headline-here/ /news/news/corrected-headline-now/ 301\n"
    feed = feedparser.parse((out / "feed.xml").read_bytes())
    assert {e.title: e.id for e in feed.entries}["Corrected headline now"] == feed_before["Original headline here"]
    rss = feedparser.parse((out / "rss.xml").read_bytes())
    assert {e.title: e.id for e in rss.entries}["Corrected headline now"] == rss_before["Original headline here"]
    sitemap = (out / "sitemap.xml").read_text()
    assert "corrected-headline-now" in sitemap and "original-headline-here" not in sitemap
    assert "original-headline-here" not in (out / "news-sitemap.xml").read_text()
    assert run_vnu(out) == ""


def test_chains_collapse_onto_the_newest_url(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    for title in ("Original headline here", "Second headline", "Third headline"):
        write(site / "seeds/news/story.md", story(title))
        build_into(site, out)
    assert (out / "_redirects").read_text().splitlines() == [
        "/news/news/original-headline-here/ /news/news/third-headline/ 301",
        "/news/news/second-headline/ /news/news/third-headline/ 301"]
    assert redirect_target(out, "/news/second-headline/").endswith("/news/third-headline/")


def test_a_headline_changed_back_takes_its_url_back_from_its_redirect_by_an_edit_build(
        site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    build_into(site, out)
    planned = count_plans(monkeypatch)
    # An editor tries a headline and goes back to the first, then to the second again.
    for number, title in enumerate(("Second headline", "Original headline here", "Second headline")):
        write(site / "seeds/news/story.md", story(title))
        report = build_into(site, out)
        assert planned == [], f"edit {number + 1} planned the whole site"
        fresh = tmp_path / f"fresh{number}"
        shutil.copytree(site, fresh, ignore=shutil.ignore_patterns(".sitegen-cache", "build"))
        fresh_report = build_into(fresh, tmp_path / f"fresh{number}-out", cache=False)
        assert tree_digest(out) == tree_digest(tmp_path / f"fresh{number}-out")
        assert (report.pages, report.files) == (fresh_report.pages, fresh_report.files)
        planned.clear()
    assert (out / "_redirects").read_text() == \
        "/news/news/original-headline-here/ /news/news/second-headline/ 301\n"
    assert redirect_target(out, "/news/original-headline-here/").endswith("/news/second-headline/")
    assert "Text of Second headline." in (out / "news/second-headline/index.html").read_text()


def test_a_new_section_and_a_new_permalink_pattern_redirect_every_old_url(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_into(site, out)
    write(site / "seeds/news/story.md", story("Original headline here", section="World"))
    build_into(site, out)
    assert redirect_target(out, "/news/original-headline-here/").endswith("/world/original-headline-here/")
    write(site / "sitegen.toml", CONFIG + '[permalinks]\narticle = "/{year}/{month}/{slug}/"\n')
    build_into(site, out)
    for old in ("/news/original-headline-here/", "/world/original-headline-here/"):
        assert redirect_target(out, old).endswith("/2024/05/original-headline-here/")
    assert redirect_target(out, "/news/another-story/").endswith("/2024/04/another-story/")


def test_a_renamed_file_with_an_id_keeps_its_history(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({"seeds/a.md": story("First title", extra="id: flood-2024\n")}, config=CONFIG)
    out = tmp_path / "out"
    build_into(site, out)
    (site / "seeds/a.md").rename(site / "seeds/renamed.md")
    write(site / "seeds/renamed.md", story("Second title", extra="id: flood-2024\n"))
    build_into(site, out)
    assert lines(site) == ["/news/first-title/\tmoved\tid:flood-2024\tfirst", "/news/second-title/\tlive\tid:flood-2024"]
    assert redirect_target(out, "/news/first-title/").endswith("/news/second-title/")


def test_aliases_redirect_old_urls_from_another_system(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({"seeds/a.md": story("Imported", extra="aliases: [/2019/05/imported-story/, /?p=12]\n")},
                     config=CONFIG)
    report = build_into(site, tmp_path / "out")
    assert report.errors and "aliases" in report.errors[0].message and report.errors[0].line == 5
    write(site / "seeds/a.md", story("Imported", extra="aliases: [/2019/05/imported-story/, /old/page.html]\n"))
    out = tmp_path / "out"
    assert not build_into(site, out).errors
    assert redirect_target(out, "/2019/05/imported-story/").endswith("/news/imported/")
    assert "/news/imported/" in (out / "old/page.html").read_text()
    assert "/news/2019/05/imported-story/ /news/news/imported/ 301" in (out / "_redirects").read_text()


def test_an_alias_never_replaces_a_file_or_page(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({"seeds/a.md": story("A", extra="aliases: [/static/css/site.css, /_redirects, /feed.xml, /, /old/]\n")},
                     config=CONFIG)
    out = tmp_path / "out"
    report = build_into(site, out)
    assert not report.errors and sum("alias" in w for w in report.warnings) == 4
    # The static copy would hide a redirect page over the stylesheet; _redirects would not.
    assert (out / "_redirects").read_text() == "/news/old/ /news/news/a/ 301\n"
    assert "<feed" in (out / "feed.xml").read_text() and not (out / "static/css/site.css/index.html").exists()


@pytest.mark.parametrize("alias", ["https://evil.example/x", "//evil.example/x", "/a/../../b", "relative/path"])
def test_an_alias_can_never_point_off_site(make_site: Callable[..., Path], tmp_path: Path, alias: str) -> None:
    site = make_site({"seeds/a.md": story("A", extra=f"aliases: ['{alias}']\n")}, config=CONFIG)
    report = build_into(site, tmp_path / "out")
    assert [e.path.name for e in report.errors] == ["a.md"]


def test_a_url_a_redirect_held_goes_to_the_new_story_with_a_warning(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_into(site, out)
    write(site / "seeds/news/story.md", story("Corrected headline now"))
    build_into(site, out)
    write(site / "seeds/news/new.md", story("Original headline here", date="2024-06-01T10:00:00Z"))
    report = build_into(site, out)
    assert any("new.md: takes over /news/original-headline-here/" in w for w in report.warnings)
    assert "Text of Original headline here" in (out / "news/original-headline-here/index.html").read_text()
    assert "original-headline-here" not in (out / "_redirects").read_text() if (out / "_redirects").exists() else True


def test_a_story_taken_down_is_not_redirected_and_its_url_is_remembered(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_into(site, out)
    (site / "seeds/news/story.md").unlink()
    report = build_into(site, out)
    assert any("taken down" in w for w in report.warnings)
    assert not (out / "news/original-headline-here").exists() and not (out / "_redirects").exists()
    assert "/news/original-headline-here/\tgone\tnews/story.md\tfirst" in lines(site)
    write(site / "seeds/news/impostor.md", story("Original headline here"))
    report = build_into(site, out)
    assert any("takes over /news/original-headline-here/" in w and "taken down" in w for w in report.warnings)


def test_a_draft_is_taken_down_and_published_again(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_into(site, out)
    write(site / "seeds/news/story.md", story("Original headline here", extra="draft: true\n"))
    build_into(site, out)
    assert "/news/original-headline-here/\tgone\tnews/story.md\tfirst" in lines(site)
    write(site / "seeds/news/story.md", story("Original headline here"))
    build_into(site, out)
    assert "/news/original-headline-here/\tlive\tnews/story.md\tfirst" in lines(site)
    # Previews with drafts publish nothing, so they write nothing to the record.
    write(site / "seeds/news/draft.md", story("Secret plan", extra="draft: true\n"))
    build_into(site, tmp_path / "preview", drafts=True)
    assert not any("secret-plan" in line for line in lines(site))


def test_a_fresh_copy_rebuilds_the_same_redirects_byte_for_byte(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_into(site, out)
    write(site / "seeds/news/story.md", story("Corrected headline now"))
    build_into(site, out)
    copy = tmp_path / "copy"
    shutil.copytree(site, copy, ignore=shutil.ignore_patterns(".sitegen-cache", "build"))
    build_into(copy, tmp_path / "fresh", cache=False)
    assert tree_digest(out) == tree_digest(tmp_path / "fresh")
    assert (copy / RECORD_NAME).read_bytes() == (site / RECORD_NAME).read_bytes()


def test_frozen_urls_fails_on_an_unrecorded_move_naming_the_article(site: Path, tmp_path: Path) -> None:
    build_into(site, tmp_path / "out")
    recorded = (site / RECORD_NAME).read_bytes()
    write(site / "seeds/news/story.md", story("Corrected headline now"))
    result = subprocess.run([sys.executable, "-m", "sitegen", "build", "--source", str(site), "--output",
                             str(tmp_path / "ci"), "--frozen-urls"], capture_output=True, text=True)
    assert result.returncode == 1
    assert "story.md" in result.stderr and "moved from /news/original-headline-here/" in result.stderr
    assert (site / RECORD_NAME).read_bytes() == recorded
    # Once the move is recorded (and committed), CI passes.
    build_into(site, tmp_path / "out")
    assert not build_into(site, tmp_path / "ci", frozen_urls=True).errors


def test_a_damaged_record_is_an_error_at_its_line(site: Path, tmp_path: Path) -> None:
    write(site / RECORD_NAME, "# header\n/news/x/\tlive\tnews/x.md\n/news/y/ broken line\n")
    with pytest.raises(Exception) as caught:
        read_record(site / RECORD_NAME)
    assert getattr(caught.value, "line", None) == 3


_REDIRECT_LINE = re.compile(r"(/[^\s]*) (/[^\s]*) 301")


def test_redirects_file_follows_the_documented_format_and_chromium_follows_the_redirect(
        site: Path, tmp_path: Path) -> None:
    root = tmp_path / "served"
    out = root / "news"
    build_into(site, out)
    write(site / "seeds/news/story.md", story("Corrected headline now", extra='aliases: ["/old path/é/"]\n'))
    build_into(site, out)
    for line in (out / "_redirects").read_text().splitlines():
        # Netlify and Cloudflare Pages: 'from to status', space-separated, paths percent-encoded.
        assert _REDIRECT_LINE.fullmatch(line), line
        assert line.split()[0].startswith("/news/") and line.split()[1].startswith("/news/")
    assert "/news/old%20path/%C3%A9/ /news/news/corrected-headline-now/ 301" in (out / "_redirects").read_text()
    with browsing(root) as (address, browser):
        page = browser.new_page()
        page.goto(f"{address}/news/news/original-headline-here/")
        page.wait_for_url("**/news/news/corrected-headline-now/")
        assert page.locator("h1").inner_text() == "Corrected headline now"
    assert run_vnu(out) == ""


def test_a_new_story_is_recorded_by_the_build_after_edits(make_site: Callable[..., Path], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    site = make_site({f"seeds/news/s{i:02}.md": story(f"Story {i}", date=f"2024-01-{i + 1:02}T10:00:00Z")
                      for i in range(20)}, config=CONFIG + "page_size = 5\n")
    out = tmp_path / "out"
    build_into(site, out)
    planned = count_plans(monkeypatch)
    write(site / "seeds/news/new.md", story("Just in", date="2024-01-15T11:00:00Z"))
    build_into(site, out)
    assert planned == [] and "/news/just-in/\tlive\tnews/new.md\tfirst" in lines(site)
    # The record's new line does not make the next build redo anything.
    assert build_into(site, out).unchanged
    shutil.rmtree(site / ".sitegen-cache")
    build_into(site, tmp_path / "fresh", cache=False)
    assert tree_digest(out) == tree_digest(tmp_path / "fresh")


def test_serve_redirects_a_moved_story_and_writes_no_record(site: Path) -> None:
    server = Server(ServeOptions(BuildOptions(source=site), port=0), lambda message: None)
    server.start()
    try:
        assert not (site / RECORD_NAME).exists()
        # This process forks the build's workers: not while the server's warming holds SQLite's locks.
        assert server.preview.wait_until_warm()
        build_into(site, site / "build")
        recorded = (site / RECORD_NAME).read_bytes()
        write(site / "seeds/news/story.md", story("Corrected headline now"))
        # Served under the base URL's path, /news/, as on its host.
        url = f"{server.url}news/original-headline-here/"
        deadline = time.monotonic() + 15
        text = ""
        while time.monotonic() < deadline and "corrected-headline-now" not in text:
            time.sleep(0.1)
            with urllib.request.urlopen(url) as response:
                text = response.read().decode()
        assert 'http-equiv="refresh" content="0; url=../../news/corrected-headline-now/"' in text
        assert (site / RECORD_NAME).read_bytes() == recorded
    finally:
        server.stop()


def test_a_record_written_is_read_back_as_written_without_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / RECORD_NAME
    record = {"/world/b/": Entry("live", "world/b.md", True), "/world/a/": Entry("moved", "world/b.md"),
              "/sport/c/": Entry("gone", "id:c", True)}
    assert write_record(path, record)
    parsed = sitegen.published._parse_record(path, path.read_text(encoding="utf-8"))
    assert parsed == record and list(parsed) == ["/sport/c/", "/world/a/", "/world/b/"]

    def unread(*_: object) -> None:
        raise AssertionError("parsed again")

    # A preview's next build reads what its last one wrote: as parsing would give it, order included.
    monkeypatch.setattr(sitegen.published, "_parse_record", unread)
    again = read_record(path)
    assert again == parsed and list(again) == list(parsed)
    again["/world/d/"] = Entry("live", "world/d.md", True)
    assert "/world/d/" not in read_record(path)


# What a record's fields may hold: anything but a tab or newline (a file name's are escaped), line
# breaks of other kinds included, which a reader splitting lines as str.splitlines does would break.
_FIELD = st.text(st.characters(blacklist_characters="\t\n\r", blacklist_categories=("Cs",)), min_size=1, max_size=8)
_RECORDS = st.dictionaries(st.builds("/{}".format, _FIELD),
                           st.builds(Entry, st.sampled_from(STATES), _FIELD | st.sampled_from((*STATES, "first")), st.booleans()),
                           max_size=10)


@given(record=_RECORDS, crlf=st.booleans())
def test_a_record_looked_up_in_its_text_answers_as_the_parsed_record(record: dict[str, Entry], crlf: bool) -> None:
    text = render_record(record)
    text = text.replace("\n", "\r\n") if crlf else text
    assert sitegen.published._parse_record(Path(RECORD_NAME), text) == record
    looked_up = RecordText(Path(RECORD_NAME), text)
    for url in [*record, "/absent/", *(url[:-1] for url in record)]:
        assert looked_up.get(url) == record.get(url)
    names = {entry.article for entry in record.values()} | {"absent.md", "live"}
    for name in names:
        assert looked_up.of_article(name) == sorted((url, e) for url, e in record.items() if e.article == name)
    live = {name: sorted(url for url, e in record.items() if e.article == name and e.state == "live") for name in names}
    # Looked up by name, and in a pass over the lines.
    for few in (len(names), 0):
        with mock.patch.object(sitegen.published, "FEW_NAMES", few):
            assert RecordText(Path(RECORD_NAME), text).live_urls(names) == {name: urls for name, urls in live.items() if urls}
    for states in (("moved", "alias"), ("moved", "gone", "alias")):
        assert looked_up.in_state(*states) == sorted((url, e) for url, e in record.items() if e.state in states)


def _pairs_by_article(record: dict[str, Entry]) -> list[tuple[str, str]]:
    """Every redirect: each article's moved and alias URLs to its first live one."""
    live: dict[str, str] = {}
    for url, entry in sorted(record.items()):
        if entry.state == "live":
            live.setdefault(entry.article, url)
    return sorted((url, live[e.article]) for url, e in record.items() if e.state in ("moved", "alias") and e.article in live)


@given(record=_RECORDS, changes=_RECORDS)
def test_changes_made_to_a_record_s_text_answer_as_the_record_made_anew(record: dict[str, Entry],
                                                                        changes: dict[str, Entry]) -> None:
    # Changes to lines it has and new ones, each where it sorts.
    changes.update(list(zip(record, changes.values(), strict=False))[: len(changes) // 2])
    text, merged = render_record(record), {**record, **changes}
    assert RecordText(Path(RECORD_NAME), text).spliced(changes) == render_record(merged)
    urls = UrlRecord(RecordText(Path(RECORD_NAME), text), Path("seeds"), None, changes)
    assert urls.first_urls() == {e.article: url for url, e in sorted(merged.items()) if e.first and e.state != "live"}
    assert urls.has_redirects() == any(e.state in ("moved", "alias") for e in merged.values())
    assert urls.redirects_changed() == (_pairs_by_article(merged) != _pairs_by_article(record))
    assert urls.redirect_pairs() == _pairs_by_article(merged)
    assert urls.changed() == (merged != record) and urls.whole() == merged


def test_a_file_name_with_a_line_separator_is_recorded_and_read_back(make_site: Callable[..., Path],
                                                                      tmp_path: Path) -> None:
    name = "seeds/news/a\u2028b\x85c.md"
    site = make_site({name: story("Odd name"), "seeds/news/other.md": story("Other")}, config=CONFIG)
    assert not build_into(site, tmp_path / "out").errors
    assert read_record(site / RECORD_NAME)["/news/odd-name/"] == Entry("live", name.removeprefix("seeds/"), True)
    # Read whole by a full build in a new process, as every build without the cache reads it: it once
    # broke the line at U+2028, and every full build after the first failed.
    sitegen.published._LAST_READ.clear()
    report = build_into(site, tmp_path / "fresh", cache=False)
    assert not report.errors and not report.warnings


def test_text_edit_and_new_story_builds_parse_no_record(site: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert not build_into(site, tmp_path / "out").errors
    write(site / "seeds/news/story.md", story("Original headline here").replace("Text of", "New text of"))

    def unread(*_: object) -> None:
        raise AssertionError("parsed")

    # As a new process starts: nothing read before. An archive's 100,000 lines took a tenth of a second.
    sitegen.published._LAST_READ.clear()
    monkeypatch.setattr(sitegen.published, "_parse_record", unread)
    plans = count_plans(monkeypatch)
    report = build_into(site, tmp_path / "out")
    page = (tmp_path / "out/news/original-headline-here/index.html").read_text(encoding="utf-8")
    assert not report.errors and plans == [] and "New text of" in page
    # A new story's line goes in where it sorts, the rest of the text as it was.
    sitegen.published._LAST_READ.clear()
    write(site / "seeds/news/added.md", story("An added story", date="2024-05-02T10:00:00Z"))
    write(site / "seeds/aaa.md", story("First by path", date="2024-05-02T11:00:00Z"))
    report = build_into(site, tmp_path / "out")
    assert not report.errors and plans == [] and report.articles == 4
    recorded = (site / RECORD_NAME).read_text(encoding="utf-8")
    assert "/news/an-added-story/\tlive\tnews/added.md\tfirst\n" in recorded
    monkeypatch.undo()
    assert not build_into(site, tmp_path / "fresh", cache=False).errors
    assert (site / RECORD_NAME).read_text(encoding="utf-8") == recorded


@pytest.mark.parametrize(("source", "folder", "named"), [
    ("seeds/world/a.md", "seeds", "world/a.md"),
    ("/site/seeds/world/a.md", "/site/seeds", "world/a.md"),
    ("seeds/../seeds/a.md", "seeds", "a.md"),
    ("seeds2/a.md", "seeds", "../seeds2/a.md"),
    ("seeds/100%\tdone.md", "seeds", "100%25%09done.md"),
])
def test_an_article_is_named_by_its_path_under_the_content_folder(source: str, folder: str, named: str) -> None:
    article = Article(source_path=Path(source), slug="a", headline="A", standfirst="")
    assert identity(article, Path(folder)) == named
    assert identity(replace(article, story_id="flood-2024"), Path(folder)) == "id:flood-2024"


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_a_record_checked_out_with_other_newlines_reads_as_written(tmp_path: Path, newline: str) -> None:
    record = {"/world/a/": Entry("live", "a.md"), "/world/old-a/": Entry("moved", "a.md"),
              "/world/b/": Entry("live", "b.md", True)}
    plain, other = tmp_path / "plain.txt", tmp_path / "other.txt"
    plain.write_text(render_record(record), encoding="utf-8")
    other.write_bytes(render_record(record).replace("\n", newline).encode())
    assert read_record(other) == read_record(plain) == record
    text = RecordText.read(other)
    assert "\r" not in text.text and text.text == plain.read_text(encoding="utf-8")
    assert text.of_article("a.md") == [("/world/a/", record["/world/a/"]), ("/world/old-a/", record["/world/old-a/"])]
