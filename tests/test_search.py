"""Site search: Pagefind indexes of each month's stories, kept fresh by builds, searched in Chromium."""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Browser, Page, expect

from sitegen import edits, search
from sitegen.build import BuildOptions
from sitegen.errors import BuildError
from sitegen.load import load_article
from sitegen.load.article import LoadSettings
from sitegen.model import Selection
from sitegen.serve import ServeOptions, Server
from tests.conftest import build_into, rendered, run_vnu, write
from tests.test_build import tree_digest
from tests.test_theme_browser import _axe_violations, browser, serving  # noqa: F401 - a fixture

CONFIG = 'title = "Daily"\nbase_url = "https://example.org/news/"\n'
STORIES = {
    "seeds/bridge.md": "---\ntitle: Bridge opens over the river\ndate: 2024-05-01\nsection: World\n---\n"
                       "The new bridge carries trams today. Engineers praised the zanzibarian steel.\n",
    "seeds/market.md": "---\ntitle: Market prices fall\ndate: 2024-06-02\nsection: Business\n"
                       "standfirst: Traders worry about the harvest.\n---\nPrices fell at the market today. "
                       "A trader said <script>alert(1)</script> nothing &amp; more.\n",
    "seeds/danang.md": "---\ntitle: Đà Nẵng mở cửa cầu mới\ndate: 2024-06-03\nsection: World\nlanguage: vi\n---\n"
                       "Cây cầu thứ bảy bắc qua sông Hàn được thông xe sáng nay.\n",
}


def site_with(make_site: Callable[..., Path], **extra: str) -> Path:
    return make_site({**STORIES, **extra}, config=CONFIG)


