"""Edits that refile articles (sections, tags, authors, updated, publication time, draft), new files and
removed ones: planned without the whole site, equal to a fresh build."""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lxml.etree
import pytest

import sitegen.edits as edit_build
from sitegen import parallel, refile, sitemaps
from sitegen.cache import Cache
from sitegen.parallel import peak_memory
from tests.conftest import build_into, count_plans, rendered, write
from tests.test_build import tree_digest

HOSTILE = "<b>Đà Nẵng</b> \"q\" & 'a' 🎉 مرحبا </script>"


def _story(title: str, date: str, section: str = "World", tags: str = "[Shared]", authors: str = "[Ann]",
           extra: str = "", body: str = "Text.") -> str:
    return (f"---\ntitle: {title}\ndate: {date}\nsection: {section}\ntags: {tags}\nauthors: {authors}\n{extra}---\n"
            f"{body}\n")


def _newsroom(count: int = 24) -> dict[str, str]:
    """Stories in two sections, three tags and two authors, three to a listing page; a draft, an
    embargoed story and one in the news sitemap's window (the tests build on 2024-11-25)."""
    files = {}
    for i in range(count):
        tags = ["Shared"] + (["Other"] if i % 3 == 0 else []) + (["Đà Nẵng"] if i % 4 == 1 else [])
        files[f"seeds/s{i:02}.md"] = _story(
            f"Story {i}", f"2024-01-{i + 1:02}T{8 + i % 10:02}:00:00+07:00", section="Sport" if i % 5 == 2 else "World",
            tags=json.dumps(tags, ensure_ascii=False), authors="[Ann]" if i % 2 else "[Ann, Bob]")
    files["seeds/draft.md"] = _story("Draft", "2024-01-05", tags="[Other, Secret]", extra="draft: true\n")
    files["seeds/later.md"] = _story("Embargoed", "2030-01-01", tags="[Shared, Later]")
    files["seeds/recent.md"] = _story("Recent", "2024-11-24T10:00:00Z", tags="[Shared]")
    files["sitegen.toml"] = 'title = "T"\nbase_url = "https://news.example/"\npage_size = 3\n'
    return files


@pytest.fixture
def newsroom(make_site: Callable[..., Path]) -> Path:
    return make_site(_newsroom())


def _edit_and_compare(site: Path, out: Path, tmp_path: Path, edits: dict[str, str],
                      planned: list[int] | None = None, **options: object) -> list[str]:
    """Apply `edits`, build, and check the site equals a fresh build; returns the pages rendered.

    The fresh build plans the site: it is taken back off `planned`.
    """
    before = tree_digest(out)
    for name, text in edits.items():
        write(site / name, text)
    report, urls = rendered(site, out, **options)
    after = tree_digest(out)
    # The search index is not rendered but indexed (see test_search.py).
    changed = {name for name in before.keys() | after.keys()
               if before.get(name) != after.get(name) and not name.startswith("pagefind/")}
    # Every file that changed and is still there was rendered by this build.
    assert {"/" + name.removesuffix("index.html") for name in changed if name in after} <= set(urls)
    fresh_out = tmp_path / "fresh"
    count = len(planned) if planned is not None else 0
    fresh = build_into(site, fresh_out, cache=False, **options)
    if planned is not None:
        del planned[count:]
    assert after == tree_digest(fresh_out)
    assert (report.pages, report.articles, [str(e) for e in report.errors]) == (
        fresh.pages, fresh.articles, [str(e) for e in fresh.errors])
    return urls


