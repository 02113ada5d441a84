"""Site search: each story's own text indexed by Pagefind in shards of a few hundred, each rebuilt only
when its stories change.

Pagefind cannot add to an index it has written, and indexing an archive takes seconds. So the
stories, oldest first, go into shards of SHARD_SIZE (the browser merges them), each named by a hash
of what it holds: an edit re-indexes its shard alone, a new story the newest, and a shard whose
stories are unchanged is taken from the cache. Records are made from the content model, not read
back from pages: the headline, standfirst and body, with the section and year to filter by and the
date to sort by.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timezone
from functools import lru_cache
from html import unescape
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from sitegen.errors import BuildError
from sitegen.model import Article, Body, Selection

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


# Stories a shard holds. Pagefind indexes about a thousand a second on one core, so an edit costs a
# third of a second of indexing; an archive of 10,000 is 34 shards for the search page to merge.
SHARD_SIZE = 300


def shards_of(stories: Iterable[Story]) -> dict[str, list[Story]]:
    """The stories in shards of SHARD_SIZE, oldest first (undated ones before all), by shard key.

    Counted from the oldest, so a new story changes the newest shard alone, and an edit none's membership.
    """
    ordered = sorted(stories, key=lambda story: (story.published is not None, story.published or 0.0, story.path))
    return {f"part-{number:05d}": ordered[start : start + SHARD_SIZE]
            for number, start in enumerate(range(0, len(ordered), SHARD_SIZE))}


# What a shard is made from: each story's source path, digest (its text) and card key (what listings show).
Member = tuple[str, str, str]


def members_key(shard: str, members: Iterable[Member], settings: str) -> str:
    """A hash of what a shard is made from, as the cache knows it: its stories, Pagefind's version, `settings`.

    Cheap, but tied to where the site is (a story's digest names its file): the cache's key to the shard's name.
    """
    digest = hashlib.sha256(f"{pagefind_version()}\0{settings}\0{shard}\0".encode())
    for member in sorted(members):
        digest.update("\0".join(member).encode() + b"\n")
    return digest.hexdigest()


def shard_name(shard: str, records: list[dict[str, Any]]) -> str:
    """A shard's folder: its key and a hash of what it indexes, so the same stories give the same name anywhere."""
    digest = hashlib.sha256(f"{pagefind_version()}\0".encode())
    digest.update(json.dumps(records, ensure_ascii=False, sort_keys=True).encode())
    return f"{shard}.{digest.hexdigest()[:16]}"


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
        # At a lower priority: beside `sitegen serve`, the next save's build comes first.
        self.process = subprocess.Popen([str(executable), "--service"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        preexec_fn=_lower_priority if os.name == "posix" else None)
        self._buffer = b""
        self._next = 0

    def _send(self, payload: Mapping[str, Any]) -> None:
        assert self.process.stdin is not None
        self._next += 1
        message = {"message_id": self._next, "payload": payload}
        self.process.stdin.write(base64.b64encode(json.dumps(message).encode()) + b",")

    def _reply(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        while b"," not in self._buffer:
            chunk = os.read(self.process.stdout.fileno(), 1 << 16)
            if not chunk:
                raise BuildError("Pagefind stopped while indexing", None, None, "build again; if it persists, "
                                 "report it with the output of `pagefind --version`")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b",")
        reply: dict[str, Any] = json.loads(base64.b64decode(message))["payload"]
        if reply.get("type") == "Error":
            raise BuildError(f"Pagefind could not index: {reply.get('message')}", None, None,
                             "build again; if it persists, report it")
        return reply

    def index(self, records: list[dict[str, Any]], folder: Path) -> None:
        """Index `records` and write the bundle into `folder`."""
        assert self.process.stdin is not None
        self._send({"type": "NewIndex", "config": None})
        self.process.stdin.flush()
        index_id = self._reply()["index_id"]

        def send_all() -> None:
            for item in records:
                self._send({"type": "AddRecord", "index_id": index_id, "url": item["url"], "content": item["content"],
                            "language": item["language"], "meta": item["meta"],
                            "filters": {**item["filters"], **({"year": [item["year"]]} if item["year"] else {})},
                            "sort": {key: value for key, value in item["sort"].items() if value}})
            assert self.process.stdin is not None
            self.process.stdin.flush()

        sender = threading.Thread(target=send_all, daemon=True)
        sender.start()
        for _ in records:
            self._reply()
        sender.join()
        self._send({"type": "WriteFiles", "index_id": index_id, "output_path": str(folder)})
        self.process.stdin.flush()
        self._reply()

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _lower_priority() -> None:
    try:
        os.nice(10)
    except OSError:
        pass


@dataclass(frozen=True)
class Story:
    """A published story as the search index needs it: where it is filed, and how to read it."""

    path: str
    digest: str
    card: str
    published: float | None


def update_search(stories: Iterable[Story], settings: str, store: Path, output: Path,
                  read: Callable[[list[Story]], list[dict[str, Any]]]) -> list[str]:
    """Bring the output's search bundle up to date; returns the shards indexed anew.

    `read` makes the records of a shard's stories (only for shards not in `store` already).
    The bundle's list of shards is replaced in one step, after every shard it names is in place.
    """
    shards = shards_of(stories)
    keys = {shard: members_key(shard, ((s.path, s.digest, s.card) for s in members), settings)
            for shard, members in shards.items()}
    (store / "keys").mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    # Pagefind indexes on about one core: shards to index (a first build's every one) go a core each,
    # their records read here as the services take them, never a whole archive's at once (at
    # 100,000 articles that held more than a gigabyte of text).
    cores = os.cpu_count() or 1
    indexed: list[str] = []
    # Shards whose name was worked out here, noted by key once every shard is in the store: a build
    # that stops part-way indexes them again.
    noted: list[str] = []
    with ThreadPoolExecutor(max_workers=cores) as pool:
        running: list[Future[None]] = []
        for shard in sorted(shards, reverse=True):
            known = store / "keys" / keys[shard]
            name = known.read_text(encoding="utf-8").strip() if known.is_file() else ""
            if name and (store / name / "pagefind-entry.json").is_file():
                names[shard] = name
                continue
            records = sorted(read(shards[shard]), key=lambda item: str(item["url"]))
            names[shard] = shard_name(shard, records)
            noted.append(shard)
            if not (store / names[shard] / "pagefind-entry.json").is_file():
                while len(running) >= cores:
                    running.pop(0).result()
                running.append(pool.submit(_index, records, store, names[shard]))
                indexed.append(shard)
            del records
        for future in running:
            future.result()
    for shard in noted:
        (store / "keys" / keys[shard]).write_text(names[shard], encoding="utf-8")
    bundle = output / FOLDER
    bundle.mkdir(parents=True, exist_ok=True)
    listed = []
    for shard in sorted(shards, reverse=True):
        name = names[shard]
        if not (bundle / name).is_dir():
            _place(store / name, bundle / name)
        languages = json.loads((store / name / "languages.json").read_text(encoding="utf-8"))
        listed.append({"path": f"{name}/", "languages": languages})
    temporary = bundle / f".{SHARDS_FILE}.{os.getpid()}.{threading.get_ident()}"
    temporary.write_text(json.dumps({"shards": listed}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, bundle / SHARDS_FILE)
    current = set(names.values())
    for entry in bundle.iterdir():
        if entry.is_dir() and entry.name not in current:
            shutil.rmtree(entry, ignore_errors=True)
    for entry in store.iterdir():
        if entry.is_dir() and entry.name not in current and not entry.name.startswith(".") and entry.name != "keys":
            shutil.rmtree(entry, ignore_errors=True)
    for entry in (store / "keys").iterdir():
        if entry.name not in keys.values():
            entry.unlink(missing_ok=True)
    return sorted(indexed)


def _index(records: list[dict[str, Any]], store: Path, name: str) -> None:
    """One shard indexed by its own Pagefind service, written beside the store and moved into it whole."""
    kept, partial = store / name, store / f".{name}.{os.getpid()}.{threading.get_ident()}"
    shutil.rmtree(partial, ignore_errors=True)
    service = _Pagefind()
    try:
        service.index(records, partial)
    finally:
        service.close()
    (partial / "languages.json").write_text(json.dumps(sorted({str(item["language"]) for item in records})),
                                            encoding="utf-8")
    shutil.rmtree(kept, ignore_errors=True)
    os.replace(partial, kept)


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
    (partial / "languages.json").unlink(missing_ok=True)
    os.replace(partial, target)


def published_stories(rows: Iterable[tuple[str, str, str, float | None, bool]], selection: Selection) -> list[Story]:
    """The stories a build publishes, from the cache's rows (path, digest, card key, published, draft)."""
    return [Story(path, digest, card, published) for path, digest, card, published, draft in rows
            if selection.keeps(draft, published)]
