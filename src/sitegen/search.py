"""Site search: each story's own text indexed by Pagefind in shards of a few hundred, each rebuilt only
when its stories change.

Pagefind cannot add to an index it has written, and indexing an archive takes seconds. So the
stories, oldest first, go into shards of a few hundred (the browser merges them), the newest into
small ones, cut where the stories say (see `cut_shards`) and each named by a hash of what it holds:
an edit re-indexes its shard alone, a new story the newest small one, a story taken down its shard
and perhaps the next, and a shard whose stories are unchanged is taken from the cache. Records are
made from the content model, not read back from pages: the headline, standfirst and body, with the
section and year to filter by and the date to sort by.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pickle
import queue
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import timezone
from functools import lru_cache
from html import unescape
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sitegen.errors import BuildError, SitegenError
from sitegen.forked import Forked
from sitegen.model import Article, Body, Selection

if TYPE_CHECKING:
    from sitegen.cache import Cache

FOLDER = "pagefind"
SHARDS_FILE = "shards.json"
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=1)
def pagefind_version() -> str:
    # Once: every shard's key names it, and reading the package's metadata 334 times took 0.1 s.
    try:
        return version("pagefind")
    except PackageNotFoundError:
        return ""


def plain_text(html: str) -> str:
    """A body's words without its markup: what the index holds and excerpts are cut from."""
    # A tag ends a word as a space does: "<p>One</p><p>Two</p>" is two words.
    return _SPACE.sub(" ", unescape(_TAG.sub(" ", html))).strip()


# How many stories a shard holds. Pagefind indexes about a thousand a second on one core, so an edit
# costs about a third of a second of indexing; an archive of 10,000 is about 36 shards for the search
# page to merge. A shard is cut after a story whose path hashes to a multiple of SHARD_CUT, once it
# holds SHARD_LEAST, and at SHARD_MOST regardless (content-defined chunking, as rsync and backup tools
# cut files): a story gone or moved among the older shards then changes its shard and seldom the next,
# where cutting every 300 shifted every shard after it (ten seconds of indexing at 10,000 articles).
SHARD_LEAST = 240
SHARD_MOST = 360
SHARD_CUT = 60
# The newest stories, after the last cut, are cut the same way into small shards until a cut closes
# them into one: a new story, or a correction to one of the newest, indexes at most TAIL_MOST stories
# again, where the stories after the last cut may be as many as SHARD_MOST.
TAIL_LEAST = 20
TAIL_MOST = 60
TAIL_CUT = 20


def _mark(story: Story, content: str) -> int:
    """A number from `story`'s path in the `content` folder, which says where shards may end: the same
    wherever the story sorts and wherever the site is."""
    name = story.path.removeprefix(content.rstrip(os.sep) + os.sep)
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big")


def _cut(ordered: Iterable[Story], content: str, least: int, most: int, ends: Callable[[int], bool],
         ) -> tuple[list[list[Story]], list[Story]]:
    """Stories in order, cut after one whose mark `ends` a shard once `least` are held, and at `most`:
    the shards cut, and the stories after the last cut."""
    made: list[list[Story]] = []
    current: list[Story] = []
    for story in ordered:
        current.append(story)
        if len(current) >= most or (len(current) >= least and ends(_mark(story, content))):
            made.append(current)
            current = []
    return made, current