@pytest.mark.parametrize(
    ("name", "text", "expect"),
    [
        ("seeds/s10.md", _story("Story 10", "2024-01-11T08:00:00+07:00", tags="[Shared, New]"), "/tags/new/"),
        ("seeds/s10.md", _story("Story 10", "2024-01-11T08:00:00+07:00", tags="[Shared, Other]"), "/tags/other/feed.xml"),
        ("seeds/s10.md", _story("Story 10", "2024-01-11T08:00:00+07:00", tags="[]"), "/tags/shared/"),
        ("seeds/s05.md", _story("Story 5", "2024-01-06T13:00:00+07:00", tags="[Shared]", authors="[Ann]"),
         "/tags/da-nang/page/2/"),
        ("seeds/s10.md", _story("Story 10", "2024-01-11T08:00:00+07:00", authors="[Cy]"), "/authors/cy/"),
        ("seeds/s11.md", _story("Story 11", "2024-01-12T09:00:00+07:00", authors="[Bob]"), "/authors/bob/"),
        ("seeds/s10.md", _story("Story 10", "2024-01-11T08:00:00+07:00", section="Sport"), "/sport/story-10/"),
        ("seeds/s10.md", _story("Story 10", "2024-01-11T08:00:00+07:00", extra="updated: 2024-03-01\n"),
         "/sitemap.xml"),
        ("seeds/s10.md", _story("Story 10", "2024-01-11T08:00:00+07:00", extra="updated: 2024-11-24T12:00:00Z\n"),
         "/tags/"),
        ("seeds/s10.md", _story("Story 10", "2024-01-11T08:00:00+07:00", extra="language: vi\n"),
         "/world/story-10/"),
        ("seeds/recent.md", _story("Recent", "2024-11-24T10:00:00Z", tags="[Shared, Breaking]"),
         "/news-sitemap.xml"),
        ("seeds/s23.md", _story("Story 23, retagged", "2024-01-24T11:00:00+07:00", tags="[Other]",
                                extra="slug: story-23\n"), "/"),
        ("seeds/s10.md", _story("Story 10", "2024-01-14T09:30:00+07:00"), "/archive/2024/01/page/5/"),
        ("seeds/s10.md", _story("Story 10", "2024-01-11T01:00:00Z"), "/world/story-10/"),
        ("seeds/s20.md", _story("Story 20", "2024-11-20T08:00:00Z"), "/archive/2024/11/"),
        ("seeds/s23.md", _story("Story 23", "2024-11-24T12:00:00Z", tags="[Other]"), "/news-sitemap.xml"),
        ("seeds/recent.md", _story("Recent", "2024-11-02T10:00:00Z", tags="[Shared]"), "/news-sitemap.xml"),
    ],
    ids=["new tag", "joins a tag", "leaves every tag", "leaves a tag", "new author", "loses an author",
         "other section", "updated", "updated newest", "language", "news window", "headline and tags near the lead",
         "published later", "published in another time zone", "published in another month", "published as the lead",
         "published out of the news window"],
)
def test_a_refiling_edit_is_planned_without_the_site_and_equals_a_fresh_build(
        newsroom: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, expect: str) -> None:
    out = tmp_path / "out"
    first, _ = rendered(newsroom, out)
    planned = count_plans(monkeypatch)
    urls = _edit_and_compare(newsroom, out, tmp_path, {name: text}, planned)
    assert planned == [] and expect in urls
    # Far fewer pages than the site: the path does not render what the edit does not reach.
    assert len(urls) < first.pages // 2


@pytest.mark.parametrize(
    ("files", "expect"),
    [
        ({"seeds/new.md": _story("New story", "2024-01-14T09:30:00+07:00", tags="[Other]")}, "/world/new-story/"),
        ({"seeds/new.md": _story("Breaking", "2024-11-24T12:00:00Z", section="Sport", tags="[Shared, Fresh]",
                                 authors="[Dee]")}, "/news-sitemap.xml"),
        ({"seeds/wire.txt": "Wire headline\nWire standfirst.\nWire body./.",
          "seeds/wire.yaml": "date: 2024-01-20T07:00:00+07:00\nsection: World\ntags: [Shared]\n"}, "/world/wire-headline/"),
        ({"seeds/a.md": _story("First of two", "2024-01-03T09:00:00+07:00"),
          "seeds/b.md": _story("Second of two", "2024-11-23T09:00:00Z", tags="[Other]")}, "/world/second-of-two/"),
        # The same moment as Story 10: the tie is broken by slug, as the full build breaks it.
        ({"seeds/z.md": _story("Another story", "2024-01-11T08:00:00+07:00")}, "/world/another-story/"),
    ],
    ids=["in the middle", "the new lead, new tag and author", "wire copy", "two at once", "same moment as another"],
)
def test_a_new_story_is_planned_without_the_site_and_equals_a_fresh_build(
        newsroom: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str], expect: str) -> None:
    out = tmp_path / "out"
    first, _ = rendered(newsroom, out)
    planned = count_plans(monkeypatch)
    urls = _edit_and_compare(newsroom, out, tmp_path, files, planned)
    assert planned == [] and expect in urls
    report, _ = rendered(newsroom, out)
    assert report.unchanged and report.articles == first.articles + len([f for f in files if not f.endswith(".yaml")])


