"""Edits to articles already in the site: only the pages they reach are rendered, and the site equals a fresh build."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sitegen import build as build_module
from sitegen import edits, refile, sitemaps
from sitegen.cache import Cache
from sitegen.edits import same_filing
from sitegen.model import Article, Term
from sitegen.plan import Page
from sitegen.slugs import slugify
from sitegen.urls import output_path
from tests.conftest import build_into, count_plans, rendered, story, write
from tests.test_build import tree_digest


def _changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    """The pages that changed; the search index is not rendered but indexed (see test_search.py)."""
    return {name for name in before.keys() | after.keys()
            if before.get(name) != after.get(name) and not name.startswith("pagefind/")}


def _url(name: str) -> str:
    """The site path a file of the output is served at."""
    return "/" + name.removesuffix("index.html")


def _text(out: Path, url: str) -> str:
    return (out / output_path(url)).read_text(encoding="utf-8")


def _same_as_fresh(site: Path, out: Path, tmp_path: Path) -> None:
    build_into(site, tmp_path / "fresh", cache=False)
    assert tree_digest(out) == tree_digest(tmp_path / "fresh")


def test_a_new_headline_moves_the_page_and_leaves_a_redirect(archive: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    first, _ = rendered(archive, out)
    before = tree_digest(out)
    planned = count_plans(monkeypatch)
    write(archive / "seeds/s10.md", story("Story ten, renamed", "Body 10.", date="2024-01-11"))
    report, urls = rendered(archive, out)
    after = tree_digest(out)
    # The build after edits moves the page, leaves a redirect, and updates the record, without planning the site.
    assert planned == [] and not report.errors
    assert "/world/story-ten-renamed/" in urls and "/sitemap.xml" in urls and "/world/story-10/" in urls
    assert 'http-equiv="refresh" content="0; url=../../world/story-ten-renamed/"' in _text(out, "/world/story-10/")
    # Every file that changed was rendered, and pages that do not show the story were kept.
    assert {_url(name) for name in _changed(before, after)} == set(urls)
    assert 5 < len(urls) < 30
    # One page more, the old URL's redirect, and the host redirect file.
    assert report.pages == first.pages + 2 == build_into(archive, tmp_path / "count", cache=False).pages
    _same_as_fresh(archive, out, tmp_path)


def test_a_body_edit_of_a_renamed_story_leaves_its_redirects_as_they_were(archive: Path, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    rendered(archive, out)
    write(archive / "seeds/s10.md", story("Story ten, renamed", "Body 10.", date="2024-01-11"))
    rendered(archive, out)
    write(archive / "seeds/s10.md", story("Story ten, renamed again", "Body 10.", date="2024-01-11"))
    _, urls = rendered(archive, out)
    assert {"/world/story-10/", "/world/story-ten-renamed/", "/_redirects"} <= set(urls)
    before = tree_digest(out)
    planned = count_plans(monkeypatch)
    write(archive / "seeds/s10.md", story("Story ten, renamed again", "Body 10, corrected.", date="2024-01-11"))
    _, urls = rendered(archive, out)
    # The redirects show the story's headline and URL, which the edit left alone: they are not rendered again.
    assert planned == [] and "/world/story-ten-renamed-again/" in urls
    assert not {"/world/story-10/", "/world/story-ten-renamed/", "/_redirects"} & set(urls)
    assert {_url(name) for name in _changed(before, tree_digest(out))} == set(urls)
    assert "url=../../world/story-ten-renamed-again/" in _text(out, "/world/story-10/")
    _same_as_fresh(archive, out, tmp_path)


def test_redirect_pages_alone_are_not_worth_forking_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edits, "default_workers", lambda: 2)
    monkeypatch.setattr(edits, "may_share", lambda: True)
    redirects = [Page(f"/old-{n}/", "redirect", {"target": "/new/", "headline": "H", "language": "en"})
                 for n in range(10 * edits.PARALLEL_PAGES)]
    listings = [Page(f"/list/{n}/", "list.html", {}) for n in range(edits.PARALLEL_PAGES)]
    assert not edits._workers_pay(redirects)
    assert edits._workers_pay([*redirects, *listings])
    assert not edits._workers_pay([*redirects, *listings[1:]])


def test_a_standfirst_edit_renders_the_pages_that_name_the_story_and_not_the_sitemap(
        archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    rendered(archive, out)
    planned = count_plans(monkeypatch)
    write(archive / "seeds/s03.md", story("Story 3", "Body 3.", date="2024-01-04", extra="standfirst: Now with a dek\n"))
    _, urls = rendered(archive, out)
    assert planned == [] and "/world/story-3/" in urls and "/sitemap.xml" not in urls
    assert "Now with a dek" in _text(out, "/world/story-3/")
    _same_as_fresh(archive, out, tmp_path)


def test_a_wire_story_edited_through_its_sidecar_and_a_second_story_in_the_same_build(
        archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    rendered(archive, out)
    planned = count_plans(monkeypatch)
    write(archive / "seeds/wire.yaml", "date: 2023-12-01\nsection: World\ntags: [Shared]\nslug: wire-renamed\n")
    write(archive / "seeds/s20.md", story("Story 20", "Body 20, corrected.", date="2024-01-21"))
    report, urls = rendered(archive, out)
    # A new slug moves the wire story, and its old URL redirects.
    assert planned == [] and "/world/wire-renamed/" in urls and "/world/story-20/" in urls
    assert "url=../../world/wire-renamed/" in _text(out, "/world/wire-headline/")
    assert report.cache_hits == report.articles - 2
    _same_as_fresh(archive, out, tmp_path)


@pytest.mark.parametrize(
    ("files", "edit"),
    [
        ({}, ("seeds/s10.md", story("Story 11", "Body 10.", date="2024-01-11"))),
        ({"seeds/sport.md": "---\ntitle: Cup final\ndate: 2023-06-01\nsection: Sport\n---\nText.\n"},
         ("seeds/s10.md", story("Cup final", "Body 10.", date="2024-01-11"))),
        ({"seeds/twin.md": story("Twin", "Same minute.", date="2024-01-11")},
         ("seeds/s10.md", story("Story ten, renamed", "Body 10.", date="2024-01-11"))),
        ({"seeds/undated.md": "---\ntitle: Undated one\nsection: World\n---\nText.\n"},
         ("seeds/undated.md", "---\ntitle: Undated two\nsection: World\n---\nText.\n")),
        ({}, ("seeds/s10.md", "---\ntitle: [unclosed\n---\nBroken.\n")),
    ],
    ids=["slug and page taken", "slug taken in another section", "same moment as another", "undated", "broken"],
)
def test_edits_that_refile_or_clash_are_left_to_the_full_build(
        archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        files: dict[str, str], edit: tuple[str, str]) -> None:
    for name, text in files.items():
        write(archive / name, text)
    out = tmp_path / "out"
    rendered(archive, out)
    planned = count_plans(monkeypatch)
    write(archive / edit[0], edit[1])
    report, _ = rendered(archive, out)
    assert planned == [1]
    fresh = build_into(archive, tmp_path / "fresh", cache=False)
    assert [str(e) for e in report.errors] == [str(e) for e in fresh.errors]
    if not report.errors:
        assert tree_digest(out) == tree_digest(tmp_path / "fresh")


def test_a_moved_page_changes_only_its_part_of_a_split_sitemap(archive: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sitemaps, "MAX_URLS", 10)
    out = tmp_path / "out"
    rendered(archive, out)
    parts = sorted(path.name for path in (out / "sitemaps").iterdir())
    assert len(parts) > 3
    write(archive / "seeds/s24.md", story("Story 24, renamed", "Body 24.", date="2024-01-25"))
    read: list[str] = []
    load = refile._READER.load
    monkeypatch.setattr(refile._READER, "load", lambda data: read.append(load(data).url) or load(data))
    _, urls = rendered(archive, out)
    # The newest story, listed in the last file of stories (oldest first) and before the other pages.
    assert [url for url in urls if url.startswith("/sitemaps/")] == ["/sitemaps/sitemap-3.xml"]
    # Of the sitemap's files, the one that lists the story's old URL is the only one read.
    assert [url for url in read if url.startswith("/sitemap")] == ["/sitemap.xml", "/sitemaps/sitemap-3.xml"]
    assert "https://news.example/world/story-24-renamed/" in (out / "sitemaps/sitemap-3.xml").read_text()
    _same_as_fresh(archive, out, tmp_path)


def test_pages_an_edit_rendered_are_kept_by_the_next_full_build(archive: Path, tmp_path: Path) -> None:
    # The edit path fingerprints what it renders as a full build would, or the next one would render it all again.
    out = tmp_path / "out"
    rendered(archive, out)
    write(archive / "seeds/s10.md", story("Story ten, renamed", "Body 10, corrected.", date="2024-01-11"))
    assert rendered(archive, out)[1]
    write(archive / "seeds/draft.md", story("A draft", "Not yet.", extra="draft: true\n"))
    report, urls = rendered(archive, out)
    assert urls == [] and report.reused == report.pages
    _same_as_fresh(archive, out, tmp_path)


def test_same_filing_is_false_for_every_field_but_what_pages_show() -> None:
    base = Article(Path("a.md"), "a", "A", "Dek", published=None, section=Term("World", "world"),
                   tags=(Term("T", "t"),), authors=(Term("Ann", "ann"),))
    shown = {"slug": "b", "headline": "B", "standfirst": "Other", "figures": (), "source": "VNA",
             "corrections": ("Fixed.",), "digest": "x"}
    for name, value in shown.items():
        assert same_filing(base, replace(base, **{name: value})), name  # type: ignore[arg-type]
    filed = {"section": Term("Sport", "sport"), "tags": (), "authors": (), "language": "vi", "draft": True,
             "published": datetime(2024, 1, 1, tzinfo=timezone.utc), "updated": datetime(2024, 1, 2, tzinfo=timezone.utc),
             "source_path": Path("b.md")}
    for name, value in filed.items():
        assert not same_filing(base, replace(base, **{name: value})), name  # type: ignore[arg-type]


def test_the_edit_path_needs_the_whole_site_unchanged_in_files(make_site: Callable[..., Path], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    site = make_site({"seeds/a.md": story("A", "Text."), "seeds/b.md": story("B", "Text.", date="2024-01-03")})
    out = tmp_path / "out"
    rendered(site, out)
    planned = count_plans(monkeypatch)
    (site / "seeds/b.md").unlink()
    write(site / "seeds/a.md", story("A, renamed", "Text."))
    rendered(site, out)
    assert planned == [1]
    _same_as_fresh(site, out, tmp_path)


def test_an_edit_that_reaches_many_pages_is_left_to_the_full_build(archive: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # With no floor, the limit is a tenth of the site's pages: too few for a headline here, enough for a text edit.
    monkeypatch.setattr(build_module, "PATCH_LIMIT", 0)
    out = tmp_path / "out"
    first, _ = rendered(archive, out)
    planned = count_plans(monkeypatch)
    write(archive / "seeds/s10.md", story("Story ten, renamed", "Body 10.", date="2024-01-11"))
    _, urls = rendered(archive, out)
    assert planned == [1] and len(urls) > first.pages // 10
    write(archive / "seeds/s00.md", story("Story 0", "Body 0, corrected.", date="2024-01-01"))
    assert rendered(archive, out)[1] == ["/world/story-0/"] and planned == [1]
    _same_as_fresh(archive, out, tmp_path)



def test_a_hostile_headline_moves_the_page_of_a_site_without_a_base_url(make_site: Callable[..., Path], tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    site = make_site({f"seeds/s{i}.md": story(f"Story {i}", f"Body {i}.", date=f"2024-01-0{i + 1}") for i in range(4)})
    out = tmp_path / "out"
    rendered(site, out)
    planned = count_plans(monkeypatch)
    hostile = '"</script><b onmouseover=alert(1)>Đà Nẵng & 🎉 سلام'
    write(site / "seeds/s2.md", story(hostile.replace('"', '\\"').join('""'), "Body 2.", date="2024-01-03"))
    _, urls = rendered(site, out)
    moved = f"/world/{slugify(hostile)}/"
    assert planned == [] and moved in urls
    # The old URL redirects, with the hostile headline as text in it, never as markup.
    redirect = _text(out, "/world/story-2/")
    assert "<b onmouseover" not in redirect and "&lt;/script&gt;&lt;b onmouseover=alert(1)&gt;Đà Nẵng &amp;" in redirect
    page = _text(out, moved)
    assert "<b onmouseover" not in page and "&lt;/script&gt;&lt;b onmouseover=alert(1)&gt;Đà Nẵng &amp; 🎉 سلام" in page
    # A JSON Feed title is plain text: the parser gives back exactly what was written.
    assert hostile in [item["title"] for item in json.loads(_text(out, "/feed.json"))["items"]]
    assert not (out / "sitemap.xml").exists()
    _same_as_fresh(site, out, tmp_path)


def test_an_edit_build_compares_the_statuses_of_the_folders_whose_files_changed_alone(
        make_site: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = make_site({"seeds/2023/12/a.md": story("A", "Text.", date="2023-12-30"),
                      "seeds/2024/01/b.md": story("B", "Text.", date="2024-01-02"),
                      "seeds/2024/01/c.md": story("C", "Text.", date="2024-01-03"),
                      "seeds/2024/01/old/d.md": story("D", "Text.", date="2024-01-04"),
                      "seeds/2024/02/e.md": story("E", "Text.", date="2024-02-01")})
    out = tmp_path / "out"
    rendered(site, out)
    read: list[str] = []
    folder_statuses = Cache.folder_statuses

    def spied(cache: Cache, folder: str) -> dict[str, str]:
        read.append(os.path.relpath(folder, site))
        return folder_statuses(cache, folder)

    def every_status(cache: Cache) -> dict[str, str]:
        raise AssertionError("every status read")

    monkeypatch.setattr(Cache, "folder_statuses", spied)
    monkeypatch.setattr(Cache, "file_statuses", every_status)
    planned = count_plans(monkeypatch)
    # An edit in a folder that has a subfolder: the folder's files only, not the subfolder's.
    write(site / "seeds/2024/01/b.md", story("B", "Text, edited.", date="2024-01-02"))
    _, urls = rendered(site, out)
    assert read == ["seeds/2024/01"] and planned == [] and "/world/b/" in urls
    _same_as_fresh(site, out, tmp_path / "1")
    planned.clear()
    # A story edited in the subfolder, and one file touched in another folder but not changed.
    read.clear()
    write(site / "seeds/2024/01/old/d.md", story("D", "Text, edited.", date="2024-01-04"))
    os.utime(site / "seeds/2024/02/e.md", ns=(1, 1))
    _, urls = rendered(site, out)
    assert read == ["seeds/2024/01/old", "seeds/2024/02"] and planned == [] and "/world/d/" in urls
    # A folder gone with its story, and a new one with a new story: both found.
    read.clear()
    shutil.rmtree(site / "seeds/2023")
    write(site / "seeds/2024/03/f.md", story("F", "Text.", date="2024-03-01"))
    rendered(site, out)
    assert read == ["seeds/2023/12", "seeds/2024/03"]
    assert not (out / "world/a/index.html").exists() and (out / "world/f/index.html").is_file()
    _same_as_fresh(site, out, tmp_path / "2")