def cut_shards(ordered: Iterable[Story], content: str) -> tuple[list[list[Story]], int]:
    """Stories in order, in shards: cut by SHARD_CUT, then those after the last such cut by TAIL_CUT; and how
    many of the first kind there are. The same stories after a cut give the same shards.

    `content` is the folder the stories' paths start with, left out of what decides a cut.
    """
    full, rest = _cut(ordered, content, SHARD_LEAST, SHARD_MOST, lambda mark: mark % SHARD_CUT == 0)
    # Other digits of the mark than a full cut's: where a small shard ends says nothing of where a full one will.
    small, last = _cut(rest, content, TAIL_LEAST, TAIL_MOST, lambda mark: mark // SHARD_CUT % TAIL_CUT == 0)
    return [*full, *small, *([last] if last else [])], len(full)


def shard_key(number: int) -> str:
    """The key of the shard `number` from the oldest: keys sort as the shards do."""
    return f"part-{number:05d}"


def _number(key: str) -> int:
    """The number of the shard with `key` (see `shard_key`)."""
    return int(key.removeprefix("part-"))


def shards_of(stories: Iterable[Story], content: str) -> tuple[dict[str, list[Story]], str | None]:
    """The stories in shards (see `cut_shards`), oldest first (undated ones before all), by shard key; and the
    key of the first shard after the last full cut (None: there is none).

    Counted from the oldest, so a new story changes the newest shard alone, and an edit none's membership.
    """
    shards, full = cut_shards(sorted(stories, key=order_key), content)
    return {shard_key(number): members for number, members in enumerate(shards)}, \
        shard_key(full) if full < len(shards) else None


# Which way shards are made, in their keys and names, so that a shard made another way is never taken for
# one of them, in the cache or in the output. From 2, their files are written from Pagefind's reply (those
# it wrote itself may lack files, see `_Pagefind.write`); from 3, their records go in their stories' order,
# each as it is made, rather than all made first and sorted by URL.
SHARD_FORMAT = 3


def index_version() -> str:
    """What a layout was made with beside the stories: Pagefind's version, the way shards are written and cut."""
    cuts = (SHARD_LEAST, SHARD_MOST, SHARD_CUT, TAIL_LEAST, TAIL_MOST, TAIL_CUT)
    return f"{pagefind_version()} {SHARD_FORMAT} {' '.join(map(str, cuts))}"


# What a shard is made from: each story's source path, digest (its text) and card key (what listings show).
Member = tuple[str, str, str]


def members_key(members: Iterable[Member], settings: str) -> str:
    """A hash of what a shard is made from, as the cache knows it: its stories, Pagefind's version, `settings`.

    Cheap, but tied to where the site is (a story's digest names its file): the cache's key to the shard's
    name. Not to where the shard sorts: shards after a merged or split one keep theirs.
    """
    digest = hashlib.sha256(f"{pagefind_version()}\0{SHARD_FORMAT}\0{settings}\0".encode())
    for member in sorted(members):
        digest.update("\0".join(member).encode() + b"\n")
    return digest.hexdigest()


def shard_name(records: Iterable[dict[str, Any]]) -> str:
    """A shard's folder: a hash of what it indexes, so the same stories give the same name anywhere, in any place."""
    naming = _Naming()
    for item in records:
        naming.add(item)
    return naming.name()


class _Naming:
    """A shard's name (see `shard_name`) taken of its records as they go by: the hash of them as one JSON list."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256(f"{pagefind_version()}\0{SHARD_FORMAT}\0[".encode())
        self._separator = b""

    def add(self, item: dict[str, Any]) -> None:
        self._digest.update(self._separator + json.dumps(item, ensure_ascii=False, sort_keys=True).encode())
        self._separator = b", "

    def name(self) -> str:
        digest = self._digest.copy()
        digest.update(b"]")
        return f"shard.{digest.hexdigest()[:20]}"


def record(article: Article, body: Body, url: str) -> dict[str, Any]:
    """One story as Pagefind indexes it: its own words, never the page's navigation or related stories."""
    day = article.published.date().isoformat() if article.published else ""
    meta = {"title": article.headline, "date": day, "section": article.section.name if article.section else ""}
    content = "\n".join(part for part in (article.headline, article.standfirst, plain_text(body.html)) if part)
    return {
        "url": url,
        "content": content,
        "language": article.language.split("-")[0].lower() or "en",
        "meta": {key: value for key, value in meta.items() if value},
        "filters": {"section": [meta["section"]]} if meta["section"] else {},
        "sort": {"date": article.published.astimezone(timezone.utc).isoformat() if article.published else ""},
        "year": day[:4],
    }


# How long a Pagefind service is given to stop once told to (it stops in a few milliseconds).
CLOSE_SECONDS = 0.5


class _Pagefind:
    """Pagefind's indexing service (`pagefind --service`), spoken to directly.

    Its Python package waits a tenth of a second for each reply, which made 1,000 records take 100 s;
    here requests stream in from one thread while replies are read as they come.
    """

    def __init__(self) -> None:
        from pagefind.service import get_executable

        executable = get_executable()
        if executable is None:
            raise BuildError("search needs Pagefind's binary, which is not installed", None, None,
                             "pip install 'pagefind[bin]', or set search.enabled = false in sitegen.toml")
        self.process = subprocess.Popen([str(executable), "--service"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        # At the caller's priority: an edit's build waits for it. A preview's search process runs at a lower
        # one (`serve._start_searching`), so that the next save's build comes first, and Pagefind takes it
        # from there. Lowered again here, it gave way to the rendering of the edit whose index it makes.
        self._buffer = b""
        self._next = 0
        self._index_id: object = None
        # Records in the index `add` made.
        self.added = 0

    def _send(self, payload: Mapping[str, Any]) -> None:
        assert self.process.stdin is not None
        self._next += 1
        message = {"message_id": self._next, "payload": payload}
        self.process.stdin.write(base64.b64encode(json.dumps(message).encode()) + b",")

    def _reply(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        # A reply ends at a comma (base64 has none); the bundle's files come as one of a few megabytes.
        chunks, end = [self._buffer], self._buffer.find(b",")
        while end < 0:
            chunk = os.read(self.process.stdout.fileno(), 1 << 16)
            if not chunk:
                raise BuildError("Pagefind stopped while indexing", None, None, "build again; if it persists, "
                                 "report it with the output of `pagefind --version`")
            end = chunk.find(b",")
            chunks.append(chunk)
        message, _, self._buffer = b"".join(chunks).partition(b",")
        reply: dict[str, Any] = json.loads(base64.b64decode(message))["payload"]
        if reply.get("type") == "Error":
            raise BuildError(f"Pagefind could not index: {reply.get('message')}", None, None,
                             "build again; if it persists, report it")
        return reply

    def index(self, records: Iterable[dict[str, Any]], folder: Path) -> None:
        """Index `records` and write the bundle into `folder`."""
        self.add(records)
        self.write(folder)

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        """Start an index of `records`, sent as they are made: Pagefind reads each while the next is made."""
        assert self.process.stdin is not None
        self._send({"type": "NewIndex", "config": None})
        self.process.stdin.flush()
        self._index_id = self._reply()["index_id"]
        # One token a record sent, then None: a reply is waited for only once its record is on its way.
        sent: queue.SimpleQueue[bool | None] = queue.SimpleQueue()
        failed: list[BaseException] = []

        def send_all() -> None:
            try:
                for item in records:
                    self._send({"type": "AddRecord", "index_id": self._index_id, "url": item["url"],
                                "content": item["content"], "language": item["language"], "meta": item["meta"],
                                "filters": {**item["filters"], **({"year": [item["year"]]} if item["year"] else {})},
                                "sort": {key: value for key, value in item["sort"].items() if value}})
                    sent.put(True)
                assert self.process.stdin is not None
                self.process.stdin.flush()
            except BaseException as error:  # noqa: BLE001 - raised again where the index was asked for
                failed.append(error)
                # What was sent is replied to only once it reaches Pagefind.
                with suppress(OSError, ValueError):
                    self.process.stdin.flush()  # type: ignore[union-attr]
            finally:
                sent.put(None)

        sender = threading.Thread(target=send_all, daemon=True)
        sender.start()
        self.added = 0
        while sent.get() is not None:
            self._reply()
            self.added += 1
        sender.join()
        if failed:
            raise failed[0]

    def write(self, folder: Path, like: Path | None = None) -> None:
        """Write the bundle of the index `add` made into `folder` (see `write_bundle` for `like`)."""
        # The files in the reply, written here, not by Pagefind (`WriteFiles`): it replies once its writes
        # are queued, not done, and stops as soon as its input ends, leaving some files empty (one
        # shard in fifteen, and a search page that cannot load).
        self._send({"type": "GetFiles", "index_id": self._index_id})
        assert self.process.stdin is not None
        self.process.stdin.flush()
        write_bundle(self._reply()["files"], folder, like)

    def close(self) -> None:
        """Stop the service, which holds nothing once it has replied."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=CLOSE_SECONDS)
        except subprocess.TimeoutExpired:
            # Its input stays open while a process forked beside it holds a copy (a preview's build
            # workers, forked while its search refresh runs), and it never sees the end of it.
            self.process.kill()
            self.process.wait()


def write_bundle(files: Iterable[Mapping[str, str]], folder: Path, like: Path | None = None) -> None:
    """Write the files of a Pagefind bundle (relative path and base64 content each) into `folder`, but for
    UNUSED_FILES; a file the same, byte for byte, as the one at its path in the bundle `like` is linked to it.

    An edit re-indexes its story's shard, whose files are nearly all as they were (every other story's
    fragment, Pagefind's scripts), and the shard it replaces is deleted once the build is done. Made anew,
    a few hundred files a save, that took 0.1-0.2 s of system time at 100,000 articles, on ext4 slow to
    hand out inodes freed minutes before (see docs/benchmarks.md); linked, they take no new inode.
    """
    root = os.path.abspath(folder)
    made: set[str] = set()
    for item in files:
        # Told apart by their names alone, not resolved (a few system calls for each of a shard's
        # hundreds of files): the folder is new, and holds no links of its own.
        target = os.path.normpath(os.path.join(root, item["path"]))
        parent, name = os.path.split(target)
        if os.path.commonpath([root, target]) != root or target == root:
            raise BuildError(f"Pagefind named a file outside its bundle: {item['path']!r}", None, None,
                             "report it with the output of `pagefind --version`")
        if name in UNUSED_FILES and parent == root:
            continue
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        content = base64.b64decode(item["content"])
        if like is not None and _link_same(like / os.path.relpath(target, root), target, content):
            continue
        with open(target, "wb") as out:
            out.write(content)


def _link_same(source: Path, target: str, content: bytes) -> bool:
    """Link `target` to `source` when `source` holds `content`; False when it does not, or cannot be linked."""
    try:
        if source.stat().st_size != len(content) or source.read_bytes() != content:
            return False
        os.link(source, target)
    except OSError:
        return False
    return True


# What Pagefind makes for every shard for its own search interfaces, which the search page does not load
# (it imports one shard's pagefind.js and merges the others): 420 KB a shard, 140 MB at 100,000 stories.
UNUSED_FILES = frozenset({"pagefind-ui.js", "pagefind-ui.css", "pagefind-component-ui.js", "pagefind-component-ui.css",
                          "pagefind-modular-ui.js", "pagefind-modular-ui.css", "pagefind-highlight.js"})


@dataclass(frozen=True)
class Story:
    """A published story as the search index needs it: where it is filed, and how to read it."""

    path: str
    digest: str
    card: str
    published: float | None


def order_key(story: Story) -> tuple[bool, float, str]:
    """Where a story sorts among the shards: undated ones first, then by time, then by path."""
    return story.published is not None, story.published or 0.0, story.path


@dataclass(frozen=True)
class Listed:
    """A shard as the bundle lists it: the key of what it was made from, its folder, its languages, its size."""

    key: str
    name: str
    languages: tuple[str, ...]
    size: int


@dataclass(frozen=True)
class Layout:
    """What the index was last made from, kept in the cache (see `Cache.search_layout`), so that a build can
    bring it up to date from the source files written since (the log's `mark`), not from every story."""

    mark: int
    settings: str
    version: str
    drafts: bool
    future: bool
    # The newest time of a story indexed, and the earliest of one held back for its time: while the
    # clock stays between the two, no story comes or goes with it.
    latest: float | None
    release: float | None
    # Where the newest story sorts (`order_key`): a story after it joins the newest shards alone.
    newest: tuple[bool, float, str] | None
    shards: Mapping[str, Listed]
    # Where the first story after the last full cut sorts, and its shard's key (see `cut_shards`): a story
    # that comes, goes or moves after it changes the shards from that one on alone, cut again from there.
    tail: tuple[bool, float, str] | None = None
    tail_shard: str | None = None

    def terms(self) -> dict[str, Any]:
        return {"mark": self.mark, "settings": self.settings, "version": self.version, "drafts": self.drafts,
                "future": self.future, "latest": self.latest, "release": self.release,
                "newest": list(self.newest) if self.newest else None, "tail": list(self.tail) if self.tail else None,
                "tail_shard": self.tail_shard}

    def tail_shards(self) -> list[str]:
        """The keys of the shards after the last full cut."""
        return sorted(shard for shard in self.shards if self.tail_shard is not None and shard >= self.tail_shard)

    @staticmethod
    def read(terms: Mapping[str, Any], shards: Mapping[str, tuple[str, str, tuple[str, ...], int]]) -> Layout | None:
        """The layout the cache keeps (see `terms`); None when it is not one."""
        try:
            newest, tail, tail_shard = terms["newest"], terms["tail"], terms["tail_shard"]
            return Layout(int(terms["mark"]), str(terms["settings"]), str(terms["version"]), bool(terms["drafts"]),
                          bool(terms["future"]), terms["latest"], terms["release"],
                          (bool(newest[0]), float(newest[1]), str(newest[2])) if newest else None,
                          {shard: Listed(*listed) for shard, listed in shards.items()},
                          (bool(tail[0]), float(tail[1]), str(tail[2])) if tail else None,
                          str(tail_shard) if tail_shard is not None else None)
        except (KeyError, TypeError, ValueError, IndexError):
            return None


def layout_of(shards: Mapping[str, list[Story]], tail_shard: str | None, held: Iterable[float], mark: int,
              settings: str, selection: Selection, listed: Mapping[str, Listed]) -> Layout:
    """The layout of an index made from every story (`shards`, as `shards_of` cuts them), the times of those
    held back for them being `held`."""
    dated = [story.published for members in shards.values() for story in members if story.published is not None]
    now = selection.now.timestamp()
    return Layout(mark, settings, index_version(), selection.drafts, selection.future, max(dated, default=None),
                  min((time for time in held if time > now), default=None),
                  order_key(shards[max(shards)][-1]) if shards else None, listed,
                  order_key(shards[tail_shard][0]) if tail_shard else None, tail_shard)


@dataclass(frozen=True)
class Changes:
    """What the source files written since a layout changed in the index, when no story moved between shards
    but among the newest, after the last full cut."""

    # Stories indexed before and still, in the same place, by path, with the shard they are in.
    edited: dict[str, tuple[str, Story]]
    # Stories that come after the last full cut (new, or moved there), in order.
    added: list[Story]
    release: float | None
    # Stories that leave the shards after the last full cut (gone, held back, or moved), by path.
    removed: frozenset[str] = frozenset()


# A source file's article as the cache holds it: (digest, card key, published, draft).
Held = tuple[str, str, float | None, bool]


def changes_since(layout: Layout, settings: str, selection: Selection, written: Mapping[str, Held | None],
                  indexed: Mapping[str, tuple[str, Story]]) -> Changes | None:
    """How the files `written` since `layout` (each one's article now, None if none) change the index that
    held `indexed` of them (shard and story, by path); None when only making the shards anew says it.

    Text, headline and other edits that keep a story's time change its shard alone, and a story newer than
    every other joins the newest. A story that comes, goes or moves in time after the last full cut
    changes the shards after it alone: the newest stories are where a newsroom corrects, re-dates and
    takes down. Anything that moves a story among older shards (a story gone or re-dated among them,
    one published before the last full cut) or another clock, other settings, need every story.
    """
    if (layout.settings, layout.version, layout.drafts, layout.future) != \
            (settings, index_version(), selection.drafts, selection.future):
        return None
    now = selection.now.timestamp()
    if not selection.future and ((layout.latest is not None and layout.latest > now) or
                                 (layout.release is not None and now >= layout.release)):
        return None
    edited: dict[str, tuple[str, Story]] = {}
    added: list[Story] = []
    removed: set[str] = set()
    release = layout.release
    tail = layout.tail_shards()
    for path in sorted(written):
        held, before = written[path], indexed.get(path)
        story = Story(path, held[0], held[1], held[2]) if held else None
        kept = held is not None and selection.keeps(held[3], held[2])
        # Out of the index for its time alone: it may come in at that time.
        if held is not None and not kept and not selection.future and (selection.drafts or not held[3]) and \
                held[2] is not None and held[2] > now:
            release = held[2] if release is None else min(release, held[2])
        if story is not None and kept and before is not None and before[1].published == story.published:
            edited[path] = (before[0], story)
        elif story is not None and kept and before is None and \
                (layout.newest is None or order_key(story) > layout.newest):
            added.append(story)
        elif before is None and not kept:
            continue
        elif layout.tail is not None and (before is None or before[0] in tail) and \
                (story is None or not kept or order_key(story) >= layout.tail):
            if before is not None:
                removed.add(path)
            if story is not None and kept:
                added.append(story)
        else:
            return None
    # No story left after the last full cut: the newest story is one this does not know.
    if removed and not added and len(removed) >= sum(layout.shards[shard].size for shard in tail):
        return None
    return Changes(edited, sorted(added, key=order_key), release, frozenset(removed))


def reshard(layout: Layout, changes: Changes, members: Mapping[str, list[Story]], content: str,
            ) -> tuple[dict[str, list[Story]], str | None]:
    """The stories of every shard `changes` touch, given the stories they held (`members`), in order; and the
    key of the first shard after the last full cut, as `shards_of` would give both from every story."""
    shards = {shard: {story.path: story for story in stories} for shard, stories in members.items()}
    for path, (shard, story) in changes.edited.items():
        shards.setdefault(shard, {})[path] = story
    tail_shard = layout.tail_shard
    if changes.added or changes.removed:
        # The stories after the last full cut, with those that come and without those that go, cut from there.
        tail: dict[str, Story] = {}
        for shard in layout.tail_shards():
            tail.update(shards.pop(shard, {}))
        region = sorted([*(story for path, story in tail.items() if path not in changes.removed), *changes.added],
                        key=order_key)
        number = _number(layout.tail_shard) if layout.tail_shard else \
            _number(max(layout.shards)) + 1 if layout.shards else 0
        cut, full = cut_shards(region, content)
        for offset, stories in enumerate(cut):
            shards[shard_key(number + offset)] = {story.path: story for story in stories}
        tail_shard = shard_key(number + full) if full < len(cut) else None
    return {shard: sorted(stories.values(), key=order_key) for shard, stories in shards.items()}, tail_shard


def touched_shards(layout: Layout, changes: Changes) -> set[str]:
    """The shards `changes` touch that held stories before: those whose stories `reshard` needs."""
    touched = {shard for shard, _ in changes.edited.values()}
    if changes.added or changes.removed:
        touched.update(layout.tail_shards())
    return touched


def index_shards(shards: Mapping[str, list[Story]], settings: str, store: Path,
                 read: Callable[[list[Story]], Iterable[dict[str, Any]]], before: Mapping[str, str] | None = None,
                 ) -> tuple[dict[str, Listed], list[str]]:
    """Each shard named, and indexed unless the store has it already; returns them listed, and those indexed.

    `read` gives the records of a shard's stories in their order (only for shards not known in `store`
    already), reading what it needs from the cache at once and making each record as it is taken.
    """
    known = known_shards(shards, settings, store)
    return index_known(shards, known, ((shard, read(shards[shard])) for shard in known.todo), store, before)


@dataclass(frozen=True)
class Known:
    """What the store says of shards: each one's key (see `members_key`), the names of those it has, and
    the shards to index, newest first."""

    keys: dict[str, str]
    names: dict[str, str]
    todo: list[str]


def known_shards(shards: Mapping[str, list[Story]], settings: str, store: Path) -> Known:
    """Which of `shards` the store has (by the key of their stories), and which must be indexed."""
    keys = {shard: members_key(((s.path, s.digest, s.card) for s in members), settings)
            for shard, members in shards.items()}
    (store / "keys").mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    todo: list[str] = []
    for shard in sorted(shards, reverse=True):
        known = store / "keys" / keys[shard]
        name = known.read_text(encoding="utf-8").strip() if known.is_file() else ""
        if name and _stored(store / name):
            names[shard] = name
        else:
            todo.append(shard)
    return Known(keys, names, todo)


def index_known(shards: Mapping[str, list[Story]], known: Known,
                sources: Iterable[tuple[str, Iterable[dict[str, Any]]]], store: Path,
                before: Mapping[str, str] | None = None) -> tuple[dict[str, Listed], list[str]]:
    """`index_shards` of what `known_shards` found: the shards to index, with their records (`sources`,
    taken one at a time, as the services are free), indexed; every shard listed, and those indexed.
    `before`: the name of the shard in the store each one replaces, whose unchanged files it links to."""
    names = dict(known.names)
    # Pagefind indexes on about one core: shards to index (a first build's every one) go a core each,
    # their records made as the services take them, never a whole archive's at once (at 100,000
    # articles that held more than a gigabyte of text).
    cores = os.cpu_count() or 1
    indexed: list[str] = []
    # Shards whose name was worked out here, noted by key once every shard is in the store: a build
    # that stops part-way indexes them again.
    noted: list[str] = []

    def done(shard: str, future: Future[tuple[str, bool]]) -> None:
        names[shard], fresh = future.result()
        noted.append(shard)
        if fresh:
            indexed.append(shard)

    with ThreadPoolExecutor(max_workers=cores) as pool:
        running: list[tuple[str, Future[tuple[str, bool]]]] = []
        for shard, records in sources:
            while len(running) >= cores:
                done(*running.pop(0))
            like = (before or {}).get(shard)
            running.append((shard, pool.submit(_index, records, store, store / like if like else None)))
        for shard, future in running:
            done(shard, future)
    for shard in noted:
        (store / "keys" / known.keys[shard]).write_text(names[shard], encoding="utf-8")
    listed = {shard: Listed(known.keys[shard], names[shard],
                            tuple(json.loads((store / names[shard] / LANGUAGES).read_text(encoding="utf-8"))),
                            len(shards[shard]))
              for shard in shards}
    return listed, sorted(indexed)


# The languages of a shard in the store, which sitegen writes there (see `_index`) and leaves out of the output.
LANGUAGES = "languages.json"


def _stored(folder: Path) -> bool:
    """Whether a shard is in the store, whole."""
    return (folder / LANGUAGES).is_file()


def in_store(listed: Mapping[str, Listed], store: Path) -> bool:
    """Whether every shard listed is in the store, as `publish` needs it."""
    return all(_stored(store / shard.name) for shard in listed.values())


def publish(listed: Mapping[str, Listed], store: Path, output: Path) -> None:
    """Make the output's bundle list these shards (from the store), and nothing else.

    The bundle's list of shards is replaced in one step, after every shard it names is in place.
    """
    bundle = output / FOLDER
    bundle.mkdir(parents=True, exist_ok=True)
    for shard in listed.values():
        if not (bundle / shard.name).is_dir():
            _place(store / shard.name, bundle / shard.name)
    entries = [{"path": f"{listed[shard].name}/", "languages": list(listed[shard].languages)}
               for shard in sorted(listed, reverse=True)]
    temporary = bundle / f".{SHARDS_FILE}.{os.getpid()}.{threading.get_ident()}"
    temporary.write_text(json.dumps({"shards": entries}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, bundle / SHARDS_FILE)
    current = {shard.name for shard in listed.values()}
    for entry in bundle.iterdir():
        if entry.is_dir() and entry.name not in current:
            shutil.rmtree(entry, ignore_errors=True)
    for entry in store.iterdir():
        if entry.is_dir() and entry.name not in current and not entry.name.startswith(".") and entry.name != "keys":
            shutil.rmtree(entry, ignore_errors=True)
    keys = {shard.key for shard in listed.values()}
    for entry in (store / "keys").iterdir():
        if entry.name not in keys:
            entry.unlink(missing_ok=True)


@dataclass(frozen=True)
class Planned:
    """An update of the index as the cache says it: the shards to have (all, or those that change), and
    what the layout it leaves is made from."""

    # The layout kept before, and the log's mark the update goes to.
    layout: Layout | None
    mark: int
    shards: dict[str, list[Story]]
    tail_shard: str | None
    # What changed since `layout`, when only some shards change; None: `shards` are every one.
    changes: Changes | None = None
    # When every shard is made: the times of the stories held back for their time.
    held: tuple[float, ...] = ()

    def replaced(self) -> dict[str, str]:
        """The name of the shard in the layout before that each shard takes the place of."""
        return {shard: item.name for shard, item in self.layout.shards.items()} if self.layout else {}


def update_search(cache: Cache, selection: Selection, settings: str, content: Path, store: Path, output: Path,
                  read: Callable[[list[Story]], Iterable[dict[str, Any]]]) -> list[str]:
    """Bring the output's search bundle up to date with the stories the cache says the site publishes
    (their files in `content`); returns the shards indexed anew.

    From the source files written since the index was last made, when they change some shards'
    stories alone (see `changes_since`): at 100,000 articles, listing every story took half a second
    of each edit's build. From every story otherwise.
    """
    planned = plan_update(cache, selection, settings, str(content), store)
    assert planned is not None
    made, indexed = index_shards(planned.shards, settings, store, read, planned.replaced())
    settle_update(cache, planned, made, selection, settings, store, output)
    return indexed


def plan_update(cache: Cache, selection: Selection, settings: str, content: str, store: Path,
                pending: Mapping[str, str | None] | None = None) -> Planned | None:
    """What `update_search` would index, and from what.

    `pending`: source files the build writes to the log later, each with its article's digest (None: gone),
    for an update begun before they are logged. With them, None when only every story could say (see
    `changes_since`), or a story's time coming would: those are read from the files the log has.
    """
    kept = cache.search_layout()
    layout = Layout.read(*kept) if kept else None
    changed = _changed_shards(cache, layout, settings, selection, content, store, pending) if layout else None
    if layout is not None and changed is not None:
        mark, changes, (shards, tail_shard) = changed
        return Planned(layout, mark, shards, tail_shard, changes)
    if pending is not None:
        return None
    # Marked before the files are read: one written meanwhile is taken in by the next update.
    mark, _ = cache.changed_files(0)
    rows = cache.article_files()
    stories = published_stories(rows, selection)
    held = tuple(published for _, _, _, published, draft in rows if published is not None and
                 (selection.drafts or not draft) and not selection.keeps(draft, published))
    shards, tail_shard = shards_of(stories, content)
    return Planned(layout, mark, shards, tail_shard, held=held)


def settle_update(cache: Cache, planned: Planned, made: Mapping[str, Listed], selection: Selection, settings: str,
                  store: Path, output: Path, mark: int | None = None) -> None:
    """The output's bundle made to list the shards `planned` and `made` (`index_shards`), and the layout kept,
    as of the log's `mark` (default: the plan's)."""
    layout, shards, tail_shard, changes = planned.layout, planned.shards, planned.tail_shard, planned.changes
    mark = planned.mark if mark is None else mark
    if layout is not None and changes is not None:
        # Shards after the last full cut that its stories, cut again, no longer fill.
        gone = set(layout.tail_shards()) - set(shards) if changes.added or changes.removed else set()
        listed = {**{shard: item for shard, item in layout.shards.items() if shard not in gone}, **made}
        publish(listed, store, output)
        after = replace(layout, mark=mark, release=changes.release, shards=listed)
        if changes.added or changes.removed:
            # Dated stories sort after undated ones, by time: the newest story's time is the index's latest.
            last = max(shards)
            after = replace(after, newest=order_key(shards[last][-1]), latest=shards[last][-1].published,
                            tail=order_key(shards[tail_shard][0]) if tail_shard else None, tail_shard=tail_shard)
        _keep_layout(cache, after, shards, gone)
        return
    publish(made, store, output)
    # The stories of shards made as they were stay in the cache; without a layout, none are trusted.
    before = layout.shards if layout else {}
    _keep_layout(cache, layout_of(shards, tail_shard, planned.held, mark, settings, selection, made),
                 {shard: members for shard, members in shards.items()
                  if shard not in before or before[shard].key != made[shard].key},
                 gone=set(before) - set(made) if layout else None)


class Ahead:
    """A search update begun while an edit's build renders, once it has stored what it read: a forked
    process indexes the shards that change meanwhile, and the output's bundle and the cache's layout
    follow only once the build has put its pages in place (`finish`).

    At 100,000 articles Pagefind's 0.4 s for an old story's shard came after the 0.3 s of rendering a
    headline edit's pages; now beside them. Not in a thread: feeding Pagefind and writing a shard's
    few hundred files, beside rendering, each waited for the interpreter's lock, and both took longer
    than one after the other. The cache is read here, before the fork; the process only makes records,
    speaks to Pagefind and writes into the store.
    """

    def __init__(self, selection: Selection, settings: str, content: Path, store: Path,
                 read: Callable[[list[Story]], Iterable[dict[str, Any]]]) -> None:
        self.selection, self.settings, self.content, self.store, self.read = selection, settings, content, store, read
        # The plan, the files it was made with, and the process indexing.
        self._begun: tuple[Planned, Mapping[str, str | None], Forked] | None = None

    def begin(self, cache: Cache, pending: Mapping[str, str | None]) -> None:
        """Start indexing what the files `pending` (see `plan_update`) change; nothing when the update needs
        the log to have them, has no shard to index (a file saved as it was), or more than Pagefind runs at once."""
        if self._begun is not None:
            return
        try:
            planned = plan_update(cache, self.selection, self.settings, str(self.content), self.store, pending)
            known = known_shards(planned.shards, self.settings, self.store) if planned is not None else None
            if planned is None or known is None or not 0 < len(known.todo) <= (os.cpu_count() or 1):
                return
            sources = [(shard, self.read(planned.shards[shard])) for shard in known.todo]
        except (SitegenError, OSError):
            # Said by the update after the build, which meets it again.
            return
        forked = Forked.start(lambda: index_known(planned.shards, known, sources, self.store, planned.replaced()),
                              pickle.dumps)
        if forked is not None:
            self._begun = planned, dict(pending), forked

    @property
    def begun(self) -> bool:
        return self._begun is not None

    def finish(self, cache: Cache, output: Path) -> list[str]:
        """Once the build is in place: wait for the index, then list it in the output and keep its layout;
        returns the shards indexed anew. Indexed here, as `update_search` does, if the process could not."""
        assert self._begun is not None
        planned, pending = self._begun[:2]
        answer = self._answer()
        if answer is None:
            return update_search(cache, self.selection, self.settings, self.content, self.store, output, self.read)
        made, indexed = answer
        # Up to the log's end when what the build logged since the plan is only the files it knew of.
        mark, logged = cache.changed_files(planned.mark)
        settle_update(cache, planned, made, self.selection, self.settings, self.store, output,
                      mark if logged is not None and set(logged) <= pending.keys() else None)
        return indexed

    def close(self) -> None:
        """Wait for any indexing begun and leave it (the store keeps it, for the next build of the same edit)."""
        if self._begun is not None:
            self._answer()

    def _answer(self) -> tuple[dict[str, Listed], list[str]] | None:
        """What the indexing process answered, once it has ended; None if it failed."""
        assert self._begun is not None
        forked = self._begun[2]
        self._begun = None
        answer = forked.answer(pickle.loads)
        return answer if isinstance(answer, tuple) else None


def _changed_shards(cache: Cache, layout: Layout, settings: str, selection: Selection, content: str, store: Path,
                    pending: Mapping[str, str | None] | None = None,
                    ) -> tuple[int, Changes, tuple[dict[str, list[Story]], str | None]] | None:
    """The log's mark, what changed since `layout` (with the files `pending`, see `plan_update`), and the stories of
    every shard that changed (see `reshard`); None when the index must be made from every story (see
    `changes_since`), or the store lacks a shard."""
    if not in_store(layout.shards, store):
        return None
    mark, written = cache.changed_files(layout.mark)
    now = selection.now.timestamp()
    if written is not None and not selection.future and layout.release is not None and now >= layout.release:
        if pending is not None:
            return None
        # The clock passed the time of a story held back: those whose time came are taken in as if written
        # since, and the next such time is the index's to wait for.
        due, following = cache.published_from(layout.release, now), cache.next_published(now, selection.drafts)
        if due is None or following is None:
            return None
        written = sorted({*written, *(path for path, _, _, _, draft in due if selection.drafts or not draft)})
        layout = replace(layout, release=following[0])
    held = cache.article_rows(written) if written is not None else None
    if pending and written is not None and held is not None:
        terms = cache.article_terms(digest for digest in pending.values() if digest is not None)
        if terms is None or any(digest is not None and digest not in terms for digest in pending.values()):
            return None
        written = sorted({*written, *pending})
        held = {**{path: row for path, row in held.items() if path not in pending},
                **{path: (digest, *terms[digest]) for path, digest in pending.items() if digest is not None}}
    indexed = cache.search_stories(paths=written) if written is not None else None
    if written is None or held is None or indexed is None:
        return None
    changes = changes_since(layout, settings, selection, {path: held.get(path) for path in written},
                            {path: (shard, Story(path, digest, card, published))
                             for path, shard, digest, card, published in indexed})
    if changes is None:
        return None
    members = cache.search_stories(shards=touched_shards(layout, changes))
    if members is None:
        return None
    before: dict[str, list[Story]] = {}
    for path, shard, digest, card, published in members:
        before.setdefault(shard, []).append(Story(path, digest, card, published))
    return mark, changes, reshard(layout, changes, before, content)


def _keep_layout(cache: Cache, layout: Layout, rewritten: Mapping[str, list[Story]],
                 gone: Iterable[str] | None = ()) -> None:
    """Keep `layout` in the cache, with the stories of the shards `rewritten` and none of those `gone`
    (None: of any other shard)."""
    cache.store_search_layout(layout.terms(), {shard: (item.key, item.name, item.languages, item.size)
                                               for shard, item in layout.shards.items()},
                              None if gone is None else [*rewritten, *gone],
                              [(story.path, shard, story.digest, story.card, story.published)
                               for shard, members in rewritten.items() for story in members])


def _index(records: Iterable[dict[str, Any]], store: Path, like: Path | None = None) -> tuple[str, bool]:
    """One shard indexed by its own Pagefind service as its records are made, written beside the store and
    moved into it whole; returns its name, and False when the store had it already (nothing is written).
    Files as they are in the stored shard `like` are linked to it."""
    partial = store / f".indexing.{os.getpid()}.{threading.get_ident()}"
    shutil.rmtree(partial, ignore_errors=True)
    naming, languages = _Naming(), set()

    def noted() -> Iterator[dict[str, Any]]:
        for item in records:
            naming.add(item)
            languages.add(str(item["language"]))
            yield item

    service = _Pagefind()
    try:
        service.add(noted())
        # Known once every record is made: the same records as a shard the store has (an edit put
        # back) are not written again.
        name = naming.name()
        if _stored(store / name):
            return name, False
        service.write(partial, like)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        service.close()
    # Written last, and the shard moved in whole: a shard in the store has all its files.
    (partial / LANGUAGES).write_text(json.dumps(sorted(languages)), encoding="utf-8")
    kept = store / name
    shutil.rmtree(kept, ignore_errors=True)
    os.replace(partial, kept)
    return name, True


def _place(kept: Path, target: Path) -> None:
    """A shard from the cache into the output: linked where the file system allows, else copied, then moved in."""
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)

    def link(source: str, destination: str) -> None:
        try:
            os.link(source, destination)
        except OSError:
            shutil.copy2(source, destination)

    shutil.copytree(kept, partial, copy_function=link)
    (partial / LANGUAGES).unlink(missing_ok=True)
    os.replace(partial, target)


def published_stories(rows: Iterable[tuple[str, str, str, float | None, bool]], selection: Selection) -> list[Story]:
    """The stories a build publishes, from the cache's rows (path, digest, card key, published, draft)."""
    return [Story(path, digest, card, published) for path, digest, card, published, draft in rows
            if selection.keeps(draft, published)]