def test_a_new_story_with_hostile_text_is_escaped_everywhere_it_lands(newsroom: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    rendered(newsroom, out)
    planned = count_plans(monkeypatch)
    title = json.dumps(HOSTILE, ensure_ascii=False)
    urls = _edit_and_compare(newsroom, out, tmp_path, {"seeds/hostile.md": _story(
        title, "2024-11-24T11:00:00Z", tags=json.dumps(["Shared", HOSTILE], ensure_ascii=False),
        extra=f"standfirst: {title}\n")}, planned)
    assert planned == []
    front = (out / "index.html").read_text()
    assert "&lt;b&gt;Đà Nẵng&lt;/b&gt;" in front and "<b>Đà" not in front
    assert "</script>" not in front.split("<body")[1]
    feed = json.loads((out / "feed.json").read_text())
    assert feed["items"][0]["title"] == HOSTILE
    assert any(url.startswith("/tags/") and url != "/tags/shared/" for url in urls)


@pytest.mark.parametrize(
    ("files", "error"),
    [
        ({"seeds/new.md": _story("New story", "2024-03-14T09:30:00+07:00")}, False),
        ({"seeds/new.md": _story("Story 10", "2024-01-14T09:30:00+07:00")}, True),
        ({"seeds/new.md": "---\ntitle: [unclosed\n---\nBroken.\n"}, True),
        ({"seeds/new.md": "---\ntitle: Undated\nsection: World\n---\nText.\n"}, False),
    ],
    ids=["a new month", "slug taken", "broken", "undated"],
)
def test_a_new_story_the_full_build_must_place_is_planned_in_full(
        newsroom: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str], error: bool) -> None:
    out = tmp_path / "out"
    rendered(newsroom, out)
    planned = count_plans(monkeypatch)
    for name, text in files.items():
        write(newsroom / name, text)
    report, _ = rendered(newsroom, out)
    assert planned == [1] and bool(report.errors) == error
    fresh = build_into(newsroom, tmp_path / "fresh", cache=False)
    assert [str(e) for e in report.errors] == [str(e) for e in fresh.errors]
    assert tree_digest(out) == tree_digest(tmp_path / "fresh")


@pytest.mark.parametrize(
    ("removed", "edits", "expect"),
    [
        (["seeds/s10.md"], {}, "/tags/shared/"),
        (["seeds/s23.md"], {}, "/"),
        (["seeds/s01.md", "seeds/s05.md"], {}, "/archive/"),
        ([], {"seeds/s10.md": _story("Story 10", "2024-01-11T08:00:00+07:00", extra="draft: true\n")}, "/archive/"),
        ([], {"seeds/s10.md": _story("Story 10", "2024-12-11T08:00:00+07:00")}, "/feed.xml"),
        (["seeds/s04.md"], {"seeds/s12.md": _story("Story 12", "2024-01-13T10:00:00+07:00", tags="[Other]")}, "/world/story-12/"),
    ],
    ids=["an old story", "the newest of January", "two at once", "made a draft", "embargoed again", "beside an edit"],
)
def test_a_story_taken_down_is_planned_without_the_site_and_equals_a_fresh_build(
        newsroom: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, removed: list[str], edits: dict[str, str],
        expect: str) -> None:
    out = tmp_path / "out"
    first, _ = rendered(newsroom, out)
    planned = count_plans(monkeypatch)
    for name in removed:
        (newsroom / name).unlink()
    urls = _edit_and_compare(newsroom, out, tmp_path, edits, planned)
    assert planned == [] and expect in urls
    report, _ = rendered(newsroom, out)
    # Stories made drafts or embargoed leave the site, and are left out (skipped) from then on.
    held = sum("draft: true" in text or "2024-12" in text for text in edits.values())
    assert report.unchanged and report.articles == first.articles - len(removed) - held
    assert report.skipped == first.skipped + held
    for name in removed:
        assert not (out / "world" / f"story-{int(name[7:9])}").exists()