def cut_every(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    """Shards of `size` stories each, cut by count alone: a small site with several shards."""
    monkeypatch.setattr(search, "SHARD_LEAST", size)
    monkeypatch.setattr(search, "SHARD_MOST", size)


def cut_newest_every(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    """No full cut: every story is among the newest, in small shards of `size` (see `search.cut_shards`)."""
    monkeypatch.setattr(search, "SHARD_LEAST", 10**6)
    monkeypatch.setattr(search, "SHARD_MOST", 10**6)
    monkeypatch.setattr(search, "TAIL_LEAST", size)
    monkeypatch.setattr(search, "TAIL_MOST", size)


def put(path: Path, text: str | None) -> None:
    """A story written, or taken down (None)."""
    if text is None:
        path.unlink()
    else:
        write(path, text)


def listed_shards(bundle: Path) -> list[str]:
    """The folders of a bundle's shards as `shards.json` lists them, oldest first."""
    entries = json.loads((bundle / "shards.json").read_text(encoding="utf-8"))["shards"]
    return [entry["path"].rstrip("/") for entry in reversed(entries)]


class Counts:
    """Numbers noted by any process (an edit's build indexes in a forked one), kept in a file, compared as a list."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, number: int) -> None:
        with open(self.path, "a", encoding="utf-8") as noted:
            noted.write(f"{number}\n")

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def __iter__(self) -> Iterator[int]:
        return iter(int(line) for line in self.path.read_text(encoding="utf-8").split()) if self.path.exists() \
            else iter([])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, list) and list(self) == other

    def __repr__(self) -> str:
        return repr(list(self))


def count_indexing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Counts:
    """Records in each shard Pagefind indexes (and writes) from now on."""
    counts = Counts(tmp_path / "indexed-counts")
    original = search._Pagefind.write

    def counting(self: Any, folder: Path, like: Path | None = None) -> None:
        counts.append(self.added)
        original(self, folder, like)

    monkeypatch.setattr(search._Pagefind, "write", counting)
    return counts


def test_a_record_holds_the_story_s_own_words(tmp_path: Path) -> None:
    path = write(tmp_path / "seeds/a.md", "---\ntitle: Head & shoulders\nstandfirst: The stand.\n---\n"
                 "<p>One</p><p>Two &lt;three&gt;</p>\n\n## Later\n\nFour.\n")
    article, body = load_article(path, LoadSettings("en", ZoneInfo("UTC"), "news"))
    record = search.record(article, body, "/news/head-shoulders/")
    assert record["content"] == "Head & shoulders\nThe stand.\nOne Two <three> Later Four."
    assert record["meta"] == {"title": "Head & shoulders", "section": "news"}
    assert record["url"] == "/news/head-shoulders/" and record["language"] == "en"


def assert_whole(bundle: Path) -> None:
    """Every file of every shard has its bytes, and every shard's entry file reads (Pagefind's own writes
    left one shard in fifteen with an empty one)."""
    shards = [entry for entry in bundle.iterdir() if entry.is_dir()]
    assert shards
    for shard in shards:
        assert json.loads((shard / "pagefind-entry.json").read_text(encoding="utf-8"))["languages"], shard
        assert not [path for path in shard.rglob("*") if path.is_file() and path.stat().st_size == 0], shard


def test_a_bundle_s_files_are_written_whole_from_pagefind_s_reply(tmp_path: Path) -> None:
    files = [{"path": "pagefind-entry.json", "content": base64.b64encode(b'{"languages": {}}').decode()},
             {"path": "fragment/en_1.pf_fragment", "content": base64.b64encode(b"\x1f\x8b").decode()},
             {"path": "pagefind-ui.js", "content": base64.b64encode(b"ui").decode()}]
    search.write_bundle(files, tmp_path / "shard")
    assert sorted(str(p.relative_to(tmp_path / "shard")) for p in (tmp_path / "shard").rglob("*") if p.is_file()) == \
        ["fragment/en_1.pf_fragment", "pagefind-entry.json"]
    assert (tmp_path / "shard/fragment/en_1.pf_fragment").read_bytes() == b"\x1f\x8b"
    for outside in ("../escaped.js", "/etc/escaped.js", "fragment/../../escaped.js", "."):
        with pytest.raises(BuildError, match="outside its bundle"):
            search.write_bundle([{"path": outside, "content": ""}], tmp_path / "other")
    assert not (tmp_path / "escaped.js").exists()


def test_a_bundle_s_files_as_they_were_are_linked_to_the_shard_it_replaces(tmp_path: Path) -> None:
    def reply(**files: bytes) -> list[dict[str, str]]:
        return [{"path": path.replace("__", "/").replace("_pf", ".pf"), "content": base64.b64encode(data).decode()}
                for path, data in files.items()]

    search.write_bundle(reply(fragment__a_pf=b"story a", fragment__b_pf=b"story b", entry=b"old"), tmp_path / "old")
    search.write_bundle(reply(fragment__a_pf=b"story a", fragment__b_pf=b"story b, edited", entry=b"new",
                              fragment__c_pf=b"story c"), tmp_path / "new", like=tmp_path / "old")
    old, new = tmp_path / "old", tmp_path / "new"
    # The same bytes at the same path: one file; any other, written anew.
    assert (new / "fragment/a.pf").stat().st_ino == (old / "fragment/a.pf").stat().st_ino
    assert {path: (new / path).read_bytes() for path in ("fragment/a.pf", "fragment/b.pf", "fragment/c.pf", "entry")} \
        == {"fragment/a.pf": b"story a", "fragment/b.pf": b"story b, edited", "fragment/c.pf": b"story c", "entry": b"new"}
    assert [path for path in ("fragment/b.pf", "entry") if (new / path).stat().st_ino == (old / path).stat().st_ino] == []
    assert (old / "fragment/b.pf").read_bytes() == b"story b" and (old / "entry").read_bytes() == b"old"
    # A bundle to be like that is gone: every file written.
    search.write_bundle(reply(fragment__a_pf=b"story a"), tmp_path / "alone", like=tmp_path / "gone")
    assert (tmp_path / "alone/fragment/a.pf").read_bytes() == b"story a"


def test_every_shard_of_an_index_of_many_is_whole(make_site: Callable[..., Path], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Written by Pagefind itself, one shard in fifteen had an empty file: the code before failed this three runs in three.
    cut_every(monkeypatch, 1)
    site = make_site({f"seeds/s{day:02}.md": f"---\ntitle: Story {day}\ndate: 2024-05-{day:02}\nsection: World\n---\n"
                                            f"Words of story {day}.\n" for day in range(1, 31)}, config=CONFIG)
    assert not build_into(site, tmp_path / "out").errors
    assert (tmp_path / "out/pagefind/shards.json").read_text().count('"path"') == 30
    assert_whole(tmp_path / "out/pagefind")


def test_a_shard_the_store_does_not_hold_whole_is_indexed_again(make_site: Callable[..., Path], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    cut_every(monkeypatch, 2)
    site, out = site_with(make_site), tmp_path / "out"
    assert not build_into(site, out).errors
    store = site / ".sitegen-cache/search"
    shard = store / listed_shards(out / "pagefind")[0]
    # As a build stopped before it had written the shard's languages, which go last.
    (shard / "languages.json").unlink()
    (shard / "pagefind-entry.json").write_text("")
    counts = count_indexing(monkeypatch, tmp_path)
    shutil.rmtree(out / "pagefind" / shard.name)
    write(site / "seeds/danang.md", STORIES["seeds/danang.md"].replace("sáng nay", "chiều nay"))
    assert not build_into(site, out).errors
    write(site / "seeds/danang.md", STORIES["seeds/danang.md"])
    assert not build_into(site, out).errors
    assert 2 in counts and (shard / "languages.json").is_file()
    assert_whole(out / "pagefind")
    assert tree_digest(out / "pagefind") == fresh_index(site, tmp_path, "fresh")


def test_shards_written_another_way_are_all_indexed_again(make_site: Callable[..., Path], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # As an older sitegen left them, whose shards Pagefind wrote itself: none is used again, not even
    # those an edit does not touch, nor kept in the output.
    cut_every(monkeypatch, 2)
    site, out = site_with(make_site), tmp_path / "out"
    with monkeypatch.context() as older:
        older.setattr(search, "SHARD_FORMAT", 1)
        assert not build_into(site, out).errors
    before = {entry.name for entry in (out / "pagefind").iterdir() if entry.is_dir()}
    counts = count_indexing(monkeypatch, tmp_path)
    write(site / "seeds/danang.md", STORIES["seeds/danang.md"].replace("sáng nay", "chiều nay"))
    assert not build_into(site, out).errors
    assert sorted(counts) == [1, 2]
    after = {entry.name for entry in (out / "pagefind").iterdir() if entry.is_dir()}
    assert len(after) == 2 and not after & before
    assert not before & {entry.name for entry in (site / ".sitegen-cache/search").iterdir()}
    assert tree_digest(out / "pagefind") == fresh_index(site, tmp_path, "fresh")


def test_pagefind_stops_though_a_process_forked_beside_it_holds_its_input(tmp_path: Path) -> None:
    # A preview's build forks workers while its search refresh runs: each holds a copy of the pipe
    # to Pagefind, which then never sees its input end. The refresh must not wait for them.
    article, body = load_article(write(tmp_path / "a.md", "---\ntitle: A\n---\nWords.\n"),
                                 LoadSettings("en", ZoneInfo("UTC"), "news"))
    service = search._Pagefind()
    holder = os.fork()
    if holder == 0:  # pragma: no cover - the forked copy only holds the pipe
        time.sleep(60)
        os._exit(0)
    try:
        service.index([search.record(article, body, "/a/")], tmp_path / "bundle")
        started = time.monotonic()
        service.close()
        # Stopped and reaped, not left for the ten seconds it was given before, then as a zombie.
        assert service.process.returncode is not None and time.monotonic() - started < 5
        assert (tmp_path / "bundle/pagefind-entry.json").is_file()
    finally:
        os.kill(holder, 9)
        os.waitpid(holder, 0)


def _records(count: int) -> list[dict[str, Any]]:
    return [{"url": f"/s{n}/", "content": f"Đà Nẵng story {n} ✓ words", "language": "vi", "meta": {"title": f"S {n}"},
             "filters": {}, "year": "", "sort": {}} for n in range(count)]


@pytest.mark.parametrize("count", [0, 1, 3])
def test_a_shards_name_taken_as_its_records_go_by_is_the_hash_of_them_all(count: int) -> None:
    import hashlib

    records = _records(count)
    whole = hashlib.sha256(f"{search.pagefind_version()}\0{search.SHARD_FORMAT}\0".encode()
                           + json.dumps(records, ensure_ascii=False, sort_keys=True).encode())
    assert search.shard_name(iter(records)) == f"shard.{whole.hexdigest()[:20]}"


def test_a_shard_is_indexed_as_its_records_are_made_and_named_after_them(tmp_path: Path) -> None:
    import threading

    made_in: set[int] = set()

    def made() -> Iterator[dict[str, Any]]:
        for item in _records(3):
            made_in.add(threading.get_ident())
            yield item

    name, fresh = search._index(made(), tmp_path)
    # Made by the thread that feeds Pagefind, not first, all at once, by the one that asked.
    assert fresh and made_in and threading.get_ident() not in made_in
    assert name == search.shard_name(_records(3)) and (tmp_path / name / "pagefind-entry.json").is_file()
    assert json.loads((tmp_path / name / search.LANGUAGES).read_text(encoding="utf-8")) == ["vi"]
    # The same records again: the store has the shard, and nothing is written.
    stamp = (tmp_path / name / "pagefind-entry.json").stat().st_mtime_ns
    assert search._index(iter(_records(3)), tmp_path) == (name, False)
    assert (tmp_path / name / "pagefind-entry.json").stat().st_mtime_ns == stamp
    assert sorted(entry.name for entry in tmp_path.iterdir()) == [name]


def test_a_record_that_cannot_be_made_stops_its_shard_and_leaves_nothing_half_written(tmp_path: Path) -> None:
    def broken() -> Iterator[dict[str, Any]]:
        yield from _records(2)
        raise KeyError("a body missing from the cache")

    with pytest.raises(KeyError, match="a body missing"):
        search._index(broken(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_shard_whose_files_cannot_all_be_written_leaves_none_behind(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(files: Any, folder: Path, like: Path | None = None) -> None:
        write(folder / "pagefind-entry.json", "{}")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(search, "write_bundle", disk_full)
    with pytest.raises(OSError, match="No space"):
        search._index(iter(_records(2)), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_shards_are_indexed_again_only_when_their_stories_change(
        make_site: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cut_every(monkeypatch, 2)
    site = site_with(make_site)
    out = tmp_path / "out"
    counts = count_indexing(monkeypatch, tmp_path)
    assert not rendered(site, out)[0].errors
    assert sorted(counts) == [1, 2]

    def shards() -> list[str]:
        folders = sorted(entry.name for entry in (out / "pagefind").iterdir() if entry.is_dir())
        assert sorted(listed_shards(out / "pagefind")) == folders
        return listed_shards(out / "pagefind")

    first = shards()
    assert len(first) == 2 and all(name.startswith("shard.") for name in first)
    # What the search page loads of Pagefind, not its own search interfaces, in the output or the cache.
    for folder in (out / "pagefind" / first[0], site / ".sitegen-cache/search" / first[0]):
        names = {entry.name for entry in folder.iterdir()}
        assert {"pagefind.js", "pagefind-worker.js", "pagefind-entry.json", "fragment"} <= names, folder
        assert not names & search.UNUSED_FILES and not any(name.startswith("pagefind-ui") for name in names), folder
    assert_whole(out / "pagefind")
    # A text edit of the oldest story indexes its shard again, not the newest; a build with nothing to do, none.
    write(site / "seeds/bridge.md", STORIES["seeds/bridge.md"].replace("today", "today, said zebrafish"))
    counts.clear()
    assert not rendered(site, out)[0].errors
    assert counts == [2]
    assert not rendered(site, out)[0].errors and counts == [2]
    edited = shards()
    assert edited[0] != first[0] and edited[1] == first[1]
    # A new story, the newest, joins the newest shard alone.
    write(site / "seeds/late.md", "---\ntitle: Late\ndate: 2024-06-09\nsection: World\n---\nLate news.\n")
    counts.clear()
    assert not rendered(site, out)[0].errors
    assert counts == [2] and shards()[0] == edited[0] and shards()[1] != edited[1]
    # A deleted story: the shards after it hold other stories now; a shard with none left goes.
    (site / "seeds/late.md").unlink()
    (site / "seeds/danang.md").unlink()
    assert not rendered(site, out)[0].errors
    assert len(shards()) == 1


def test_the_index_is_byte_identical_across_builds_and_worker_counts(make_site: Callable[..., Path],
                                                                     tmp_path: Path) -> None:
    site = site_with(make_site)
    build_into(site, tmp_path / "one", workers=1, cache_dir=tmp_path / "cache-one")
    build_into(site, tmp_path / "two", workers=2, cache_dir=tmp_path / "cache-two")
    # The shards' names and stories; Pagefind's own files vary from run to run (see `pagefind_varies`).
    one, two = tree_digest(tmp_path / "one/pagefind"), tree_digest(tmp_path / "two/pagefind")
    assert one == two and "shards.json" in one and sum("/fragment/" in name for name in one) == 3
    assert (tmp_path / "one/pagefind/shards.json").read_text().count('"path"') == 1


def fresh_index(site: Path, root: Path, name: str) -> dict[str, str]:
    """The search bundle a build with a cache of its own makes of `site`."""
    assert not build_into(site, root / name, cache_dir=root / f"{name}-cache").errors
    return tree_digest(root / name / "pagefind")


def count_full_updates(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry for each update of the index made from every story."""
    calls: list[int] = []
    original = search.published_stories

    def listing(*args: Any) -> list[Any]:
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(search, "published_stories", listing)
    return calls


def test_an_edit_updates_the_index_from_what_changed_and_equals_one_made_afresh(
        make_site: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cut_every(monkeypatch, 2)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1719792000")  # 2024-07-01
    site = site_with(make_site, **{"seeds/later.md": "---\ntitle: Embargoed\ndate: 2024-07-05\nsection: World\n"
                                                     "---\nHeld back until July.\n"})
    out = tmp_path / "out"
    full, counts = count_full_updates(monkeypatch), count_indexing(monkeypatch, tmp_path)
    assert not build_into(site, out).errors
    assert full == [1] and sorted(counts) == [1, 2]
    steps = [
        # A text edit of the oldest story: its shard alone, from what changed.
        ("seeds/bridge.md", STORIES["seeds/bridge.md"].replace("today", "today, said a xylophonist"), False, [2]),
        # A story newer than every other joins the newest shard, which then holds two.
        ("seeds/late.md", "---\ntitle: Late\ndate: 2024-06-09\nsection: World\n---\nLate news.\n", False, [2]),
        # And the next one starts a shard of its own.
        ("seeds/later2.md", "---\ntitle: Later\ndate: 2024-06-10\nsection: World\n---\nLater news.\n", False, [1]),
        # A story dated before others moves the ones after it into other shards: every story is listed.
        ("seeds/early.md", "---\ntitle: Early\ndate: 2024-01-01\nsection: World\n---\nEarly news.\n", True, None),
    ]
    for number, (name, text, listed, indexed) in enumerate(steps):
        full.clear()
        counts.clear()
        write(site / name, text)
        assert not build_into(site, out).errors
        assert full == ([1] if listed else []), name
        if indexed is not None:
            assert counts == indexed, name
        assert tree_digest(out / "pagefind") == fresh_index(site, tmp_path, f"fresh{number}"), name
    # The embargo lifts: the clock passed a story's time, so the index is made from every story again.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1720224000")  # 2024-07-06
    full.clear()
    write(site / "seeds/market.md", STORIES["seeds/market.md"].replace("today", "today again"))
    assert not build_into(site, out).errors
    assert full == [1]
    assert tree_digest(out / "pagefind") == fresh_index(site, tmp_path, "fresh-july")
    assert (out / "pagefind/shards.json").read_text().count('"path"') == 4


def test_the_newest_stories_corrected_re_dated_or_taken_down_update_the_index_from_what_changed(
        make_site: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A full cut every four stories, the newest after it in small shards of two.
    cut_every(monkeypatch, 4)
    monkeypatch.setattr(search, "TAIL_LEAST", 2)
    monkeypatch.setattr(search, "TAIL_MOST", 2)
    story = "---\ntitle: {0}\ndate: {1}\nsection: World\n---\n{0} news.\n"
    site = site_with(make_site, **{f"seeds/{name}.md": story.format(name.title(), day) for name, day in
                                   (("mid", "2024-05-15"), ("late", "2024-06-09"), ("p", "2024-06-10"),
                                    ("q", "2024-06-11"))})
    out = tmp_path / "out"
    assert not build_into(site, out).errors
    # bridge, mid, market, danang; then late and p, and q.
    assert len(listed_shards(out / "pagefind")) == 3
    full = count_full_updates(monkeypatch)
    steps = [
        # The first of the newest taken down: p and q fill one small shard, the other goes.
        ("seeds/late.md", None, [], 2),
        # Published back-dated, but after the last full cut.
        ("seeds/between.md", story.format("Between", "2024-06-10T12:00:00Z"), [], 3),
        # One of the newest re-dated among them.
        ("seeds/q.md", story.format("Q", "2024-06-10T06:00:00Z"), [], 3),
        # One published before the last full cut: every story; the eight fill two full shards.
        ("seeds/early.md", story.format("Early", "2024-06-05"), [1], 2),
    ]
    for number, (name, text, listed, count) in enumerate(steps):
        full.clear()
        put(site / name, text)
        assert not build_into(site, out).errors
        assert full == listed, name
        assert len(listed_shards(out / "pagefind")) == count, name
        assert tree_digest(out / "pagefind") == fresh_index(site, tmp_path, f"fresh{number}"), name


def test_an_edit_puts_back_a_shard_gone_from_the_output_or_the_cache(
        make_site: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cut_every(monkeypatch, 2)
    site, out = site_with(make_site), tmp_path / "out"
    assert not build_into(site, out).errors
    shard = out / "pagefind" / listed_shards(out / "pagefind")[0]
    shutil.rmtree(shard)
    write(site / "seeds/danang.md", STORIES["seeds/danang.md"].replace("sáng nay", "chiều nay"))
    full = count_full_updates(monkeypatch)
    assert not build_into(site, out).errors
    assert full == [] and shard.is_dir()
    assert tree_digest(out / "pagefind") == fresh_index(site, tmp_path, "fresh")
    # The cache's copy of the shards gone: every shard is made again, from every story.
    shutil.rmtree(site / ".sitegen-cache/search")
    write(site / "seeds/danang.md", STORIES["seeds/danang.md"])
    full.clear()
    assert not build_into(site, out).errors
    assert full == [1] and tree_digest(out / "pagefind") == fresh_index(site, tmp_path, "again")
    # A layout the cache cannot read: made again from every story, and no story it names kept.
    with sqlite3.connect(site / ".sitegen-cache/cache.sqlite3") as db:
        db.execute("UPDATE meta SET value = 'damaged' WHERE key = 'search'")
        db.execute("INSERT INTO search_stories VALUES ('seeds/gone.md', 'part-00009', 'd', 'c', 1.0)")
    write(site / "seeds/danang.md", STORIES["seeds/danang.md"].replace("sáng nay", "hôm nay"))
    full.clear()
    assert not build_into(site, out).errors
    assert full == [1]
    with sqlite3.connect(site / ".sitegen-cache/cache.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM search_stories WHERE path = 'seeds/gone.md'").fetchone() == (0,)
    # And the next edit is taken in from what changed again.
    write(site / "seeds/danang.md", STORIES["seeds/danang.md"])
    full.clear()
    assert not build_into(site, out).errors
    assert full == [] and tree_digest(out / "pagefind") == fresh_index(site, tmp_path, "last")


def test_an_edit_s_shard_is_indexed_while_its_pages_render(make_site: Callable[..., Path], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    cut_every(monkeypatch, 2)
    site, out = site_with(make_site), tmp_path / "out"
    assert not build_into(site, out).errors
    # Noted in a file: Pagefind is spoken to from a process of its own.
    indexing = tmp_path / "indexing"
    original_add, original_render = search._Pagefind.add, edits._render
    waited: list[bool] = []

    def add(self: Any, records: Any) -> None:
        indexing.touch()
        original_add(self, records)

    def render(*args: Any, **kwargs: Any) -> Any:
        # Pagefind has the edited story's shard before the first page is rendered.
        deadline = time.monotonic() + 10
        while not indexing.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        waited.append(indexing.exists())
        return original_render(*args, **kwargs)

    monkeypatch.setattr(search._Pagefind, "add", add)
    monkeypatch.setattr(edits, "_render", render)
    full, counts = count_full_updates(monkeypatch), count_indexing(monkeypatch, tmp_path)
    store = site / ".sitegen-cache/search"
    scripts = {shard.name: (shard / "pagefind.js").stat().st_ino for shard in store.glob("shard.*")}
    write(site / "seeds/market.md", STORIES["seeds/market.md"].replace("Market prices fall", "Market prices tumble"))
    assert not build_into(site, out).errors
    assert waited == [True] and full == [] and counts == [2]
    # The new shard's files that are as they were are the replaced shard's own, not made again.
    made = [shard for shard in store.glob("shard.*") if shard.name not in scripts]
    assert len(made) == 1 and (made[0] / "pagefind.js").stat().st_ino in scripts.values()
    # Kept as of the log's end, the build's own writes included: the next build reads none of them again.
    with sqlite3.connect(site / ".sitegen-cache/cache.sqlite3") as db:
        mark = json.loads(db.execute("SELECT value FROM meta WHERE key = 'search'").fetchone()[0])["mark"]
        assert mark == db.execute("SELECT max(seq) FROM file_changes").fetchone()[0]
    assert tree_digest(out / "pagefind") == fresh_index(site, tmp_path, "fresh")
    # A file saved again as it was: its shard is in the store, so nothing to index, and no process forked for it.
    forks: list[int] = []
    start = search.Forked.start

    def counted(work: Callable[[], Any], dumps: Callable[[Any], bytes]) -> Any:
        forks.append(1)
        return start(work, dumps)

    monkeypatch.setattr(search.Forked, "start", staticmethod(counted))
    counts.clear()
    before = tree_digest(out / "pagefind")
    full.clear()
    write(site / "seeds/market.md", (site / "seeds/market.md").read_text(encoding="utf-8"))
    assert not build_into(site, out).errors
    assert forks == [] and counts == [] and full == []
    assert tree_digest(out / "pagefind") == before


def test_an_edit_s_index_is_made_by_the_build_when_its_forked_process_fails(
        make_site: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cut_every(monkeypatch, 2)
    site, out = site_with(make_site), tmp_path / "out"
    assert not build_into(site, out).errors
    build_process, original = os.getpid(), search.index_known
    failed = tmp_path / "failed"

    def failing_apart(*args: Any) -> Any:
        if os.getpid() != build_process:
            failed.touch()
            raise MemoryError("the forked process ran out of memory")
        return original(*args)

    monkeypatch.setattr(search, "index_known", failing_apart)
    counts = count_indexing(monkeypatch, tmp_path)
    write(site / "seeds/market.md", STORIES["seeds/market.md"].replace("Market prices fall", "Market prices tumble"))
    assert not build_into(site, out).errors
    assert failed.exists() and counts == [2]
    assert tree_digest(out / "pagefind") == fresh_index(site, tmp_path, "fresh")


def test_an_edit_whose_pages_fail_leaves_the_index_as_it_was(make_site: Callable[..., Path], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    cut_every(monkeypatch, 2)
    site, out = site_with(make_site), tmp_path / "out"
    assert not build_into(site, out).errors
    before = tree_digest(out / "pagefind")
    original = edits._render

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(edits, "_render", failing)
    counts = count_indexing(monkeypatch, tmp_path)
    write(site / "seeds/market.md", STORIES["seeds/market.md"].replace("Market prices fall", "Market prices tumble"))
    with pytest.raises(RuntimeError, match="disk is full"):
        build_into(site, out)
    # Indexed beside the rendering, into the cache's store, but not listed in the site its pages never reached.
    assert counts == [2] and tree_digest(out / "pagefind") == before
    monkeypatch.setattr(edits, "_render", original)
    counts.clear()
    assert not build_into(site, out).errors
    assert counts == [] and tree_digest(out / "pagefind") == fresh_index(site, tmp_path, "fresh")


def test_what_changed_is_taken_in_only_when_no_story_moves_between_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import datetime, timezone

    now = datetime(2024, 7, 1, tzinfo=timezone.utc)
    july = Selection(drafts=False, future=False, now=now)
    old, mid, new = (search.Story(f"seeds/{n}.md", f"d{n}", f"c{n}", float(t)) for n, t in
                     (("old", 100), ("mid", 200), ("new", 300)))
    listed = {"part-00000": search.Listed("k0", "part-00000.a", ("en",), 2),
              "part-00001": search.Listed("k1", "part-00001.b", ("en",), 1)}
    later = now.timestamp() + 86400
    layout = search.Layout(7, "s", search.index_version(), False, False, 300.0, later,
                           search.order_key(new), listed, search.order_key(new), "part-00001")
    indexed = {old.path: ("part-00000", old), mid.path: ("part-00000", mid), new.path: ("part-00001", new)}

    def changes(written: dict[str, Any], selection: Selection = july, at: search.Layout = layout) -> Any:
        return search.changes_since(at, "s", selection, written, indexed)

    # A text edit keeps the story in its shard; a story after the newest is added; a draft edited, nothing.
    edited = changes({mid.path: ("d2", "c2", 200.0, False), "seeds/next.md": ("dn", "cn", 400.0, False),
                      "seeds/draft.md": ("dd", "cd", 500.0, True)})
    assert edited.edited == {mid.path: ("part-00000", search.Story(mid.path, "d2", "c2", 200.0))}
    assert [story.path for story in edited.added] == ["seeds/next.md"] and edited.release == later
    shards, tail = search.reshard(layout, edited, {"part-00000": [old, mid], "part-00001": [new]}, "seeds")
    assert [[story.path for story in stories] for stories in shards.values()] == \
        [[old.path, mid.path], [new.path, "seeds/next.md"]] and tail == "part-00001"
    # An embargoed story edited to an earlier time: the index takes it in at that time, not the later one.
    assert changes({"seeds/soon.md": ("ds", "cs", now.timestamp() + 60, False)}).release == now.timestamp() + 60
    # A story moved in time, gone, drafted or new before the last full cut; another clock or other settings: all of it.
    for written in ({mid.path: ("d2", "c2", 250.0, False)}, {mid.path: None}, {mid.path: ("d2", "c2", 200.0, True)},
                    {"seeds/early.md": ("de", "ce", 50.0, False)}):
        assert changes(written) is None, written
    assert changes({}, Selection(False, False, datetime.fromtimestamp(later, timezone.utc))) is None
    assert changes({}, Selection(True, False, now)) is None
    assert search.changes_since(layout, "other", july, {}, indexed) is None
    assert changes({}) == search.Changes({}, [], later)
    # After a newest shard a full cut closed, a new story starts the next.
    cut_every(monkeypatch, 2)
    many = [search.Story(f"seeds/m{i:03}.md", "dm", "cm", 300.0 + i / 1000) for i in range(search.SHARD_MOST)]
    full = search.Layout(7, "s", search.index_version(), False, False, many[-1].published, None,
                         search.order_key(many[-1]),
                         {**listed, "part-00001": search.Listed("k1", "part-00001.b", ("en",), search.SHARD_MOST)})
    added = search.Changes({}, [search.Story("seeds/next.md", "dn", "cn", 400.0)], None)
    assert search.touched_shards(full, added) == set()
    assert search.reshard(full, added, {}, "seeds") == ({"part-00002": added.added}, "part-00002")


def test_what_comes_goes_or_moves_in_the_newest_shard_changes_it_alone() -> None:
    from datetime import datetime, timezone

    july = Selection(drafts=False, future=False, now=datetime(2024, 7, 1, tzinfo=timezone.utc))
    old, new, newer = (search.Story(f"seeds/{n}.md", f"d{n}", f"c{n}", float(t)) for n, t in
                       (("old", 100), ("new", 300), ("newer", 350)))
    listed = {"part-00000": search.Listed("k0", "part-00000.a", ("en",), 1),
              "part-00001": search.Listed("k1", "part-00001.b", ("en",), 2)}
    layout = search.Layout(7, "s", search.index_version(), False, False, 350.0, None, search.order_key(newer),
                           listed, search.order_key(new), "part-00001")
    indexed = {old.path: ("part-00000", old), new.path: ("part-00001", new), newer.path: ("part-00001", newer)}

    def tail(written: dict[str, Any]) -> list[str] | None:
        changes = search.changes_since(layout, "s", july, written, indexed)
        if changes is None:
            return None
        assert search.touched_shards(layout, changes) == {"part-00001"}
        shards, tail_shard = search.reshard(layout, changes, {"part-00001": [new, newer]}, "seeds")
        assert list(shards) == ["part-00001"] and tail_shard == "part-00001"
        return [story.path for story in shards["part-00001"]]

    # Published back-dated, but after the newest shard's first story; taken down; drafted; re-dated within it.
    assert tail({"seeds/mid.md": ("dm", "cm", 320.0, False)}) == [new.path, "seeds/mid.md", newer.path]
    assert tail({newer.path: None}) == [new.path]
    assert tail({newer.path: ("dn", "cn", 350.0, True)}) == [new.path]
    assert tail({new.path: ("dn", "cn", 360.0, False)}) == [newer.path, new.path]
    # Held back for a later time: it goes, and the index takes it in at that time.
    later = july.now.timestamp() + 3600
    changes = search.changes_since(layout, "s", july, {newer.path: ("dn", "cn", later, False)}, indexed)
    assert changes is not None and changes.removed == {newer.path} and changes.release == later
    # Moved before the newest shard, published before it, or leaving it empty: every story.
    assert tail({new.path: ("dn", "cn", 250.0, False)}) is None
    assert tail({"seeds/early.md": ("de", "ce", 200.0, False)}) is None
    assert tail({new.path: None, newer.path: None}) is None
    assert tail({old.path: None}) is None


def test_shards_are_cut_where_their_stories_say_so_a_story_gone_changes_one() -> None:
    stories = [search.Story(f"/site/seeds/{i:05d}.md", "d", "c", 1e9 + 60.0 * i) for i in range(20_000)]
    by_key, tail = search.shards_of(stories, "/site/seeds")
    shards = list(by_key.values())
    assert [story for members in shards for story in members] == stories
    full = [members for key, members in by_key.items() if tail is None or key < tail]
    assert all(search.SHARD_LEAST <= len(members) <= search.SHARD_MOST for members in full)
    # Cut after a story its path marks, but where a shard would grow past the most it may hold.
    assert all(search._mark(members[-1], "/site/seeds") % search.SHARD_CUT == 0 or
               len(members) == search.SHARD_MOST for members in full)
    assert 60 <= len(full) <= 85
    # The newest, after the last full cut, in small shards: fewer than a full cut would have closed.
    small = [members for key, members in by_key.items() if tail is not None and key >= tail]
    assert all(len(members) <= search.TAIL_MOST for members in small)
    assert sum(map(len, small)) < search.SHARD_MOST and len(small) >= 2
    # A new story changes the newest small shard alone.
    newest = search.Story("/site/seeds/new.md", "d", "c", 2e9)
    assert list(search.shards_of([*stories, newest], "/site/seeds")[0].values()) == [*shards[:-1], [*shards[-1], newest]]
    # Wherever the site is: cut by the paths in its folder of stories.
    elsewhere = [search.Story(story.path.replace("/site/", "/srv/other/"), "d", "c", story.published)
                 for story in stories]
    assert [len(members) for members in search.shards_of(elsewhere, "/srv/other/seeds/")[0].values()] == \
        [len(members) for members in shards]
    before = {frozenset(story.path for story in members) for members in shards}
    # A story taken down anywhere: its shard changes, and the next only where it was cut after, or
    # where cuts made at the most a shard holds move (cut every so many stories, half of all shards).
    changed = []
    for gone in range(0, len(stories), 401):
        after = search.shards_of(stories[:gone] + stories[gone + 1:], "/site/seeds")[0].values()
        changed.append(sum(frozenset(story.path for story in members) not in before for members in after))
    assert changed.count(1) >= 0.8 * len(changed) and max(changed) <= 6, changed


def test_a_story_taken_down_re_dated_or_published_among_older_shards_re_indexes_its_shard_alone(
        make_site: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Cut so, the twelve stories make shards of s01-s05, s06-s08, s09-s11 and s12. Cut every
    # few stories by count, a story gone from the first shard changed all four.
    for name, value in (("SHARD_LEAST", 2), ("SHARD_MOST", 5), ("SHARD_CUT", 3)):
        monkeypatch.setattr(search, name, value)
    story = "---\ntitle: Story {0}\ndate: 2024-05-{1}\nsection: World\n---\nWords of story {0}.\n"
    site = make_site({f"seeds/s{day:02}.md": story.format(day, f"{day:02}") for day in range(1, 13)}, config=CONFIG)
    out = tmp_path / "out"
    assert not build_into(site, out).errors
    assert len(listed_shards(out / "pagefind")) == 4
    full, counts = count_full_updates(monkeypatch), count_indexing(monkeypatch, tmp_path)
    steps = [
        # A story of the oldest shard taken down: that shard alone, which keeps its cut.
        ("seeds/s02.md", None, [4], {1, 2, 3}),
        # One re-dated within its shard among the older ones.
        ("seeds/s10.md", story.format(10, "11"), [3], {0, 1, 3}),
        # One published back-dated into an older shard.
        ("seeds/s06b.md", story.format("6b", "06"), [4], {0, 2, 3}),
    ]
    for number, (name, text, indexed, kept) in enumerate(steps):
        before = listed_shards(out / "pagefind")
        full.clear()
        counts.clear()
        put(site / name, text)
        assert not build_into(site, out).errors
        after = listed_shards(out / "pagefind")
        assert full == [1] and counts == indexed, name
        assert len(after) == 4 and {i for i in range(4) if after[i] == before[i]} == kept, name
        assert tree_digest(out / "pagefind") == fresh_index(site, tmp_path, f"fresh{number}"), name
    assert_whole(out / "pagefind")


# Edits as (kind, which story) for the property below; more examples with SEARCH_EXAMPLES=50.
SEARCH_EDITS = st.sampled_from(["text", "headline", "newest", "older", "delete", "draft", "date"])


@settings(max_examples=int(os.environ.get("SEARCH_EXAMPLES", "5")), deadline=None)
@given(edits=st.lists(st.tuples(SEARCH_EDITS, st.integers(0, 9)), min_size=1, max_size=4),
       # Full cuts (least, most, one in) every two stories, or where paths say; the newest after the
       # last in small shards by the same kind of rule, or in one.
       cuts=st.sampled_from([(2, 2, 1, 20, 60, 20), (1, 3, 2, 20, 60, 20), (3, 3, 1, 1, 2, 2),
                             (2, 4, 2, 1, 2, 2), (10**6, 10**6, 1, 1, 3, 2)]))
# Each shard's stories from what changed: an edit, and new stories filling the newest shard, then the next.
@example(edits=[("text", 0), ("newest", 0), ("newest", 0), ("headline", 4)], cuts=(2, 2, 1, 20, 60, 20))
@example(edits=[("delete", 1), ("older", 0), ("newest", 0), ("date", 3)], cuts=(1, 3, 2, 20, 60, 20))
@example(edits=[("newest", 0), ("delete", 4), ("newest", 0), ("date", 5)], cuts=(3, 3, 1, 1, 2, 2))
def test_the_index_after_any_edits_equals_one_made_afresh(tmp_path_factory: pytest.TempPathFactory,
                                                          edits: list[tuple[str, int]],
                                                          cuts: tuple[int, ...]) -> None:
    root = tmp_path_factory.mktemp("index")
    site = root / "site"
    write(site / "sitegen.toml", CONFIG)
    days = {f"s{i}": 3 + 2 * i for i in range(5)}
    drafts: set[str] = set()

    def story(name: str, headline: str = "", text: str = "") -> None:
        draft = "draft: true\n" if name in drafts else ""
        write(site / f"seeds/{name}.md", f"---\ntitle: Story {name}{headline}\ndate: 2024-05-{days[name]:02}\n"
                                        f"section: World\n{draft}---\nWords of {name}{text}.\n")

    for name in days:
        story(name)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in zip(("SHARD_LEAST", "SHARD_MOST", "SHARD_CUT", "TAIL_LEAST", "TAIL_MOST", "TAIL_CUT"),
                               cuts, strict=True):
            patch.setattr(search, name, value)
        assert not build_into(site, root / "out").errors
        for step, (kind, which) in enumerate(edits):
            names = sorted(days)
            name = names[which % len(names)]
            if kind in ("newest", "older"):
                name = f"n{step}"
                days[name] = 28 if kind == "newest" else 4
            elif kind == "delete" and len(names) > 1:
                del days[name]
                (site / f"seeds/{name}.md").unlink()
                name = ""
            elif kind == "draft":
                drafts ^= {name}
            elif kind == "date":
                days[name] = (days[name] + 11) % 27 + 1
            if name:
                story(name, f", {step}" if kind == "headline" else "", f", {step}" if kind == "text" else "")
            assert not build_into(site, root / "out").errors
            assert tree_digest(root / "out/pagefind") == fresh_index(site, root, f"fresh{step}"), edits[: step + 1]


def test_search_can_be_turned_off(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site(STORIES, config=CONFIG + "[search]\nenabled = false\n")
    assert not build_into(site, tmp_path / "out").errors
    assert not (tmp_path / "out/pagefind").exists() and not (tmp_path / "out/search").exists()
    assert "search/" not in (tmp_path / "out/index.html").read_text()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The stories built for https://example.org/news/ and served under /news/."""
    root = tmp_path_factory.mktemp("search")
    site = root / "site"
    for name, text in {**STORIES, "sitegen.toml": CONFIG}.items():
        write(site / name, text)
    assert not build_into(site, root / "www/news").errors
    assert run_vnu(root / "www/news/search") == ""
    with serving(root / "www") as origin:
        yield f"{origin}/news"


def results(page: Page) -> list[str]:
    return page.locator(".search-result h2 a").all_inner_texts()


def open_search(browser: Browser, served: str, query: str = "", **options: Any) -> Page:  # noqa: F811
    page = browser.new_page(**options)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{served}/search/" + (f"?q={query}" if query else ""))
    # The index loads in steps that search.js gives 10 s each. Playwright's 5 s default ran out once,
    # for every test here, in a full run of the suite with the page still loading (cause not found).
    expect(page.locator(".search-controls")).to_be_visible(timeout=30_000)
    page.errors = errors  # type: ignore[attr-defined]
    return page


def test_a_word_from_one_story_finds_it_and_its_link_opens_it(browser: Browser, served: str) -> None:  # noqa: F811
    page = open_search(browser, served)
    page.get_by_label("Search the stories of this site").fill("zanzibarian")
    expect(page.locator(".search-result")).to_have_count(1)
    assert results(page) == ["Bridge opens over the river"]
    assert page.locator(".search-result mark").first.inner_text() == "zanzibarian"
    assert "May 1, 2024" in page.locator(".search-result .meta").inner_text()
    page.locator(".search-result h2 a").click()
    expect(page.locator("h1")).to_have_text("Bridge opens over the river")
    assert page.url.endswith("/news/world/bridge-opens-over-the-river/")
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_section_filter_narrows_the_results(browser: Browser, served: str) -> None:  # noqa: F811
    page = open_search(browser, served, "today")
    expect(page.locator(".search-result")).to_have_count(2)
    page.locator("#search-section").select_option("Business")
    expect(page.locator(".search-result")).to_have_count(1)
    assert results(page) == ["Market prices fall"]
    assert "section=Business" in page.url
    # Newest first puts June before May.
    page.locator("#search-section").select_option("")
    page.locator("#search-sort").select_option("date")
    # Waited for in this order: the two changes each search again, and the first may show two unsorted.
    expect(page.locator(".search-result h2 a")).to_have_text(["Market prices fall", "Bridge opens over the river"])


@pytest.mark.parametrize("query", ["Đà Nẵng", "sông Hàn", "Da Nang", "song Han"])
def test_a_vietnamese_query_finds_the_vietnamese_story(browser: Browser, served: str, query: str) -> None:  # noqa: F811
    page = open_search(browser, served, query)
    expect(page.locator(".search-result")).to_have_count(1)
    assert results(page) == ["Đà Nẵng mở cửa cầu mới"]


def test_markup_in_a_story_is_shown_as_text(browser: Browser, served: str) -> None:  # noqa: F811
    page = open_search(browser, served, "trader")
    expect(page.locator(".search-result")).to_have_count(1)
    assert "nothing & more" in page.locator(".search-excerpt").inner_text()
    assert page.locator(".search-result script, .search-result img").count() == 0


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_search_page_is_accessible_and_fits_320px(browser: Browser, served: str, scheme: str) -> None:  # noqa: F811
    page = open_search(browser, served, "bridge", color_scheme=scheme, viewport={"width": 320, "height": 640})
    expect(page.locator(".search-result").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert _axe_violations(page) == []
    assert page.errors == []  # type: ignore[attr-defined]


def test_without_javascript_the_form_asks_a_search_engine_for_this_site(browser: Browser, served: str) -> None:  # noqa: F811
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{served}/search/")
    expect(page.locator(".search-note")).to_contain_text("DuckDuckGo, restricted to example.org")
    form = page.locator("form.search-form")
    assert form.get_attribute("action") == "https://duckduckgo.com/"
    assert page.locator('input[type="hidden"][name="sites"]').get_attribute("value") == "example.org"
    context.close()


def test_every_page_links_to_search(served: str, browser: Browser) -> None:  # noqa: F811
    page = browser.new_page()
    page.goto(f"{served}/world/bridge-opens-over-the-river/")
    page.locator("header").get_by_role("link", name="Search").click()
    expect(page.locator("h1")).to_have_text("Search")


def test_an_edit_is_findable_after_the_next_build_and_a_deleted_story_is_gone(
        make_site: Callable[..., Path], tmp_path: Path, browser: Browser) -> None:  # noqa: F811
    site = site_with(make_site)
    out = tmp_path / "www/news"
    assert not build_into(site, out).errors
    write(site / "seeds/bridge.md", STORIES["seeds/bridge.md"].replace("today", "today with a quokkaphone"))
    (site / "seeds/market.md").unlink()
    assert not build_into(site, out).errors
    with serving(tmp_path / "www") as origin:
        page = open_search(browser, f"{origin}/news", "quokkaphone")
        expect(page.locator(".search-result")).to_have_count(1)
        page.goto(f"{origin}/news/search/?q=trader")
        expect(page.locator("#search-status")).to_contain_text("No stories match")
        assert results(page) == []



def test_serve_refreshes_the_index_after_the_reload(make_site: Callable[..., Path], browser: Browser) -> None:  # noqa: F811
    site = site_with(make_site)
    server = Server(ServeOptions(BuildOptions(source=site), port=0), lambda message: None)
    server.start()
    try:
        write(site / "seeds/late.md", "---\ntitle: Late edition\ndate: 2024-06-04\nsection: World\n---\n"
              "The presses printed a xylophonist's memoir.\n")
        page = browser.new_page()
        deadline = time.monotonic() + 30
        # The index comes a moment after the pages: until then the search page says it could not load.
        while time.monotonic() < deadline:
            page.goto(f"{server.url}search/?q=xylophonist")
            page.wait_for_function("() => !document.getElementById('search-status').textContent.includes('Loading')")
            page.wait_for_timeout(300)
            if results(page):
                break
        assert results(page) == ["Late edition"]
    finally:
        server.stop()


def test_a_shard_gone_while_the_page_loads_it_ends_in_a_message_not_a_wait(make_site: Callable[..., Path],
                                                                          tmp_path: Path, browser: Browser) -> None:  # noqa: F811
    assert not build_into(site_with(make_site), tmp_path / "www/news").errors
    shard = next(folder for folder in sorted((tmp_path / "www/news/pagefind").iterdir()) if folder.is_dir())
    # What a reader meets when a build replaces the index between two of the page's requests: Pagefind
    # itself waits for the file forever.
    (shard / "pagefind-entry.json").unlink()
    with serving(tmp_path / "www") as origin:
        page = browser.new_page()
        page.goto(f"{origin}/news/search/?q=bridge")
        expect(page.locator("#search-status")).to_contain_text("could not load", timeout=20_000)
        page.close()
