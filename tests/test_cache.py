"""The persistent cache and parallel build: same bytes whatever runs it, and a cache never trusted blindly."""

from __future__ import annotations

import os
import pickle
import random
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import sitegen.build as build_module
from sitegen import parallel
from sitegen.build import BuildOptions, load_settings
from sitegen.cache import CACHE_DIR, Cache, Remembered
from sitegen.config import load_config
from sitegen.errors import ContentError, TemplateError
from sitegen.load import source_key
from sitegen.model import Article
from tests.conftest import SITES, build_into, rendered, story, write
from tests.test_build import tree_digest

STORY = "---\ntitle: Cached story\ndate: 2024-01-02\nsection: World\ntags: [A]\n---\nFirst text.\n"


@pytest.fixture
def newsroom(tmp_path: Path) -> Path:
    site = tmp_path / "newsroom"
    shutil.copytree(SITES / "newsroom", site, ignore=shutil.ignore_patterns(CACHE_DIR))
    return site


def test_output_is_identical_across_workers_and_cache(newsroom: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    shares: list[int] = []
    original = build_module.sharing

    def counting(pages: Any, *args: Any) -> Any:
        shares.append(len(pages))
        return original(pages, *args)

    monkeypatch.setattr(build_module, "sharing", counting)
    # Whatever this test process has held before (the limit is on its peak so far).
    monkeypatch.setattr(parallel, "SHARE_LIMIT", 2**62)
    build_into(newsroom, tmp_path / "serial", workers=1, cache=False)
    build_into(newsroom, tmp_path / "parallel", workers=2, cache=False)
    build_into(newsroom, tmp_path / "cold", workers=2)
    build_into(newsroom, tmp_path / "warm", workers=3)
    # Workers forked after planning share the pages; a build that holds too much sends them pickled.
    assert len(shares) == 3 and min(shares) > 50
    monkeypatch.setattr(parallel, "SHARE_LIMIT", 0)
    build_into(newsroom, tmp_path / "sent", workers=2, cache=False)
    shutil.rmtree(newsroom / CACHE_DIR)
    build_into(newsroom, tmp_path / "sent-cold", workers=2)
    assert len(shares) == 3
    reference = tree_digest(tmp_path / "serial")
    assert len(reference) > 50
    for other in ("parallel", "cold", "warm", "sent", "sent-cold"):
        assert tree_digest(tmp_path / other) == reference, other


def test_second_build_uses_the_cache(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({"seeds/a.md": STORY, "seeds/b.md": STORY.replace("Cached story", "Other story")})
    first = build_into(site, tmp_path / "out")
    assert first.cache_hits == 0 and first.reused == 0
    again = build_into(site, tmp_path / "out")
    assert again.unchanged and again.pages == first.pages
    write(site / "seeds/b.md", STORY.replace("Cached story", "Other story").replace("First", "Second"))
    edited = build_into(site, tmp_path / "out")
    assert not edited.unchanged and edited.cache_hits == 1
    assert 0 < edited.pages - edited.reused < edited.pages
    assert "Second text." in (tmp_path / "out/world/other-story/index.html").read_text()


def test_a_first_build_takes_each_digest_of_the_bytes_it_parsed(make_site: Callable[..., Path], tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    site = make_site({"seeds/a.md": STORY, "seeds/wire.txt": "Wire headline\nStandfirst.\nText. |\n./.",
                      "seeds/wire.yaml": "date: 2024-01-03\nsection: World\n", "seeds/broken.md": "---\ntitle: [\n---\n"})
    expected = {str(path): source_key(path, load_settings(load_config(site)[0], site))
                for path in (site / "seeds/a.md", site / "seeds/wire.txt")}
    # An empty cache can hold nothing, so this process reads no file for a digest to look up.
    monkeypatch.setattr(build_module, "source_digest", lambda *args: pytest.fail("digest taken before reading"))
    report = build_into(site, tmp_path / "out", workers=2)
    assert report.articles == 2 and [str(error.path) for error in report.errors] == [str(site / "seeds/broken.md")]
    cache = Cache(site / CACHE_DIR)
    assert {path: digest for path, (_, digest) in cache.file_digests().items()} == expected
    cache.close()
    monkeypatch.undo()
    write(site / "seeds/a.md", STORY.replace("First", "Second"))
    again = build_into(site, tmp_path / "out", workers=2)
    assert again.cache_hits == 1 and "Second text." in (tmp_path / "out/world/cached-story/index.html").read_text()


@pytest.mark.parametrize(
    ("change", "path", "expected"),
    [
        ("seeds/a.md", "world/cached-story/index.html", "Edited text."),
        ("templates/article.html", "world/cached-story/index.html", "TEMPLATE MARK"),
        ("templates/partials/card.html", "index.html", "CARD MARK"),
        ("sitegen.toml", "world/cached-story/index.html", "Renamed Site"),
        ("static/css/site.css", "static/css/site.css", "STATIC MARK"),
    ],
)
def test_cache_invalidates_on_change(make_site: Callable[..., Path], tmp_path: Path, change: str, path: str,
                                     expected: str) -> None:
    site = make_site({"seeds/a.md": STORY, "seeds/b.md": STORY.replace("Cached story", "Second story")})
    build_into(site, tmp_path / "out")
    from sitegen.theme import theme_dir

    if change == "seeds/a.md":
        write(site / change, STORY.replace("First text.", "Edited text."))
    elif change == "sitegen.toml":
        write(site / change, 'title = "Renamed Site"\n')
    elif change.startswith("templates/"):
        original = (theme_dir() / change).read_text()
        mark = "TEMPLATE MARK" if "article" in change else "CARD MARK"
        write(site / change, original.replace("{% endblock %}", f"{mark}{{% endblock %}}", 1)
              if "article" in change else original.replace("</article>", f"{mark}</article>"))
    else:
        write(site / change, "/* STATIC MARK */")
    report = build_into(site, tmp_path / "out")
    assert not report.unchanged
    assert expected in (tmp_path / "out" / path).read_text()
    build_into(site, tmp_path / "fresh", cache=False)
    assert tree_digest(tmp_path / "out") == tree_digest(tmp_path / "fresh")


def test_template_edit_is_seen_by_a_build_in_the_same_process(make_site: Callable[..., Path], tmp_path: Path) -> None:
    # Rendering in this process keeps its template environment between builds; it must not keep old templates.
    from sitegen.theme import theme_dir

    site = make_site({"seeds/a.md": STORY, "seeds/b.md": STORY.replace("Cached story", "Second story")})
    build_into(site, tmp_path / "out", workers=1)
    original = (theme_dir() / "templates/partials/card.html").read_text()
    write(site / "templates/partials/card.html", original.replace("</article>", "FIRST MARK</article>"))
    build_into(site, tmp_path / "out", workers=1)
    assert "FIRST MARK" in (tmp_path / "out/index.html").read_text()
    write(site / "templates/partials/card.html", original.replace("</article>", "SECOND MARK</article>"))
    build_into(site, tmp_path / "out", workers=1)
    front = (tmp_path / "out/index.html").read_text()
    assert "SECOND MARK" in front and "FIRST MARK" not in front


def test_time_passing_invalidates(make_site: Callable[..., Path], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    site = make_site({"seeds/a.md": STORY, "seeds/later.md": "---\ntitle: Embargoed\ndate: 2024-12-01\n---\nx"})
    build_into(site, tmp_path / "out")
    assert build_into(site, tmp_path / "out").unchanged
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1735689600")  # 2025-01-01: the embargo has lifted
    report = build_into(site, tmp_path / "out")
    assert not report.unchanged and (tmp_path / "out/news/embargoed/index.html").is_file()


@pytest.mark.parametrize("edit", ["", "seeds/a.md"])
def test_a_clock_turned_back_takes_down_what_it_has_not_published_yet(make_site: Callable[..., Path], tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch, edit: str) -> None:
    """A build at an earlier moment than the last one's (SOURCE_DATE_EPOCH set for one build, then not) is
    a fresh build at that moment, pages and search alike, with or without an edit beside."""
    site = make_site({"seeds/a.md": STORY, "seeds/later.md": "---\ntitle: Embargoed\ndate: 2024-12-01\n---\nx"})
    out = tmp_path / "out"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1735689600")  # 2025-01-01: published
    build_into(site, out)
    assert (out / "news/embargoed/index.html").is_file()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1731628800")  # 2024-11-15: embargoed
    if edit:
        write(site / edit, STORY.replace("First text.", "First text, corrected."))
    report = build_into(site, out)
    assert not report.unchanged and report.skipped == 1 and not (out / "news/embargoed/index.html").exists()
    build_into(site, tmp_path / "fresh", cache=False)
    assert tree_digest(out) == tree_digest(tmp_path / "fresh")
    # Forward again, to the first build's moment: the story is back.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1735689600")
    assert not build_into(site, out).unchanged and (out / "news/embargoed/index.html").is_file()


# Seconds since 1970 of 2024-06-01T00:00Z, around which the random stories are dated and the clock set.
JUNE = 1717200000


@pytest.mark.parametrize("seed", [1, 2])
def test_random_edits_and_clock_moves_each_equal_a_fresh_build(make_site: Callable[..., Path], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """Edits, drafts, new and deleted stories, and a clock set forward or back across their times and the
    news window: each build, whichever way it goes, equals a fresh build at its moment, search included."""
    rng = random.Random(seed)
    site = make_site({}, config='title = "Clocked"\nbase_url = "https://example.org/"\n'
                                '[[sections]]\nname = "World"\n[[sections]]\nname = "Sport"\n')
    stories: dict[str, dict[str, Any]] = {}

    def put(name: str) -> None:
        s = stories[name]
        draft = "draft: true\n" if s["draft"] else ""
        write(site / f"seeds/{name}.md", f"---\ntitle: Story {name}{s['headline']}\n"
                                        f"date: 2024-06-{s['day']:02}T{s['hour']:02}:00:00Z\nsection: {s['section']}\n"
                                        f"tags: [{', '.join(s['tags'])}]\n{draft}---\nWords of {name}{s['text']}.\n")

    def new(name: str) -> None:
        stories[name] = {"day": rng.randint(1, 12), "hour": rng.randint(0, 23), "headline": "", "text": "",
                         "section": rng.choice(["World", "Sport"]), "tags": rng.sample("abc", 2), "draft": False}
        put(name)

    for i in range(6):
        new(f"s{i}")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(JUNE + 5 * 86400 + 12 * 3600))
    build_into(site, tmp_path / "out")
    steps = []
    for step in range(12):
        kind, name = rng.choice(["text", "headline", "date", "draft", "section", "tags", "new", "delete", "clock",
                                 "clock"]), rng.choice(sorted(stories))
        steps.append((kind, name))
        if kind == "clock":
            monkeypatch.setenv("SOURCE_DATE_EPOCH", str(JUNE + rng.randint(0, 13 * 24) * 3600))
        elif kind == "new":
            new(f"n{step}")
        elif kind == "delete" and len(stories) > 1:
            del stories[name]
            (site / f"seeds/{name}.md").unlink()
        else:
            s = stories[name]
            if kind == "date":
                s["day"], s["hour"] = rng.randint(1, 12), rng.randint(0, 23)
            elif kind in ("draft", "section", "tags"):
                s[kind] = {"draft": not s["draft"], "section": "Sport" if s["section"] == "World" else "World",
                           "tags": rng.sample("abc", rng.randint(0, 3))}[kind]
            elif kind in ("text", "headline"):
                s[kind] = f" {step}"
            put(name)
        assert not build_into(site, tmp_path / "out").errors
        build_into(site, tmp_path / f"fresh{step}", cache=False)
        assert tree_digest(tmp_path / "out") == tree_digest(tmp_path / f"fresh{step}"), steps


def test_unchanged_means_no_article_or_sidecar_changed(make_site: Callable[..., Path], tmp_path: Path) -> None:
    wire = "Wire headline\nStandfirst.\nFirst paragraph./."
    site = make_site({"seeds/a.md": STORY, "seeds/wire.txt": wire})
    build_into(site, tmp_path / "out")
    # An editor's swap file, or notes in a folder the build skips, is not an input.
    write(site / "seeds/.a.md.swp", "swap")
    write(site / "seeds/_drafts/notes.md", "---\ntitle: Notes\n---\nx")
    assert build_into(site, tmp_path / "out").unchanged
    # A sidecar that appears beside wire copy is: it gives the story its section.
    write(site / "seeds/wire.yaml", "section: Business\n")
    report = build_into(site, tmp_path / "out")
    assert not report.unchanged and (tmp_path / "out/business/wire-headline/index.html").is_file()


@pytest.mark.parametrize("damage", [b"", b"garbage", b"j2"])
def test_damaged_compiled_templates_are_compiled_again(make_site: Callable[..., Path], tmp_path: Path,
                                                       damage: bytes) -> None:
    import jinja2.bccache

    site = make_site({"seeds/a.md": STORY, "seeds/b.md": STORY.replace("Cached story", "Second story")})
    build_into(site, tmp_path / "out")
    compiled = sorted((site / CACHE_DIR / "templates").iterdir())
    assert compiled, "templates compiled by one build are kept for the next"
    for path in compiled:
        # Cut short after Jinja's own header, so that Jinja reads on into nothing.
        path.write_bytes(jinja2.bccache.bc_magic + damage if damage == b"j2" else damage)
    write(site / "seeds/a.md", STORY.replace("First text.", "Edited text."))
    build_into(site, tmp_path / "out")
    build_into(site, tmp_path / "fresh", cache=False)
    assert tree_digest(tmp_path / "out") == tree_digest(tmp_path / "fresh")
    assert "Edited text." in (tmp_path / "out/world/cached-story/index.html").read_text()


def test_compiled_templates_go_with_the_cache(make_site: Callable[..., Path], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import sitegen.cache

    site = make_site({"seeds/a.md": STORY})
    build_into(site, tmp_path / "out")
    stale = site / CACHE_DIR / "templates" / "from-another-version"
    stale.write_bytes(b"compiled with other options")
    monkeypatch.setattr(sitegen.cache, "code_identity", lambda: "0.0.0+other")
    Cache(site / CACHE_DIR).close()
    assert not stale.exists()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "blob", "foreign"])
def test_damaged_cache_is_ignored(make_site: Callable[..., Path], tmp_path: Path, damage: str) -> None:
    site = make_site({"seeds/a.md": STORY})
    build_into(site, tmp_path / "out")
    database = site / CACHE_DIR / "cache.sqlite3"
    if damage == "truncate":
        data = database.read_bytes()
        database.write_bytes(data[: len(data) // 3])
    elif damage == "garbage":
        database.write_bytes(b"this is not a database" * 100)
    elif damage == "blob":
        with sqlite3.connect(database) as db:
            db.execute("UPDATE articles SET value = x'80049500'")
            db.execute("DELETE FROM meta WHERE key = 'last_build'")
    else:
        with sqlite3.connect(database) as db:
            fake = pickle.dumps(ContentError("not an article"))
            db.execute("UPDATE articles SET value = ?", (fake,))
            db.execute("DELETE FROM meta WHERE key = 'last_build'")
    for wal in database.parent.glob("cache.sqlite3-*"):
        wal.unlink()
    write(site / "seeds/a.md", STORY.replace("First text.", "After damage."))
    report = build_into(site, tmp_path / "out")
    assert not report.errors
    assert "After damage." in (tmp_path / "out/world/cached-story/index.html").read_text()
    # The cache was rebuilt around the damage and holds the article again, readable.
    with sqlite3.connect(database) as db:
        digests = [row[0] for row in db.execute("SELECT digest FROM articles")]
    assert len(Cache(site / CACHE_DIR).articles(digests)) == 1


def test_template_error_from_a_worker_keeps_its_location(make_site: Callable[..., Path], tmp_path: Path) -> None:
    files = {f"seeds/s{i}.md": STORY.replace("Cached story", f"Story {i}") for i in range(6)}
    broken = '{% extends "base.html" %}\n{% block main %}\n{{ 1 // 0 }}\n{% endblock %}\n'
    site = make_site({**files, "templates/article.html": broken})
    with pytest.raises(TemplateError) as info:
        build_into(site, tmp_path / "out", workers=1)
    assert str(info.value.path).endswith("article.html") and info.value.line == 3


def test_a_first_build_stopped_part_way_leaves_no_record_a_build_trusts(make_site: Callable[..., Path],
                                                                         tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # A first build stages its pages straight into the record they replace (see Cache.start_staging),
    # here each page as it comes, as an archive's pages are a thousand at a time.
    monkeypatch.setattr("sitegen.cache.STAGE_BATCH", 1)
    monkeypatch.setattr(build_module, "RENDER_CHUNK", 1)
    files = {f"seeds/s{i}.md": STORY.replace("Cached story", f"Story {i}") for i in range(6)}
    broken = '{% extends "base.html" %}\n{% block main %}{{ 1 // 0 if article.headline == "Story 3" }}{% endblock %}\n'
    site, out, elsewhere = make_site(files), tmp_path / "out", tmp_path / "elsewhere"
    # A record of another output's pages, which a build into `out` replaces whole.
    build_into(site, elsewhere, workers=1)
    write(site / "templates/article.html", broken)
    with pytest.raises(TemplateError):
        build_into(site, out, workers=1)
    cache = Cache(site / CACHE_DIR)
    assert cache.pages(out, set()) == {} and cache.pages(elsewhere, set()) == {}
    cache.close()
    (site / "templates/article.html").unlink()
    report, urls = rendered(site, out)
    assert report.reused == 0 and len(urls) == report.pages
    cache = Cache(site / CACHE_DIR)
    try:
        assert set(cache.pages(out, set())) == set(urls)
        indexes = {name for (name,) in cache.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"page_bodies_digest", "page_bodies_url", "page_articles_path", "page_articles_url"} <= indexes
    finally:
        cache.close()
    # The record it left is the one the next edit is rendered from.
    write(site / "seeds/s2.md", files["seeds/s2.md"].replace("First text.", "Second text."))
    urls = rendered(site, out)[1]
    # Its page and the feeds that carry its body, nothing else.
    assert "/world/story-2/" in urls and all(url == "/world/story-2/" or not url.endswith("/") for url in urls)
    build_into(site, tmp_path / "fresh", cache=False)
    assert tree_digest(out) == tree_digest(tmp_path / "fresh")


def test_errors_survive_pickling() -> None:
    error = pickle.loads(pickle.dumps(ContentError("bad", Path("a.md"), 3, "fix it")))
    assert (error.message, error.path, error.line, error.hint) == ("bad", Path("a.md"), 3, "fix it")


def test_another_sitegen_version_drops_the_cache(make_site: Callable[..., Path], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import sitegen.cache

    site = make_site({"seeds/a.md": STORY})
    build_into(site, tmp_path / "out")
    assert build_into(site, tmp_path / "out").unchanged
    monkeypatch.setattr(sitegen.cache, "code_identity", lambda: "0.0.0+other")
    report = build_into(site, tmp_path / "out")
    assert not report.unchanged and report.cache_hits == 0


def test_a_body_edit_renders_only_the_pages_that_show_that_body(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first, _ = rendered(archive, out)
    # Story 24 is the newest: it is in the site, section, tag and author feeds.
    write(archive / "seeds/s24.md", story("Story 24", "Body 24, corrected.", date="2024-01-25"))
    report, urls = rendered(archive, out)
    feeds = [f"{prefix}{name}" for prefix in ("/", "/world/", "/tags/shared/", "/authors/ann/")
             for name in ("feed.json", "feed.xml", "rss.xml")]
    assert urls == sorted(["/world/story-24/", *feeds])
    assert report.reused == first.pages - len(urls) and report.cache_hits == first.articles - 1
    assert "Body 24, corrected." in (out / "world/story-24/index.html").read_text()
    assert "Body 24, corrected." in (out / "tags/shared/feed.xml").read_text()
    # An old story is in no feed: only its own page shows its body.
    write(archive / "seeds/s00.md", story("Story 0", "Body 0, corrected, and longer than before.", date="2024-01-01"))
    assert rendered(archive, out)[1] == ["/world/story-0/"]
    write(archive / "seeds/wire.txt", "Wire headline\nWire standfirst.\nWire body, corrected./.")
    assert rendered(archive, out)[1] == ["/world/wire-headline/"]
    build_into(archive, tmp_path / "fresh", cache=False)
    assert tree_digest(out) == tree_digest(tmp_path / "fresh")


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("seeds/s10.md", story("Story ten, renamed", "Body 10.", date="2024-01-11")),
        ("seeds/s10.md", story("Story 10", "Body 10.", tags="[Shared, Fresh]", date="2024-01-11")),
        ("seeds/s10.md", story("Story 10", "Body 10.", date="2024-01-30")),
        ("seeds/wire.yaml", "date: 2023-12-01\nsection: Business\ntags: [Shared]\n"),
        ("seeds/wire.txt", "Wire headline changed\nWire standfirst.\nWire body./."),
        ("seeds/new.md", story("A new story", "New body.")),
    ],
    ids=["headline", "tags", "date", "sidecar section", "wire headline", "new article"],
)
def test_a_metadata_edit_renews_every_page_that_lists_the_article(archive: Path, tmp_path: Path, path: str,
                                                                  text: str) -> None:
    out = tmp_path / "out"
    rendered(archive, out)
    write(archive / path, text)
    report, urls = rendered(archive, out)
    assert not report.errors and len(urls) > 3
    build_into(archive, tmp_path / "fresh", cache=False)
    assert tree_digest(out) == tree_digest(tmp_path / "fresh")


def test_deleting_an_article_removes_its_pages(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    rendered(archive, out)
    (archive / "seeds/s03.md").unlink()
    rendered(archive, out)
    assert not (out / "world/story-3").exists()
    build_into(archive, tmp_path / "fresh", cache=False)
    assert tree_digest(out) == tree_digest(tmp_path / "fresh")


def test_a_touched_file_renders_nothing(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first, _ = rendered(archive, out)
    os.utime(archive / "seeds/s05.md", (1, 1))
    report, urls = rendered(archive, out)
    assert urls == [] and report.reused == first.pages and not report.unchanged
    assert rendered(archive, out)[0].unchanged


def test_fingerprints_do_not_depend_on_object_identity(archive: Path) -> None:
    from sitegen.build import load_settings, plan
    from sitegen.cache import Fingerprinter
    from sitegen.config import load_config
    from sitegen.load import load_content

    config, _ = load_config(archive)
    loaded = load_content(archive / "seeds", load_settings(config))
    pages = plan(config, BuildOptions(source=archive), loaded).pages
    cards = {a.digest: "card" for a in loaded.articles}
    # A worker fingerprints pages it unpickled: the same values, differently shared.
    copies = [pickle.loads(pickle.dumps(chunk)) for chunk in (pages[:7], pages[7:])]
    here, there = Fingerprinter(cards), Fingerprinter(cards)
    assert [here.dumps(p) for p in pages] == [there.dumps(p) for chunk in copies for p in chunk]


def test_fingerprints_do_not_depend_on_how_many_keys_are_kept(archive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sitegen.cache
    from sitegen.build import load_settings, plan
    from sitegen.cache import Fingerprinter
    from sitegen.config import load_config
    from sitegen.load import load_content

    config, _ = load_config(archive)
    loaded = load_content(archive / "seeds", load_settings(config))
    pages = plan(config, BuildOptions(source=archive), loaded).pages
    cards = {a.digest: "card" for a in loaded.articles}
    everything = [Fingerprinter(cards).dumps(p) for p in pages]
    # An archive's worth of articles overflows the keys kept: they are made again, the same.
    monkeypatch.setattr(sitegen.cache, "KEY_MEMORY", 2)
    assert [Fingerprinter(cards).dumps(p) for p in pages] == everything
    assert sum(b"_article_ref" in data for data in everything) > 10


def test_filings_read_beside_a_build_storing_them_are_never_taken_in_part(make_site: Callable[..., Path],
                                                                          tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import sitegen.cache
    from sitegen.cache import remember_filings

    site = make_site({f"seeds/s{n}.md": STORY.replace("Cached story", f"Story {n}") for n in range(5)})
    build_into(site, tmp_path / "out")
    path = site / CACHE_DIR / "cache.sqlite3"
    kept = Remembered()
    cache = Cache(site / CACHE_DIR, remembered=kept)
    rows = cache.filings({p: d for p, (_, d) in cache.file_digests().items()})
    assert len(rows) == 5
    monkeypatch.setattr(sitegen.cache, "_FILINGS_PART", 2)
    seen: list[object] = []

    def stored_while_read() -> Iterator[Any]:
        for row in rows:
            # Another thread's read, between two parts of the filings being written.
            remember_filings(path, kept)
            seen.append(kept.filings)
            yield row

    kept.filings = None
    cache.store_filings(stored_while_read())
    assert seen == [None] * 5, "filings half written were kept as the whole"
    remember_filings(path, kept)
    assert kept.filings is not None and len(kept.filings[1]) == 5
    cache.close()


def test_filings_keep_each_term_once(tmp_path: Path) -> None:
    cache = Cache(tmp_path / CACHE_DIR)
    def made(*parts: str) -> tuple[str, ...]:
        return tuple(list(parts))

    # Equal terms made apart, as the workers that load two articles make them.
    rows = [(f"seeds/{n}.md", f"d{n}", "card", 1.0, f"slug-{n}", None, False,
             (made("section", "world", "World"), made("tag", "rain", "Rain"), made("tag", f"t{n}", f"T{n}")),
             (made("section", "world"), made("tag", "rain"), made("tag", f"t{n}")))
            for n in ("1", "2")]
    assert rows[0][7][0] is not rows[1][7][0]
    cache.store_filings(rows)
    kept = cache.kept_filings()
    assert kept == {row[1]: row[2:] for row in rows}
    first, second = kept["d1"], kept["d2"]
    # One object each, read back as a reference: at 100,000 articles, 0.09 s of an edit build that refiles.
    assert first[5][0] is second[5][0] and first[5][1] is second[5][1] and first[6][1] is second[6][1]
    assert first[5][2] is not second[5][2]
    cache.close()


def _filings_stored(site: Path, out: Path, **options: object) -> dict[str, tuple[Any, ...]]:
    shutil.rmtree(site / CACHE_DIR, ignore_errors=True)
    build_into(site, out, **options)
    cache = Cache(site / CACHE_DIR)
    try:
        return cache.kept_filings()
    finally:
        cache.close()


def _cannot_store_filings(path: Path, files: object) -> None:
    raise OSError("disk full")


def test_a_worker_stores_the_filings_this_process_would_have(make_site: Callable[..., Path], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    files = {f"seeds/s{n}.md": f"---\ntitle: Story {n}\ndate: 2024-01-0{n + 1}\nsection: {'World' if n % 2 else 'Sport'}\n"
                               f"tags: [Rain, Đà Nẵng {n}]\nauthors: [Lan, Ann]\n---\nText.\n" for n in range(6)}
    files["seeds/draft.md"] = story("Draft", "Text.", extra="draft: true\n")
    site = make_site(files)
    here = _filings_stored(site, tmp_path / "one", workers=1)
    assert len(here) == 7 and sum(filing[4] for filing in here.values()) == 1
    in_this_process: list[int] = []
    original = Cache.store_filings
    monkeypatch.setattr(Cache, "store_filings", lambda self, rows: in_this_process.append(1) or original(self, rows))
    assert _filings_stored(site, tmp_path / "two", workers=2) == here
    assert in_this_process == []
    # A worker that cannot leaves them to this process, and the build goes on.
    monkeypatch.setattr(build_module, "store_filings_of", _cannot_store_filings)
    assert _filings_stored(site, tmp_path / "three", workers=2) == here
    assert in_this_process == [1]


def test_filings_stored_from_the_cache_are_all_or_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sitegen.cache
    from sitegen.cache import filing_row, store_filings_of

    cache = Cache(tmp_path / CACHE_DIR)
    cards = cache.store_articles([*_one_story("d1"), *_one_story("d2"), *_one_story("d3")])
    # Read back a chunk at a time, and stored a piece at a time, in the order given.
    monkeypatch.setattr(sitegen.cache, "_CHUNK", 2)
    monkeypatch.setattr(sitegen.cache, "_FILINGS_PART", 2)
    store_filings_of(cache.path, [("c.md", "d3"), ("a.md", "d1"), ("b.md", "d2")])
    articles = {d: a for d, (a, _) in cache.articles(["d1", "d2", "d3"]).items()}
    assert list(cache.kept_filings().items()) == [(d, filing_row(articles[d], cards[d])[2:]) for d in ("d3", "d1", "d2")]
    with pytest.raises(LookupError, match="gone.md"):
        store_filings_of(cache.path, [("a.md", "d1"), ("gone.md", "d9")])
    # None of them kept, rather than some taken for all: the build stores them itself.
    assert cache.kept_filings() == {}
    cache.close()


def test_a_worker_keeps_one_fingerprinter_for_a_build_s_chunks() -> None:
    from sitegen.config import Config
    from sitegen.parallel import RenderSettings, _fingerprinter

    cards, other_cards = {"d1": "card"}, {"d1": "card"}
    settings = RenderSettings(Config(), (), {}, None, run="first")
    kept = _fingerprinter(cards, settings)
    # Its memory of each article's reference is what spares a build one per card of every listing.
    assert _fingerprinter(cards, settings) is kept
    assert _fingerprinter(cards, replace(settings, run="second")) is not kept
    # A chunk sent with cards of its own (to a remote worker) is fingerprinted with those.
    assert _fingerprinter(other_cards, replace(settings, run="second")).cards is other_cards
    assert _fingerprinter(cards, replace(settings, run="second", targets=(("a.md", "/a/"),))).targets == {"a.md": "/a/"}


def _one_story(name: str = "d1") -> list[tuple[Article, Any]]:
    from sitegen.model import Body

    return [(Article(source_path=Path(f"{name}.md"), slug=name, headline="h", standfirst="", digest=name),
             Body("<p>Text.</p>", 1))]


def test_a_kept_cache_goes_with_a_write_ahead_log_once_a_first_build_has_filled_it(tmp_path: Path) -> None:
    # Workers read a kept cache while this process stages pages in it; an edit build beside a
    # preview's search refresh needs the log. A first build fills an empty one as a throwaway is filled.
    kept, throwaway = Cache(tmp_path / "kept"), Cache(tmp_path / "throwaway", throwaway=True)
    assert kept.db.execute("PRAGMA journal_mode").fetchone()[0] == "memory"
    assert throwaway.db.execute("PRAGMA journal_mode").fetchone()[0] == "memory"
    kept.store_articles(_one_story())
    kept.close()
    throwaway.close()
    kept = Cache(tmp_path / "kept")
    assert kept.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert kept.articles(["d1"])["d1"][0].slug == "d1"
    kept.close()


def test_a_first_build_writes_its_cache_out_early_and_closes_once_it_is_out(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import sitegen.cache

    written: list[Path] = []

    def slowly(path: Path) -> None:
        time.sleep(0.2)
        written.append(path)

    monkeypatch.setattr(sitegen.cache, "_write_out", slowly)
    first = Cache(tmp_path / "cache")
    first.store_articles(_one_story())
    first.write_out_early()
    # Closing waits for it: the mark goes only once everything is on disk.
    first.close()
    assert written == [first.path]
    again = Cache(tmp_path / "cache")
    assert again.articles(["d1"])["d1"][0].slug == "d1"
    # Only a first build's unjournalled fill needs it: a kept cache's log is forced to disk as it goes.
    again.write_out_early()
    again.close()
    throwaway = Cache(tmp_path / "throwaway", throwaway=True)
    throwaway.write_out_early()
    throwaway.close()
    assert written == [first.path]
    # The real thing, on a real file.
    real = Cache(tmp_path / "real")
    monkeypatch.undo()
    real.store_articles(_one_story())
    real.write_out_early()
    real.close()
    reopened = Cache(tmp_path / "real")
    assert reopened.articles(["d1"])["d1"][0].slug == "d1"
    reopened.close()


def test_a_first_build_that_dies_leaves_a_cache_the_next_starts_afresh(tmp_path: Path) -> None:
    first = Cache(tmp_path / "cache")
    first.store_articles(_one_story())
    # Killed before it closed the cache: its writes were never forced to disk, so none is trusted.
    first.db.close()
    second = Cache(tmp_path / "cache")
    assert second.holds_no_articles()
    second.store_articles(_one_story("d2"))
    second.close()
    third = Cache(tmp_path / "cache")
    assert set(third.articles(["d1", "d2"])) == {"d2"}
    third.close()


def test_a_long_running_caller_keeps_the_filings_until_a_full_build_keeps_others(make_site: Callable[..., Path],
                                                                                 tmp_path: Path) -> None:
    site = make_site({"seeds/a.md": STORY, "seeds/b.md": STORY.replace("Cached story", "Other story")})
    build_into(site, tmp_path / "out")
    kept = Remembered()

    def filings() -> list[Any]:
        cache = Cache(site / CACHE_DIR, remembered=kept)
        try:
            return cache.filings({path: digest for path, (_, digest) in cache.file_digests().items()})
        finally:
            cache.close()

    first = filings()
    assert sorted(row[0] for row in first) == [str(site / "seeds/a.md"), str(site / "seeds/b.md")]
    assert kept.filings is not None and set(kept.filings[1]) == {row[1] for row in first}
    # Read from memory while the cache holds the same full build's filings...
    with sqlite3.connect(site / CACHE_DIR / "cache.sqlite3") as db:
        db.execute("DELETE FROM filings")
    assert filings() == first
    # ...and afresh once a full build (here, of a new title) kept others.
    write(site / "sitegen.toml", 'title = "Renamed"\n')
    write(site / "seeds/c.md", STORY.replace("Cached story", "Third story"))
    build_into(site, tmp_path / "out")
    third = filings()
    assert len(third) == 3 and set(kept.filings[1]) == {row[1] for row in third}


def test_settle_folds_the_log_into_the_database(tmp_path: Path) -> None:
    from sitegen.cache import CachedBodies
    from sitegen.model import Article, Body

    # Past the first build, which fills the cache without the log.
    cache = Cache(tmp_path / "cache")
    cache.store_articles(_one_story())
    cache.close()
    cache = Cache(tmp_path / "cache")
    stories = [(Article(source_path=Path(f"{n}.md"), slug=f"s{n}", headline="h", standfirst="", digest=f"d{n}"),
                Body(f"<p>{'word ' * 2000}{n}</p>", 2001)) for n in range(50)]  # type: ignore[arg-type]
    cache.store_articles(stories)
    log = tmp_path / "cache" / "cache.sqlite3-wal"
    assert log.stat().st_size > 100_000
    cache.settle()
    assert log.stat().st_size == 0
    # Nothing is lost: the bodies are read back from the database itself.
    assert CachedBodies(cache.path)["d49"].html.endswith("49</p>")
    cache.close()


def test_a_chunks_bodies_are_read_ahead_in_one_query_and_lookups_then_ask_for_none(tmp_path: Path) -> None:
    from sitegen.cache import CachedBodies
    from sitegen.model import Body

    cache = Cache(tmp_path / "cache")
    cache.store_articles(_stories(50))
    cache.close()
    bodies = CachedBodies(cache.path)
    queries: list[str] = []
    bodies._connection().set_trace_callback(queries.append)
    bodies.read_ahead([f"d{n}" for n in range(10)] + ["d3", "missing"])
    assert len(queries) == 1 and "IN (" in queries[0]
    assert [bodies[f"d{n}"].html for n in range(10)] == [f"<p>{'word ' * 200}{n}</p>" for n in range(10)]
    assert len(queries) == 1
    # Read ahead again, only those not kept are asked for; any other body is still found on its own.
    bodies.read_ahead(["d9", "d10"])
    assert len(queries) == 2 and "'d10'" in queries[1] and "'d9'" not in queries[1]
    assert isinstance(bodies["d20"], Body) and len(queries) == 3
    with pytest.raises(KeyError):
        bodies["missing"]


def test_rendering_reads_each_chunks_story_bodies_ahead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sitegen.cache import CachedBodies

    site = tmp_path / "site"
    shutil.copytree(SITES / "newsroom", site)
    ahead: list[list[str]] = []
    looked_up: list[str] = []
    read_ahead, lookup = CachedBodies.read_ahead, CachedBodies.__getitem__

    def noting_ahead(self: CachedBodies, digests: Any) -> None:
        ahead.append(list(digests))
        read_ahead(self, ahead[-1])

    def noting_lookup(self: CachedBodies, digest: str) -> Any:
        if digest not in self._recent and ahead and digest in ahead[-1]:
            looked_up.append(digest)
        return lookup(self, digest)

    monkeypatch.setattr(CachedBodies, "read_ahead", noting_ahead)
    monkeypatch.setattr(CachedBodies, "__getitem__", noting_lookup)
    report = build_into(site, tmp_path / "out", workers=1, cache=False)
    assert report.articles > 3 and not report.errors
    stories = {digest for chunk in ahead for digest in chunk}
    assert len(stories) == report.articles
    # No body read ahead for a chunk was then looked up on its own while the chunk was rendered.
    assert looked_up == []


def _stories(count: int) -> list[Any]:
    from sitegen.model import Article, Body

    return [(Article(source_path=Path(f"{n}.md"), slug=f"s{n}", headline="h", standfirst="", digest=f"d{n}"),  # type: ignore[arg-type]
             Body(f"<p>{'word ' * 200}{n}</p>", 201)) for n in range(count)]


def _storedstory(tmp_path: Path) -> tuple[Cache, Article, str]:
    """A cache holding one article as a build records it (its file's digest and the article), and its card key."""
    from sitegen.model import Body, Term

    cache = Cache(tmp_path / "cache")
    article = Article(source_path=Path("seeds/a.md"), slug="a", headline="Story", standfirst="",
                      tags=(Term("Da Nang", "da-nang"),), digest="d1")
    cards = cache.store_articles([(article, Body("<p>Text.</p>", 1))])  # type: ignore[arg-type]
    cache.store_file_digests({"seeds/a.md": ("status", "d1")}, replace_all=True)
    return cache, article, cards["d1"]


def test_stored_pages_read_their_articles_from_the_cache(tmp_path: Path) -> None:
    # Forked workers get pages in this form and find every article the page names in the cache.

    from sitegen.cache import CachedArticles, Fingerprinter, PageReader
    from sitegen.model import Term, filed_as
    from sitegen.plan import Page

    cache, article, card = _storedstory(tmp_path)
    # The site files the tag under the spelling another article used first: the page keeps that one.
    filed = filed_as(article, (None, (Term("Đà Nẵng", "da-nang"),), ()))
    page = Page("/tags/da-nang/", "list.html", {"articles": (filed, filed), "title": "Đà Nẵng"})
    data = Fingerprinter({"d1": card}).dumps(page)
    reader = PageReader(CachedArticles(cache.path), remember=4)
    again = reader.load(data)
    assert again == page and again.context["articles"][0].tags[0].name == "Đà Nẵng"
    assert again.context["articles"][0].digest == "d1" and again.context["articles"][0].spelled_as[1] == article.tags
    # Filed as its file spells them, an article's reference names no terms: the cache has them.
    own = Page("/tags/da-nang/", "list.html", {"articles": (article,), "title": "Da Nang"})
    data = Fingerprinter({"d1": card}).dumps(own)
    assert b'"da-nang"' not in data and PageReader(CachedArticles(cache.path)).load(data) == own
    # Read outside a reader, the references are refused, never taken for something else.
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(data)
    cache.close()


def test_the_navigation_is_pickled_once_and_read_back_as_one_object(tmp_path: Path) -> None:
    from sitegen.cache import CachedArticles, Fingerprinter, PageReader
    from sitegen.model import Sections, Term
    from sitegen.plan import Page

    cache, article, card = _storedstory(tmp_path)
    word = "tin-tức"
    nav = Sections((Term("World", "world"), Term(word, word), Term("Đà Nẵng", "da-nang")))
    # Equal, but no object shared: a worker's copy, or an edit build's own navigation.
    other = Sections((Term("World", "world"), Term("tin-tức", "".join(["tin-", "tức"])), Term("Đà Nẵng", "da-nang")))
    pickler = Fingerprinter({"d1": card})
    pages = [Page(f"/{n}/", "list.html", {"articles": (article,), "nav_sections": nav}) for n in range(2)]
    stored = [pickler.dumps(page) for page in pages]
    assert Fingerprinter({"d1": card}).dumps(replace(pages[0], context={**pages[0].context, "nav_sections": other})) \
        == stored[0]
    reader = PageReader(CachedArticles(cache.path))
    again = [reader.load(data) for data in stored]
    assert again == pages and type(again[0].context["nav_sections"]) is Sections
    assert again[0].context["nav_sections"] is again[1].context["nav_sections"]
    assert [term.name for term in again[1].context["nav_sections"]] == ["World", "tin-tức", "Đà Nẵng"]
    # A changed navigation is a changed page.
    changed = Sections((*nav[:2], Term("Đà Nẵng", "da-nang-2")))
    assert pickler.dumps(replace(pages[0], context={**pages[0].context, "nav_sections": changed})) != stored[0]
    cache.close()


def test_a_stored_page_whose_article_changed_is_refused(tmp_path: Path) -> None:
    from sitegen.cache import CachedArticles, Fingerprinter, PageReader
    from sitegen.errors import BuildError
    from sitegen.plan import Page

    cache, article, _ = _storedstory(tmp_path)
    # Pickled against another card key: what the page showed is no longer what the cache holds.
    data = Fingerprinter({"d1": "an older card"}).dumps(Page("/", "index.html", {"articles": (article,)}))
    with pytest.raises(BuildError, match="stale"):
        PageReader(CachedArticles(cache.path)).load(data)
    cache.close()


def test_a_cache_another_sitegen_is_writing_is_waited_for_never_thrown_away(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    import sitegen.cache as cache_module
    from sitegen.cache import Cache
    from sitegen.errors import BuildError

    # Another process holds the database (not yet in write-ahead mode) in an exclusive transaction.
    (tmp_path / "cache").mkdir()
    holder = sqlite3.connect(tmp_path / "cache/cache.sqlite3", isolation_level=None)
    holder.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(cache_module, "BUSY_SECONDS", 0.2)
    with pytest.raises(BuildError, match="busy"):
        Cache(tmp_path / "cache")
    holder.execute("ROLLBACK")
    holder.close()
    assert (tmp_path / "cache/cache.sqlite3").is_file()
    Cache(tmp_path / "cache").close()


def _page_rows(cache: Cache) -> dict[str, list[tuple[Any, ...]]]:
    return {table: sorted(cache.db.execute(f"SELECT * FROM {table}").fetchall())
            for table in ("pages", "page_data", "page_bodies", "page_articles")}


@pytest.mark.parametrize("batch", [1, 2, 1000])
def test_pages_staged_in_memory_or_spilled_leave_the_same_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 batch: int) -> None:
    # An edit's few pages go straight into the record; past STAGE_BATCH they go through pages_next.
    monkeypatch.setattr("sitegen.cache.STAGE_BATCH", batch)
    cache = Cache(tmp_path / "cache")
    cache.start_staging(replace_all=True)
    for url in ("/a/", "/b/", "/c/", "/d/"):
        cache.stage_page(url, f"print {url}", f"page {url}".encode(), frozenset({f"body {url}", "shared"}), [f"{url}.md"])
    cache.commit_staged_pages(tmp_path / "out", [])
    cache.start_staging(replace_all=False)
    cache.stage_page("/a/", "print a2", None, frozenset({"body a2"}), ["a2.md"])
    cache.stage_page("/b/", "print b2", b"page b2", frozenset(), [])
    cache.stage_page("/e/", "print e", b"page e", frozenset({"shared"}), ["e.md"])
    cache.commit_staged_pages(tmp_path / "out", ["/c/"])
    assert _page_rows(cache) == {
        "pages": [("/a/", "print a2"), ("/b/", "print b2"), ("/d/", "print /d/"), ("/e/", "print e")],
        "page_data": [("/b/", b"page b2"), ("/d/", b"page /d/"), ("/e/", b"page e")],
        "page_bodies": [("body /d/", "/d/"), ("body a2", "/a/"), ("shared", "/d/"), ("shared", "/e/")],
        "page_articles": [("/d/.md", "/d/"), ("a2.md", "/a/"), ("e.md", "/e/")],
    }
    assert cache.db.execute("SELECT value FROM meta WHERE key = 'output'").fetchone() == (str((tmp_path / "out").resolve()),)
    assert cache.db.execute("SELECT count(*) FROM pages_next").fetchone() == (0,)
    cache.close()


def test_the_log_of_written_files_says_what_changed_since_a_mark(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    try:
        cache.store_file_digests({"seeds/a.md": ("s1", "d1"), "seeds/b.md": ("s1", "d2")}, replace_all=True)
        # Since the start: the files were replaced whole, so anything may have changed.
        mark, files = cache.changed_files(0)
        assert mark > 0 and files is None
        cache.store_file_digests({"seeds/b.md": ("s2", "d3")}, replace_all=False)
        cache.forget_files(["seeds/a.md"])
        later, files = cache.changed_files(mark)
        assert files == ["seeds/b.md", "seeds/a.md"] and later > mark
        assert cache.changed_files(later) == (later, [])
        # A full build's files, after which every mark before it says "anything".
        cache.store_file_digests({"seeds/b.md": ("s3", "d3")}, replace_all=True)
        assert cache.changed_files(later)[1] is None
        final, _ = cache.changed_files(0)
        assert final > later and cache.changed_files(final) == (final, [])
    finally:
        cache.close()


def test_the_files_using_local_files_are_found_without_reading_every_files_row(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    cache.store_file_digests({**{f"seeds/{n}.md": ("status", f"d{n}") for n in range(50)},
                              "seeds/photo.md": ("status", "dp", "key", ("seeds/photo.jpg",))}, replace_all=True)
    assert cache.file_assets() == {"seeds/photo.md": ("key", "dp", ("seeds/photo.jpg",))}
    plan = " ".join(str(row) for row in cache.db.execute(
        "EXPLAIN QUERY PLAN SELECT path, digest, key, assets FROM files WHERE assets IS NOT NULL"))
    assert "files_assets" in plan, plan
    cache.close()


def test_a_story_on_the_edge_of_the_news_window_leaves_it_with_the_next_moment(make_site: Callable[..., Path],
                                                                               tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Built exactly two days after a story, the site still lists it in the news sitemap; any later
    build, with nothing changed, must not take that site for current."""
    site = make_site({"seeds/a.md": story("A", "Text.", date="2024-06-01T12:00:00Z"),
                      "seeds/b.md": story("B", "Text.", date="2024-06-02T12:00:00Z")},
                     config='title = "Edge"\nbase_url = "https://example.org/"\n')
    edge = JUNE + 2 * 86400 + 12 * 3600

    def news(out: Path) -> list[str]:
        return re.findall(r"<loc>[^<]*/(\w)/</loc>", (out / "news-sitemap.xml").read_text(encoding="utf-8"))

    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(edge))
    first = build_into(site, tmp_path / "out")
    assert news(tmp_path / "out") == ["b", "a"] and first.valid_until == "2024-06-03T12:00:00.000001+00:00"
    assert build_into(site, tmp_path / "out").unchanged
    for later in (1, 15 * 3600):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", str(edge))
        build_into(site, tmp_path / "out")
        assert news(tmp_path / "out") == ["b", "a"]
        monkeypatch.setenv("SOURCE_DATE_EPOCH", str(edge + later))
        assert not build_into(site, tmp_path / "out").unchanged
        assert news(tmp_path / "out") == ["b"]
        build_into(site, tmp_path / f"fresh{later}", cache=False)
        assert tree_digest(tmp_path / "out") == tree_digest(tmp_path / f"fresh{later}")