def test_drafts_and_embargoed_stories_come_and_go_without_planning_the_site(newsroom: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    first, _ = rendered(newsroom, out)
    planned = count_plans(monkeypatch)

    def record() -> tuple[int, int, str]:
        cache = Cache(newsroom / ".sitegen-cache")
        try:
            last = cache.last_build()
            assert last is not None
            return last["articles"], last["skipped"], str(last["valid_until"])
        finally:
            cache.close()

    # A draft retagged, an undated draft written, the embargoed story brought forward (still ahead).
    _edit_and_compare(newsroom, out, tmp_path, {
        "seeds/draft.md": _story("Draft", "2024-01-05", tags="[Secret, Later]", extra="draft: true\n"),
        "seeds/undated.md": "---\ntitle: Undated draft\ndraft: true\n---\nText.\n",
        "seeds/later.md": _story("Embargoed", "2024-11-26T00:00:00Z", tags="[Shared, Later]")}, planned)
    assert planned == [] and record() == (first.articles, first.skipped + 1, "2024-11-26T00:00:00+00:00")
    # The draft published: it comes into the site like a new story.
    urls = _edit_and_compare(newsroom, out, tmp_path, {
        "seeds/draft.md": _story("Draft", "2024-01-05", tags="[Secret, Later]")}, planned)
    assert planned == [] and "/world/draft/" in urls and "/tags/secret/" in urls
    assert record()[:2] == (first.articles + 1, first.skipped)
    (newsroom / "seeds/undated.md").unlink()
    _edit_and_compare(newsroom, out, tmp_path, {}, planned)
    assert planned == [] and record()[:2] == (first.articles + 1, first.skipped - 1)


def test_time_passing_publishes_a_story_and_moves_the_news_window_without_planning_the_site(
        newsroom: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No file changes: an embargo lifting is a story published, and a story leaving the news sitemap's
    two days changes that sitemap alone; each equals a fresh build at its moment."""
    out = tmp_path / "out"
    write(newsroom / "seeds/soon.md", _story("Soon", "2024-11-25T06:00:00Z", tags="[Shared, Later]"))
    rendered(newsroom, out)
    planned = count_plans(monkeypatch)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1732518000")  # 2024-11-25T07:00Z: the embargo has lifted
    urls = _edit_and_compare(newsroom, out, tmp_path, {}, planned)
    assert planned == [] and {"/world/soon/", "/", "/tags/later/", "/news-sitemap.xml"} <= set(urls)
    assert "Soon" in (out / "news-sitemap.xml").read_text(encoding="utf-8")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1732615500")  # 2024-11-26T10:05Z: "Recent" has left the window
    urls = _edit_and_compare(newsroom, out, tmp_path, {}, planned)
    assert planned == [] and urls == ["/news-sitemap.xml"]
    assert "Recent" not in (out / "news-sitemap.xml").read_text(encoding="utf-8")


def test_a_story_scheduled_plans_nothing_and_its_embargo_lifting_reads_the_stories_due_alone(
        newsroom: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A story written for a later time changes no page; when its time comes, neither the pages nor the search
    index list every story to find it (at 100,000 articles each listing cost over half a second)."""
    out = tmp_path / "out"
    rendered(newsroom, out)
    planned = count_plans(monkeypatch)
    runs: list[int] = []
    run = refile._Planner.run
    monkeypatch.setattr(refile._Planner, "run", lambda self: runs.append(1) or run(self))
    listed: list[Path] = []
    article_files = Cache.article_files

    def listing(self: Cache) -> Any:
        listed.append(self.path.parent)
        return article_files(self)

    monkeypatch.setattr(Cache, "article_files", listing)
    digested: list[Path] = []
    digests, kept_filings = Cache.all_file_digests, Cache.kept_filings

    def every_digest(self: Cache) -> Any:
        digested.append(self.path.parent)
        return digests(self)

    def every_filing(self: Cache) -> Any:
        digested.append(self.path.parent)
        return kept_filings(self)

    monkeypatch.setattr(Cache, "all_file_digests", every_digest)
    monkeypatch.setattr(Cache, "kept_filings", every_filing)
    urls = _edit_and_compare(newsroom, out, tmp_path, {
        "seeds/soon.md": _story("Soon", "2024-11-25T06:00:00Z", tags="[Shared, Later]")}, planned)
    assert planned == [] and runs == [] and urls == []
    # Nor does a story scheduled read where every other story is filed, or every file's digest.
    assert digested == []
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1732518000")  # 2024-11-25T07:00Z: the embargo has lifted
    urls = _edit_and_compare(newsroom, out, tmp_path, {}, planned)
    assert planned == [] and runs == [1] and "/world/soon/" in urls
    # Only the fresh builds it is compared with, each with a throwaway cache, list every story; the lifting
    # build reads every digest and filing once, as the story it publishes takes its place in every listing.
    assert listed and newsroom / ".sitegen-cache" not in listed and digested == [newsroom / ".sitegen-cache"] * 2


def test_a_new_story_leaves_the_files_of_a_split_sitemap_before_it_as_they_were(
        newsroom: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stories are listed oldest first: a new one is added to the last files, and the others are not written."""
    monkeypatch.setattr(sitemaps, "MAX_URLS", 10)
    out = tmp_path / "out"
    rendered(newsroom, out)
    first = lxml.etree.fromstring((out / "sitemaps/sitemap-1.xml").read_bytes())
    locs = [loc.text for loc in first.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert locs[:2] == ["https://news.example/world/story-0/", "https://news.example/world/story-1/"]
    before = {path.name: path.read_bytes() for path in (out / "sitemaps").iterdir()}
    read: list[str] = []
    stored_pages = Cache.stored_pages

    def reading(self: Cache, urls: Any) -> Any:
        urls = list(urls)
        read.extend(urls)
        return stored_pages(self, urls)

    monkeypatch.setattr(Cache, "stored_pages", reading)
    kept: list[int] = []
    kept_filings = Cache.kept_filings
    monkeypatch.setattr(Cache, "kept_filings", lambda self: kept.append(1) or kept_filings(self))
    urls = _edit_and_compare(newsroom, out, tmp_path, {"seeds/new.md": _story("New", "2024-11-24T12:00:00Z")})
    # The files before the new story's are not even read; every story's filing is, once.
    assert "/sitemaps/sitemap-3.xml" in read and "/sitemaps/sitemap-2.xml" not in read and kept == [1]
    after = {path.name: path.read_bytes() for path in (out / "sitemaps").iterdir()}
    # 25 stories: the new one, the newest, is the sixth of the third file.
    assert [after[name] == before[name] for name in ("sitemap-1.xml", "sitemap-2.xml", "sitemap-3.xml")] == \
        [True, True, False]
    assert "/sitemaps/sitemap-3.xml" in urls and "/sitemaps/sitemap-1.xml" not in urls


def test_a_story_taken_down_that_empties_a_month_or_section_is_planned_in_full(
        newsroom: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    rendered(newsroom, out)
    planned = count_plans(monkeypatch)
    (newsroom / "seeds/recent.md").unlink()
    _edit_and_compare(newsroom, out, tmp_path, {}, planned)
    assert planned == [1] and not (out / "archive/2024/11").exists()
    # Four of Sport's five stories go (the front page loses a page): planned without the site.
    for i in (2, 7, 12, 17):
        (newsroom / f"seeds/s{i:02}.md").unlink()
    _edit_and_compare(newsroom, out, tmp_path, {}, planned)
    assert planned == [1] and not (out / "page/8").exists()
    (newsroom / "seeds/s22.md").unlink()
    _edit_and_compare(newsroom, out, tmp_path, {}, planned)
    assert planned == [1] * 2 and 'href="sport/"' not in (out / "index.html").read_text()
    # Back again: a story published in a section the site does not have.
    _edit_and_compare(newsroom, out, tmp_path, {"seeds/s22.md": _story("Story 22", "2024-01-23", section="Sport")},
                      planned)
    assert planned == [1] * 3 and 'href="sport/"' in (out / "index.html").read_text()


def test_a_new_publication_time_keeps_when_the_site_next_changes_by_itself(newsroom: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    rendered(newsroom, out)
    planned = count_plans(monkeypatch)

    def until() -> str:
        cache = Cache(newsroom / ".sitegen-cache")
        try:
            record = cache.last_build()
            assert record is not None
            return str(record["valid_until"])
        finally:
            cache.close()

    # The news sitemap's window is two days: Recent (2024-11-24T10:00Z) leaves it first, then this story.
    assert until() == "2024-11-26T10:00:00+00:00"
    _edit_and_compare(newsroom, out, tmp_path, {"seeds/s10.md": _story("Story 10", "2024-11-24T08:30:00Z")}, planned)
    assert planned == [] and until() == "2024-11-26T08:30:00+00:00"
    _edit_and_compare(newsroom, out, tmp_path, {"seeds/s10.md": _story("Story 10", "2024-01-11T08:00:00+07:00")},
                      planned)
    assert planned == [] and until() == "2024-11-26T10:00:00+00:00"


def test_a_new_publication_time_that_empties_or_opens_a_month_is_planned_in_full(
        newsroom: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    rendered(newsroom, out)
    planned = count_plans(monkeypatch)
    _edit_and_compare(newsroom, out, tmp_path, {"seeds/s10.md": _story("Story 10", "2024-03-11T08:00:00+07:00")},
                      planned)
    assert planned == [1] and (out / "archive/2024/03/index.html").is_file()
    _edit_and_compare(newsroom, out, tmp_path, {"seeds/recent.md": _story("Recent", "2024-01-30T10:00:00Z")}, planned)
    assert planned == [1, 1] and not (out / "archive/2024/11").exists()
    # Past a story at the same moment: the tie is broken by slug, as a full build breaks it.
    _edit_and_compare(newsroom, out, tmp_path, {"seeds/s03.md": _story("Story 3", "2024-01-12T09:00:00+07:00")},
                      planned)
    assert planned == [1, 1]


def test_a_tag_that_empties_is_removed_and_one_that_appears_is_listed(newsroom: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    rendered(newsroom, out)
    planned = count_plans(monkeypatch)
    lone = {"seeds/s05.md": _story("Story 5", "2024-01-06T13:00:00+07:00", tags="[Shared]", authors="[Ann]")}
    for name in ("s01", "s09", "s13", "s17", "s21"):
        number = int(name[1:])
        lone[f"seeds/{name}.md"] = _story(f"Story {number}", f"2024-01-{number + 1:02}T{8 + number % 10:02}:00:00+07:00",
                                          tags="[Shared]" if number != 9 else "[Shared, Other]",
                                          authors="[Ann]" if number % 2 else "[Ann, Bob]")
    _edit_and_compare(newsroom, out, tmp_path, lone, planned)
    assert planned == [] and not (out / "tags/da-nang").exists()
    assert "/tags/da-nang/" not in (out / "sitemap.xml").read_text()
    urls = _edit_and_compare(newsroom, out, tmp_path, {"seeds/s03.md": _story(
        "Story 3", "2024-01-04T11:00:00+07:00", tags=json.dumps(["Shared", HOSTILE], ensure_ascii=False))}, planned)
    assert planned == [] and "/tags/" in urls
    page = (out / "tags/index.html").read_text()
    assert "<b>Đà" not in page and "&lt;b&gt;Đà Nẵng&lt;/b&gt;" in page and "</script>" not in page.split("<body")[1]
    feeds = [url for url in urls if url.endswith("feed.json")]
    assert any(HOSTILE in json.loads((out / url.lstrip("/")).read_text())["title"] for url in feeds)


def test_edits_that_respell_a_term_or_change_the_sections_are_planned_in_full(
        newsroom: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    rendered(newsroom, out)
    planned = count_plans(monkeypatch)
    # A later file's spelling changes nothing: the first file by path names the tag on every page.
    _edit_and_compare(newsroom, out, tmp_path, {"seeds/s00.md": _story(
        "Story 0", "2024-01-01T08:00:00+07:00", tags="[SHARED, Other]", authors="[Ann, Bob]")}, planned)
    assert planned == []
    _edit_and_compare(newsroom, out, tmp_path, {"seeds/recent.md": _story(
        "Recent", "2024-11-24T10:00:00Z", tags="[SHARED]")}, planned)
    assert planned == [1] and ">SHARED<" in (out / "tags/index.html").read_text()
    _edit_and_compare(newsroom, out, tmp_path, {"seeds/s10.md": _story(
        "Story 10", "2024-01-11T08:00:00+07:00", section="Culture")}, planned)
    assert planned == [1, 1]
    # The last story in Sport leaves it: the section goes from every page's navigation.
    for i in (2, 7, 12, 17):
        _edit_and_compare(newsroom, out, tmp_path, {f"seeds/s{i:02}.md": _story(
            f"Story {i}", f"2024-01-{i + 1:02}T{8 + i % 10:02}:00:00+07:00", authors="[Ann]" if i % 2 else "[Ann, Bob]",
            tags=json.dumps(["Shared"] + (["Other"] if i % 3 == 0 else []) + (["Đà Nẵng"] if i % 4 == 1 else []),
                            ensure_ascii=False))}, planned)
    assert planned == [1, 1]
    _edit_and_compare(newsroom, out, tmp_path, {"seeds/s22.md": _story(
        "Story 22", "2024-01-23T10:00:00+07:00", authors="[Ann, Bob]")}, planned)
    assert planned == [1, 1, 1] and 'href="sport/"' not in (out / "index.html").read_text()


def test_a_refiling_edit_changes_only_its_parts_of_a_split_sitemap(newsroom: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sitemaps, "MAX_URLS", 8)
    out = tmp_path / "out"
    rendered(newsroom, out)
    planned = count_plans(monkeypatch)
    urls = _edit_and_compare(newsroom, out, tmp_path, {"seeds/s10.md": _story(
        "Story 10", "2024-01-11T08:00:00+07:00", tags="[Shared, New, Newer]")}, planned)
    parts = sorted(path.name for path in (out / "sitemaps").iterdir())
    assert planned == [] and len(parts) > 4
    assert 0 < len([url for url in urls if url.startswith("/sitemaps/")]) < len(parts)


def test_a_refiling_edit_on_a_site_without_a_base_url(make_site: Callable[..., Path], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    files = _newsroom(12)
    files["sitegen.toml"] = 'title = "T"\npage_size = 3\n'
    site = make_site(files)
    out = tmp_path / "out"
    rendered(site, out)
    planned = count_plans(monkeypatch)
    urls = _edit_and_compare(site, out, tmp_path, {"seeds/s04.md": _story(
        "Story 4", "2024-01-05T12:00:00+07:00", section="Sport", tags="[Fresh]")}, planned)
    assert planned == [] and "/sport/story-4/" in urls and not (out / "sitemap.xml").exists()
    # A new section is a new URL; the old one redirects to it.
    assert 'url=../../sport/story-4/"' in (out / "world/story-4/index.html").read_text()


def _fork_for_every_patch(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make every build after edits render in forked workers; returns a list that grows at each fork."""
    forks: list[int] = []
    original = edit_build.sharing

    def counting(pages: Any) -> Any:
        forks.append(len(pages))
        return original(pages)

    monkeypatch.setattr(edit_build, "PARALLEL_PAGES", 1)
    monkeypatch.setattr(parallel, "SHARE_LIMIT", 2**62)
    monkeypatch.setattr(edit_build, "default_workers", lambda: 2)
    monkeypatch.setattr(edit_build, "sharing", counting)
    return forks


# The first seed again with every patch rendered by forked workers, which must change nothing; and two with
# the sitemap split into files of a few entries, whose first files an edit leaves unread.
@pytest.mark.parametrize(("seed", "forked", "split"), [(1, False, 0), (2, False, 0), (3, False, 0), (1, True, 0),
                                                       (4, False, 6), (5, False, 11)])
def test_random_refiling_edits_each_equal_a_fresh_build(make_site: Callable[..., Path], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch, seed: int,
                                                        forked: bool, split: int) -> None:
    if split:
        monkeypatch.setattr(sitemaps, "MAX_URLS", split)
    rng = random.Random(seed)
    site = make_site(_newsroom())
    out = tmp_path / "out"
    rendered(site, out)
    forks = _fork_for_every_patch(monkeypatch) if forked else []
    planned = count_plans(monkeypatch)
    pool = ["Shared", "Other", "Đà Nẵng", "Da Nang", "Fresh", HOSTILE, "Zed"]
    for step in range(6):
        edits = {}
        for i in rng.sample(range(24), rng.choice([1, 1, 2])):
            tags = rng.sample(pool, rng.randint(0, 3))
            # Now and then a new publication time: later or earlier in January (maybe the same moment as
            # another story), or in November, in the news sitemap's window or before it.
            date = rng.choice([f"2024-01-{i + 1:02}T{8 + i % 10:02}:00:00+07:00"] * 3 + [
                f"2024-01-{rng.randint(1, 28):02}T{rng.choice([8, 9, 13]):02}:00:00+07:00",
                f"2024-11-2{rng.randint(0, 4)}T0{rng.randint(0, 9)}:00:00Z"])
            # An update before publication is an error, which the full build reports.
            updated = "updated: 2024-11-25\n" if date > "2024-11" else f"updated: 2024-0{rng.randint(2, 9)}-01\n"
            extra = rng.choice(["", "", "", updated, "language: vi\n", "draft: true\n"])
            # A new headline with the old slug: a new slug can break a tie in the order, which is the full build's.
            edits[f"seeds/s{i:02}.md"] = _story(
                f"Story {i}" + rng.choice(["", "", " (updated)"]), date,
                section=rng.choice(["World", "World", "Sport"]), tags=json.dumps(tags, ensure_ascii=False),
                authors=rng.choice(["[Ann]", "[Bob]", "[Ann, Bob]", "[Cy]"]), extra=extra + f"slug: story-{i}\n")
        if rng.random() < 0.3:
            # A story taken down; a later step may publish it again, as a new file.
            gone = rng.choice([i for i in range(24) if f"seeds/s{i:02}.md" not in edits])
            (site / f"seeds/s{gone:02}.md").unlink(missing_ok=True)
        if rng.random() < 0.3:
            # A new story, in January or in the news window, under tags from the pool.
            edits[f"seeds/new{step}.md"] = _story(
                f"New {step}", rng.choice(["2024-01-15T10:30:00+07:00", f"2024-11-2{rng.randint(1, 4)}T08:00:00Z"]),
                tags=json.dumps(rng.sample(pool, 2), ensure_ascii=False))
        _edit_and_compare(site, out, tmp_path, edits, planned)
        assert len(planned) <= step + 1
    # Most of these edits refile without planning the site; the rest must still equal a fresh build.
    assert len(planned) <= 3
    assert not forked or len(forks) >= 3


def test_peak_memory_is_in_bytes_and_counts_what_this_process_held() -> None:
    block = b"x" * (64 << 20)
    held = peak_memory()
    assert held is not None and len(block) <= held < 64 << 30


def test_a_build_that_holds_too_much_to_share_renders_its_patch_alone(newsroom: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    rendered(newsroom, out)
    forks = _fork_for_every_patch(monkeypatch)
    monkeypatch.setattr(parallel, "SHARE_LIMIT", 0)
    urls = _edit_and_compare(newsroom, out, tmp_path, {"seeds/lead.md": _story("Lead", "2024-11-24T12:00:00Z")})
    assert "/" in urls and forks == []


def test_a_headline_and_a_new_lead_story_rendered_by_forked_workers_equal_a_fresh_build(
        newsroom: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    rendered(newsroom, out)
    forks = _fork_for_every_patch(monkeypatch)
    planned = count_plans(monkeypatch)
    title = json.dumps(f"Story 5 {HOSTILE}", ensure_ascii=False)
    # A headline: the pages that name the story, read back from the cache.
    urls = _edit_and_compare(newsroom, out, tmp_path, {"seeds/s05.md": _story(
        title, "2024-01-06T13:00:00+07:00", tags='["Shared"]', extra="slug: story-5\n")}, planned)
    assert "/world/story-5/" in urls and "/" not in urls
    # A new lead story: the first and the highest-numbered pages of its listings, planned by refile.py.
    urls = _edit_and_compare(newsroom, out, tmp_path, {"seeds/lead.md": _story(
        "Lead", "2024-11-24T12:00:00Z", tags='["Other", "Shared"]')}, planned)
    assert {"/", "/tags/other/", "/world/lead/"} <= set(urls) and "/page/2/" not in urls
    # Its text: the pages that show its body, as the workers recorded them.
    urls = _edit_and_compare(newsroom, out, tmp_path, {"seeds/lead.md": _story(
        "Lead", "2024-11-24T12:00:00Z", tags='["Other", "Shared"]', body="Corrected text.")}, planned)
    assert {"/feed.json", "/tags/other/feed.json", "/world/lead/"} <= set(urls)
    assert planned == [] and len(forks) == 3
    page = (out / "world/story-5/index.html").read_text(encoding="utf-8")
    assert "Story 5 &lt;b&gt;Đà Nẵng&lt;/b&gt;" in page and "</script>" not in page.split("</h1>")[0].split("<body")[1]
    feed = json.loads((out / "feed.json").read_text())
    assert [item["title"] for item in feed["items"]][:2] == ["Lead", "Recent"]


def test_damaged_kept_filings_are_read_again_from_each_article(newsroom: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    rendered(newsroom, out)
    with sqlite3.connect(newsroom / ".sitegen-cache/cache.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM filings").fetchone()[0] >= 1
        db.execute("UPDATE filings SET value = x'80049500'")
    planned = count_plans(monkeypatch)
    urls = _edit_and_compare(newsroom, out, tmp_path, {"seeds/s10.md": _story(
        "Story 10", "2024-01-11T08:00:00+07:00", tags="[Shared, New]")}, planned)
    assert planned == [] and "/tags/new/" in urls


def test_with_drafts_and_embargoed_stories_built_a_refiling_edit_counts_them(newsroom: Path, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    rendered(newsroom, out, drafts=True, future=True)
    planned = count_plans(monkeypatch)
    # The draft and the embargoed story are in this site: the draft's tag and the later story's.
    urls = _edit_and_compare(newsroom, out, tmp_path, {"seeds/s10.md": _story(
        "Story 10", "2024-01-11T08:00:00+07:00", tags="[Shared, Secret, Later]")}, planned, drafts=True, future=True)
    assert planned == [] and "/tags/secret/" in urls and "/tags/later/" in urls
    urls = _edit_and_compare(newsroom, out, tmp_path, {"seeds/draft.md": _story(
        "Draft", "2024-01-05", tags="[Other]", extra="draft: true\n")}, planned, drafts=True, future=True)
    assert planned == [] and "/tags/secret/" in urls
