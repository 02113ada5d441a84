"""The build cache: articles and bodies by content hash, file status, and the last build's pages, in SQLite.

It lives in `.sitegen-cache/` beside the site, is safe to delete, and is never trusted blindly:
an unreadable file is replaced, an undecodable entry is a miss.
"""

from __future__ import annotations

import copyreg
import hashlib
import io
import itertools
import json
import os
import pickle
import shutil
import sqlite3
import threading
import uuid
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, Mapping, Sequence, ValuesView
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sitegen import code_identity
from sitegen.crosslinks import link_signature, site_path
from sitegen.errors import BuildError
from sitegen.model import Article, Body, Sections, Term, Terms, filed_as, term_keys

# A story of the search index as the cache keeps it: (path, shard, digest, card key, published).
SearchRow = tuple[str, str, str, str, float | None]
# A row of `Cache.filings`.
FilingRow = tuple[str, str, str, float | None, str, float | None, bool, tuple[tuple[str, str, str], ...],
                  tuple[tuple[str, str], ...]]

CACHE_DIR = ".sitegen-cache"
SCHEMA = "sitegen cache 7"
_CHUNK = 500
# Articles' filings in one piece of `Cache.store_filings`.
_FILINGS_PART = 5000
# How a page's list of the articles it names (see `Fingerprinter.named`) marks the stories their bodies
# link to: no source path starts so.
LINKED = "\u2192"
# How long a build waits for another sitegen that is writing the cache before it says so.
BUSY_SECONDS = 30.0
# Articles a long-running caller keeps at most (see `Cache.remembered`): an archive of 100,000 fits.
REMEMBERED_ARTICLES = 150_000
# Pages staged in memory before they are written to the cache in one transaction.
STAGE_BATCH = 1000
# Article keys a Fingerprinter keeps at a time (see Fingerprinter._reference).
KEY_MEMORY = 16384
# The record of the last build's pages, and the indexes on it (made after a whole build's rows, not row by row).
_PAGE_TABLES = ("pages", "page_data", "page_bodies", "page_articles")
_PAGE_INDEXES = {"page_bodies_digest": "page_bodies (digest)", "page_bodies_url": "page_bodies (url)",
                 "page_articles_path": "page_articles (path)", "page_articles_url": "page_articles (url)"}
_TABLES = ("articles", "bodies", "filings", "files", "pages", "page_data", "page_bodies", "page_articles", "pages_next",
           "page_bodies_next", "page_articles_next", "file_changes", "search_stories", "search_shards")


@dataclass
class Remembered:
    """Articles a long-running caller keeps between builds, for the cache database they came from."""

    generation: str = ""
    articles: dict[str, tuple[Article, str]] = field(default_factory=dict)
    # The filings of the last full build as `Cache.filings` read them, with the mark of the build that kept them.
    filings: tuple[str, dict[str, tuple[Any, ...]]] | None = None


class Cache:
    """Articles, bodies and file digests by key, and a record of every page of the last build."""

    def __init__(self, folder: Path, throwaway: bool = False, remembered: Remembered | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "cache.sqlite3"
        self.throwaway = throwaway
        # Articles a long-running caller keeps from one build to the next, by digest (which names their
        # content): a new story's build reads every article its shifted listings show.
        self.remembered: dict[str, tuple[Article, str]] | None = None
        self._kept = remembered
        # Compiled templates. Jinja checks them against their source and its own version, not against
        # the options sitegen compiles with, so they go whenever the rest of the cache does.
        self.templates = folder / "templates"
        self._staged: list[tuple[str, str, bytes | None]] = []
        self._staged_bodies: list[tuple[str, str]] = []
        self._staged_articles: list[tuple[str, str]] = []
        # Whether staged pages go straight into the record they will replace whole (see `start_staging`).
        self._replacing = False
        # Whether staged pages went to pages_next (past STAGE_BATCH of them) rather than stayed in memory.
        self._spilled = False
        try:
            self.db = self._open()
        except sqlite3.DatabaseError as error:
            # Busy or locked: another sitegen (the preview's search refresh, a build beside a server) is
            # writing it. Never a reason to throw the cache away.
            if getattr(error, "sqlite_errorcode", 0) & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise BuildError(f"the build cache is busy: {error}", folder, None,
                                 "wait for the other sitegen to finish, then build again") from None
            # A truncated or foreign file: start afresh rather than trust any of it.
            for stale in folder.glob("cache.sqlite3*"):
                stale.unlink(missing_ok=True)
            shutil.rmtree(self.templates, ignore_errors=True)
            self.db = self._open()
        self._loading = False
        # Puts what a first build stored early on disk, beside the work that follows (see `write_out_early`).
        self._writing_out: threading.Thread | None = None
        if not throwaway and self.holds_no_articles():
            self._start_loading()
        if remembered is not None:
            # Kept only for this very database: one deleted or started afresh holds none of them.
            row = self.db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
            if row is None:
                row = (uuid.uuid4().hex,)
                self._write("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", [row])
            if remembered.generation != row[0]:
                remembered.generation, remembered.articles, remembered.filings = row[0], {}, None
            self.remembered = remembered.articles

    def _open(self) -> sqlite3.Connection:
        # Another sitegen may be writing it (a preview refreshing its search index): wait for it, a while.
        db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_SECONDS)
        if self.throwaway:
            # One build's, deleted when it ends, and never written while workers read it: no
            # write-ahead log, which wrote every page twice (the parent's cost of storing 10,000
            # articles fell from 0.74-0.81 s to 0.46-0.47 s), and nothing forced to disk.
            db.execute("PRAGMA journal_mode=MEMORY")
            db.execute("PRAGMA synchronous=OFF")
        else:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        schema = f"{SCHEMA} {code_identity()}"
        loading = db.execute("SELECT 1 FROM meta WHERE key = 'loading'").fetchone()
        if row is None or row[0] != schema or loading:
            # Another sitegen version (or its code changed) wrote this cache, or a first build filling
            # it without a journal on disk stopped before it closed (see `_start_loading`): nothing in
            # it is trusted.
            shutil.rmtree(self.templates, ignore_errors=True)
            db.executescript("".join(f"DROP TABLE IF EXISTS {table};" for table in _TABLES))
            db.execute("DELETE FROM meta")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (schema,))
        db.executescript("""
            -- Where each is filed too, by value: an edit asks who else has a slug, and an edit that refiles
            -- an article places every article in its listings without unpickling any (see refile.py).
            -- The pickled article last: reading a column after it walks its overflow pages, which made
            -- reading 10,000 articles' filings take a fifth of a second.
            CREATE TABLE IF NOT EXISTS articles (digest TEXT PRIMARY KEY, card TEXT, slug TEXT, published REAL,
                                                 modified REAL, draft INTEGER, filing BLOB, value BLOB);
            CREATE TABLE IF NOT EXISTS bodies (digest TEXT PRIMARY KEY, value BLOB);
            -- The same filings, for the articles of the last full build, in a few pickled pieces.
            CREATE TABLE IF NOT EXISTS filings (part INTEGER PRIMARY KEY, value BLOB);
            -- For an article that uses local files, its source key and those files' paths (JSON) too.
            CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, status TEXT, digest TEXT, key TEXT, assets TEXT);
            -- The paths of the files written since a build replaced them all (a row whose path is NULL), in
            -- order and never renumbered: what the search index takes in since it was last brought up to date.
            CREATE TABLE IF NOT EXISTS file_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT);
            -- The stories each search shard was made from, and each shard (see search.py).
            CREATE TABLE IF NOT EXISTS search_stories (path TEXT PRIMARY KEY, shard TEXT, digest TEXT, card TEXT,
                                                       published REAL);
            CREATE TABLE IF NOT EXISTS search_shards (shard TEXT PRIMARY KEY, key TEXT, name TEXT, languages TEXT,
                                                      size INTEGER);
            CREATE INDEX IF NOT EXISTS search_stories_shard ON search_stories (shard);
            CREATE TABLE IF NOT EXISTS pages (url TEXT PRIMARY KEY, fingerprint TEXT);
            -- Apart from the fingerprints, which every build reads: scanning past the pickles costs seconds.
            CREATE TABLE IF NOT EXISTS page_data (url TEXT PRIMARY KEY, page BLOB);
            CREATE TABLE IF NOT EXISTS page_bodies (digest TEXT, url TEXT);
            -- Which articles (by source path) a page names, shown in full or not.
            CREATE TABLE IF NOT EXISTS page_articles (path TEXT, url TEXT);
            CREATE TABLE IF NOT EXISTS pages_next (url TEXT PRIMARY KEY, fingerprint TEXT, page BLOB);
            CREATE TABLE IF NOT EXISTS page_bodies_next (digest TEXT, url TEXT);
            CREATE TABLE IF NOT EXISTS page_articles_next (path TEXT, url TEXT);
            CREATE INDEX IF NOT EXISTS files_digest ON files (digest);
            -- The few files whose articles use local files, which every build with the cache asks for
            -- first: without it, a walk over every file's row (20-55 ms at 100,000 articles).
            CREATE INDEX IF NOT EXISTS files_assets ON files (path) WHERE assets IS NOT NULL;
            CREATE INDEX IF NOT EXISTS articles_slug ON articles (slug);
            CREATE INDEX IF NOT EXISTS articles_published ON articles (published);
        """ + "".join(f"CREATE INDEX IF NOT EXISTS {name} ON {on};" for name, on in _PAGE_INDEXES.items()))
        return db

    def _select(self, sql: str, keys: list[str]) -> Iterator[tuple[Any, ...]]:
        return _select(self.db, sql, keys)

    def articles(self, digests: Iterable[str]) -> dict[str, tuple[Article, str]]:
        """The cached articles (with their card keys) among `digests`; a damaged entry is simply absent."""
        found: dict[str, tuple[Article, str]] = {}
        keys = list(digests)
        if self.remembered is not None:
            found = {key: self.remembered[key] for key in keys if key in self.remembered}
            keys = [key for key in keys if key not in found]
        try:
            for digest, card, value in self._select("SELECT digest, card, value FROM articles WHERE digest IN ({marks})",
                                                    keys):
                article = _unpickle(value)
                if isinstance(article, Article) and article.digest == digest and isinstance(card, str):
                    found[digest] = (article, card)
        except sqlite3.DatabaseError:
            pass
        if self.remembered is not None and keys:
            if len(self.remembered) > REMEMBERED_ARTICLES:
                self.remembered.clear()
            self.remembered.update((key, found[key]) for key in keys if key in found)
        return found

    def _start_loading(self) -> None:
        """Fill an empty cache as a throwaway one is filled: the journal in memory, nothing forced to disk.

        A first build writes the whole archive here, which through the write-ahead log it wrote
        twice, and forced to disk. Until `close`, a mark says the file may be torn: a build that
        dies before then leaves a cache the next one starts afresh.
        """
        try:
            mode = self.db.execute("PRAGMA journal_mode=MEMORY").fetchone()
        except sqlite3.DatabaseError:
            return
        if not mode or str(mode[0]).lower() != "memory":
            return
        self.db.execute("PRAGMA synchronous=OFF")
        self._write("INSERT OR REPLACE INTO meta VALUES ('loading', '1')", [()])
        self._loading = True

    def write_out_early(self) -> None:
        """While a first build fills this cache, start putting what it holds so far on disk, in the background.

        `close` forces the whole file to disk before it takes the mark away; with the archive's
        articles and bodies written out while the build plans, and its pages while it indexes them,
        it waits for little (0.12 s at the end of a 10,000-article build on this machine's disk, 0.02 s so).
        """
        if self._loading and not (self._writing_out is not None and self._writing_out.is_alive()):
            self._writing_out = threading.Thread(target=_write_out, args=(self.path,), daemon=True)
            self._writing_out.start()

    def _finish_loading(self) -> None:
        """Put everything written on disk, take the mark away, and go back to the write-ahead log."""
        self._loading = False
        if self._writing_out is not None:
            self._writing_out.join()
        try:
            # A full sync of the commit that takes the mark away writes out every page before it too.
            self.db.execute("PRAGMA synchronous=FULL")
            self._write("DELETE FROM meta WHERE key = 'loading'", [()])
            self.db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError:
            pass

    def holds_no_articles(self) -> bool:
        """Whether no article can be found here (a damaged cache might still hold some)."""
        try:
            return self.db.execute("SELECT 1 FROM articles LIMIT 1").fetchone() is None
        except sqlite3.DatabaseError:
            return False

    def store_articles(self, loaded: Iterable[tuple[Article, Body] | Prepared]) -> dict[str, str]:
        """Keep articles and their bodies; returns each article's card key by digest."""
        ready = [item if isinstance(item, Prepared) else prepare(*item) for item in loaded]
        self._write("INSERT OR REPLACE INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(p.article.digest, p.card, p.article.slug, timestamp(p.article.published),
                      timestamp(p.article.modified), p.article.draft, _pickle(filing(p.article)), p.article_data)
                     for p in ready],
                    ("INSERT OR REPLACE INTO bodies VALUES (?, ?)", [(p.article.digest, p.body_data) for p in ready]))
        return {p.article.digest: p.card for p in ready}

    def store_filings(self, rows: Iterable[FilingRow]) -> None:
        """Keep every article's filing in a few pieces, by digest, which says it all: a digest's never changes.

        Reading 10,000 of them row by row took a tenth of a second; an edit build reads them all.
        `store_filings_of` does this in a worker, from the articles stored.
        """
        # Marked anew once all are in, so that a long-running caller's copy of the last ones is known
        # to be stale, and one read beside this never takes a part of them for the whole.
        self._write("DELETE FROM filings", [()], ("DELETE FROM meta WHERE key = 'filings'", [()]))
        for part, piece in enumerate(_filing_pieces(rows)):
            self._write("INSERT INTO filings VALUES (?, ?)", [(part, piece)])
        self._write("INSERT OR REPLACE INTO meta VALUES ('filings', ?)", [(uuid.uuid4().hex,)])

    def filings(self, files: Mapping[str, str], few: bool = False) -> list[FilingRow]:
        """Where each article of these files (path -> digest) is filed (see `refile.Filed`).

        From the whole the last full build kept, and row by row for articles read since; for `few`
        files, row by row alone: reading the whole took 0.2 s at 100,000 articles.
        """
        kept = {} if few else self.kept_filings()
        try:
            read = _filings_of(self.db, [d for d in files.values() if d not in kept])
        except (sqlite3.DatabaseError, pickle.UnpicklingError, ValueError, TypeError, EOFError):
            return []
        found = []
        for path, digest in files.items():
            filing = kept.get(digest) or read.get(digest)
            if filing is not None:
                found.append((path, digest, *filing))
        return found

    def kept_filings(self) -> dict[str, tuple[Any, ...]]:
        """The filings the last full build kept, by digest; a long-running caller's copy while they are current.

        Unpickling 100,000 of them took a preview's build of a new story 0.6 s.
        """
        return _kept_filings(self.db, self._kept)

    def prune_articles(self, keep: set[str]) -> None:
        """Forget articles no longer in the site, so the cache does not grow without end."""
        try:
            stored = {row[0] for row in self.db.execute("SELECT digest FROM articles")}
        except sqlite3.DatabaseError:
            return
        self.forget_articles(stored - keep)

    def shares_slug_or_time(self, path: str, slug: str, published: datetime | None) -> bool:
        """Whether an article other than the one at `path` has this slug or was published at this moment.

        Either decides an order or a URL that the other article's pages depend on; an unreadable
        cache says yes, which is the safe answer.
        """
        try:
            # CROSS JOIN: articles first, through their indexes; left to itself SQLite walks every file.
            row = self.db.execute(
                "SELECT 1 FROM articles CROSS JOIN files ON files.digest = articles.digest "
                "WHERE (articles.slug = ? OR articles.published = ?) AND files.path != ? LIMIT 1",
                (slug, published.timestamp() if published else None, path)).fetchone()
        except sqlite3.DatabaseError:
            return True
        return row is not None

    def forget_articles(self, digests: Iterable[str]) -> None:
        gone = [(d,) for d in sorted(digests)]
        if self.remembered is not None:
            for (digest,) in gone:
                self.remembered.pop(digest, None)
        self._write("DELETE FROM articles WHERE digest = ?", gone)
        self._write("DELETE FROM bodies WHERE digest = ?", gone)

    def file_digests(self) -> dict[str, tuple[str, str]]:
        """(status, digest) of every source file the last build read, by path."""
        try:
            return {path: (status, digest) for path, status, digest in
                    self.db.execute("SELECT path, status, digest FROM files")}
        except sqlite3.DatabaseError:
            return {}

    def file_statuses(self) -> dict[str, str]:
        """The status of every source file the last build read, by path."""
        try:
            return dict(self.db.execute("SELECT path, status FROM files"))
        except sqlite3.DatabaseError:
            return {}

    def all_file_digests(self) -> dict[str, str]:
        """The digest of every source file the last build read, by path."""
        try:
            return dict(self.db.execute("SELECT path, digest FROM files"))
        except sqlite3.DatabaseError:
            return {}

    def file_records(self, paths: Iterable[str]) -> dict[str, tuple[str, str]]:
        """(status, digest) of each of these source files that the last build read, by path."""
        try:
            return {path: (status, digest) for path, status, digest in
                    self._select("SELECT path, status, digest FROM files WHERE path IN ({marks})", list(paths))}
        except sqlite3.DatabaseError:
            return {}

    def folder_statuses(self, folder: str) -> dict[str, str]:
        """The status of every source file the last build read in `folder` (ending in a separator), by path."""
        try:
            rows = self.db.execute("SELECT path, status FROM files WHERE path >= ? AND path < ?", (folder, _past(folder)))
            return {path: status for path, status in rows if _directly_in(path, folder)}
        except sqlite3.DatabaseError:
            return {}

    def article_files(self) -> list[tuple[str, str, str, float | None, bool]]:
        """(path, digest, card key, published, draft) of every article file the last build read.

        For search's list of stories: two scans, joined here. Reading every filing for it took a
        quarter of a second of each edit build at 100,000 articles, and joining in SQL, a lookup
        by digest for each file, about as long.
        """
        try:
            found = {digest: (card, published, bool(draft)) for digest, card, published, draft in
                     self.db.execute("SELECT digest, card, published, draft FROM articles")}
            return [(path, digest, *found[digest]) for path, digest in self.db.execute("SELECT path, digest FROM files")
                    if digest in found]
        except sqlite3.DatabaseError:
            return []

    def published_from(self, start: float, end: float) -> list[tuple[str, str, str, float, bool]] | None:
        """What `article_files` says of each article file published from `start` to `end`, both included; None if
        unreadable.

        Through the index on publication times: the stories an embargo's end publishes, where reading
        every file's took an edit build 0.6 s at 100,000 articles.
        """
        try:
            # CROSS JOIN: articles first, through their index; left to itself SQLite walks every file.
            return [(path, digest, card, published, bool(draft)) for path, digest, card, published, draft in
                    self.db.execute("SELECT files.path, files.digest, card, published, draft FROM articles "
                                    "CROSS JOIN files ON files.digest = articles.digest "
                                    "WHERE published >= ? AND published <= ? ORDER BY files.path", (start, end))]
        except sqlite3.DatabaseError:
            return None

    def next_published(self, after: float, drafts: bool) -> tuple[float | None] | None:
        """The earliest publication time of an article file later than `after` (of a draft only if `drafts`), as a
        1-tuple (None in it: there is none); None if unreadable."""
        try:
            row = self.db.execute("SELECT min(published) FROM articles CROSS JOIN files ON files.digest = articles.digest "
                                  "WHERE published > ? AND (? OR NOT draft)", (after, drafts)).fetchone()
        except sqlite3.DatabaseError:
            return None
        return (row[0],)

    def changed_files(self, since: int) -> tuple[int, list[str] | None]:
        """The source files written after the log's mark `since`, in order, and the mark after the last of them.

        None for the files when a build has replaced every file's record since: anything may have changed.
        """
        try:
            rows = self.db.execute("SELECT seq, path FROM file_changes WHERE seq > ? ORDER BY seq", (since,)).fetchall()
            last = self.db.execute("SELECT max(seq) FROM file_changes").fetchone()[0] or 0
        except sqlite3.DatabaseError:
            return since, None
        # The mark of the last row read, not the log's end: a file written between the two reads is read next time.
        paths = [path for _, path in rows]
        return (rows[-1][0] if rows else since), None if last < since or None in paths else paths

    def article_rows(self, paths: Iterable[str]) -> dict[str, tuple[str, str, float | None, bool]] | None:
        """(digest, card key, published, draft) of the article each of these files holds, by path (None if unreadable).

        What `article_files` says of every file, for a few.
        """
        try:
            return {path: (digest, card, published, bool(draft)) for path, digest, card, published, draft in
                    self._select("SELECT files.path, files.digest, card, published, draft FROM files JOIN articles "
                                 "ON articles.digest = files.digest WHERE files.path IN ({marks})", sorted(set(paths)))}
        except sqlite3.DatabaseError:
            return None

    def article_terms(self, digests: Iterable[str]) -> dict[str, tuple[str, float | None, bool]] | None:
        """(card key, published, draft) of each of these articles, by digest, as `article_rows` gives them by file
        (None if unreadable)."""
        try:
            return {digest: (card, published, bool(draft)) for digest, card, published, draft in
                    self._select("SELECT digest, card, published, draft FROM articles WHERE digest IN ({marks})",
                                 sorted(set(digests)))}
        except sqlite3.DatabaseError:
            return None

    def search_layout(self) -> tuple[dict[str, Any], dict[str, tuple[str, str, tuple[str, ...], int]]] | None:
        """What the search index was last made from (see `search.Layout`), and each shard's (key, name, languages, size)."""
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'search'").fetchone()
            terms = json.loads(row[0]) if row else None
            shards = {shard: (key, name, tuple(json.loads(languages)), size) for shard, key, name, languages, size in
                      self.db.execute("SELECT shard, key, name, languages, size FROM search_shards")}
        except (sqlite3.DatabaseError, ValueError, TypeError):
            return None
        return (terms, shards) if isinstance(terms, dict) else None

    def search_stories(self, paths: Iterable[str] = (), shards: Iterable[str] = ()) -> list[SearchRow] | None:
        """The index's stories among these files, and every story of these shards; None if unreadable."""
        try:
            return [*self._select("SELECT * FROM search_stories WHERE path IN ({marks})", sorted(set(paths))),
                    *self._select("SELECT * FROM search_stories WHERE shard IN ({marks})", sorted(set(shards)))]
        except sqlite3.DatabaseError:
            return None

    def store_search_layout(self, terms: Mapping[str, Any], shards: Mapping[str, tuple[str, str, tuple[str, ...], int]],
                            rewritten: Iterable[str] | None, rows: Iterable[SearchRow]) -> None:
        """Keep what the search index was made from: every shard, and the stories of the shards `rewritten`
        (those made anew or gone; None: all), which are `rows`; the stories of the rest stay as they were."""
        self._write("DELETE FROM meta WHERE key = 'search'", [()],
                    ("DELETE FROM search_stories", [()] if rewritten is None else []),
                    ("DELETE FROM search_stories WHERE shard = ?", [(shard,) for shard in sorted(set(rewritten or ()))]),
                    ("INSERT OR REPLACE INTO search_stories VALUES (?, ?, ?, ?, ?)", list(rows)),
                    ("DELETE FROM search_shards", [()]),
                    ("INSERT INTO search_shards VALUES (?, ?, ?, ?, ?)",
                     [(shard, key, name, json.dumps(list(languages)), size)
                      for shard, (key, name, languages, size) in sorted(shards.items())]),
                    ("INSERT INTO meta VALUES ('search', ?)", [(json.dumps(dict(terms), sort_keys=True),)]))

    def file_assets(self) -> dict[str, tuple[str, str, tuple[str, ...]]]:
        """(source key, digest, local files used) of every article file whose article used local files, by path."""
        try:
            return {path: (key, digest, tuple(json.loads(assets))) for path, digest, key, assets in
                    self.db.execute("SELECT path, digest, key, assets FROM files WHERE assets IS NOT NULL")}
        except (sqlite3.DatabaseError, ValueError, TypeError):
            return {}

    def forget_files(self, paths: Iterable[str]) -> None:
        gone = [(path,) for path in sorted(paths)]
        self._write("DELETE FROM files WHERE path = ?", gone, ("INSERT INTO file_changes (path) VALUES (?)", gone))

    def store_file_digests(self, files: Mapping[str, tuple[Any, ...]], replace_all: bool) -> None:
        """Keep each file's record: (status, digest), and for an article using local files its key and their paths."""
        # Noted in the log of changes in the same transaction: whatever reads it never misses a write.
        noted = ("INSERT INTO file_changes (path) VALUES (?)", [(None,)] if replace_all else [(path,) for path in files])
        statements: list[tuple[str, list[tuple[Any, ...]]]] = [
            *((f"DELETE FROM {table}", [()]) for table in ("files", "file_changes") if replace_all),
            ("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)",
             [(path, record[0], record[1], record[2] if len(record) > 2 else None,  # type: ignore[misc]
               json.dumps(record[3]) if len(record) > 3 and record[3] else None)  # type: ignore[misc]
              for path, record in files.items()]),
            noted]
        self._write(*statements[0], *statements[1:])

    def pages(self, output: Path, current: set[str]) -> dict[str, str | None]:
        """The last build's pages, if it wrote to `output`: url -> fingerprint, or None where a body
        the page showed is no longer among the `current` digests (so it must be rendered again)."""
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'output'").fetchone()
            if row is None or row[0] != str(output.resolve()):
                return {}
            records: dict[str, str | None] = dict(self.db.execute("SELECT url, fingerprint FROM pages"))
            for digest, url in self.db.execute("SELECT digest, url FROM page_bodies"):
                if digest not in current and url in records:
                    records[url] = None
            return records
        except sqlite3.DatabaseError:
            return {}

    def pages_showing(self, digests: Iterable[str]) -> dict[str, tuple[str, bytes | None]]:
        """Fingerprint and stored page (as `Fingerprinter` pickled it) of every page that showed one of these bodies."""
        return self._stored_pages("SELECT url FROM page_bodies WHERE digest IN ({marks})", list(digests))

    def pages_naming(self, paths: Iterable[str]) -> dict[str, tuple[str, bytes | None]]:
        """Fingerprint and stored page of every page that names one of the articles at these source paths."""
        return self._stored_pages("SELECT url FROM page_articles WHERE path IN ({marks})", list(paths))

    def pages_linking(self, paths: Iterable[str]) -> dict[str, tuple[str, bytes | None]]:
        """Fingerprint and stored page of every page showing an article whose body links to one at these paths."""
        return self.pages_naming(LINKED + path for path in paths)

    def linkers(self, paths: Iterable[str]) -> set[str]:
        """Source paths of the articles that may link to those at `paths`: every article named beside such a link."""
        try:
            return {path for (path,) in self._select(
                "SELECT DISTINCT other.path FROM page_articles AS link JOIN page_articles AS other "
                "ON other.url = link.url WHERE link.path IN ({marks})", [LINKED + path for path in paths])
                    if not path.startswith(LINKED)}
        except sqlite3.DatabaseError:
            return set()

    def has_pages(self, urls: Iterable[str]) -> set[str]:
        """Which of these URLs the last build wrote a page at."""
        try:
            return {url for (url,) in self._select("SELECT url FROM pages WHERE url IN ({marks})", list(urls))}
        except sqlite3.DatabaseError:
            return set()

    def stored_pages(self, urls: Iterable[str]) -> dict[str, tuple[str, bytes | None]]:
        """Fingerprint and stored page of each of these pages that the last build wrote."""
        return self._stored_pages("SELECT url FROM pages WHERE url IN ({marks})", list(urls))

    def _stored_pages(self, select_urls: str, keys: list[str]) -> dict[str, tuple[str, bytes | None]]:
        try:
            urls = sorted({url for (url,) in self._select(select_urls, keys)})
            return {url: (fp, page) for url, fp, page in
                    self._select("SELECT pages.url, fingerprint, page FROM pages LEFT JOIN page_data "
                                 "ON page_data.url = pages.url WHERE pages.url IN ({marks})", urls)}
        except sqlite3.DatabaseError:
            return {}

    def start_staging(self, replace_all: bool) -> None:
        """Begin noting a build's pages; with `replace_all`, straight into the record they will replace whole.

        That record names no output until `commit_staged_pages` (see `pages`), so a build that stops
        part-way leaves rows no build reads, and a first build does not copy every page from one
        table to another at its end.
        """
        self.discard_staged_pages()
        if replace_all:
            statements = ["DELETE FROM meta WHERE key = 'output'", *(f"DELETE FROM {table}" for table in _PAGE_TABLES),
                          *(f"DROP INDEX IF EXISTS {name}" for name in _PAGE_INDEXES)]
            self._write(statements[0], [()], *((statement, [()]) for statement in statements[1:]))
            self._replacing = True

    def discard_staged_pages(self) -> None:
        """Forget pages staged by a build that did not finish."""
        self._staged, self._staged_bodies, self._staged_articles = [], [], []
        self._replacing = self._spilled = False
        self._write("DELETE FROM pages_next", [()])
        self._write("DELETE FROM page_bodies_next", [()])
        self._write("DELETE FROM page_articles_next", [()])

    def stage_page(self, url: str, fingerprint: str, page: bytes | None, bodies: frozenset[str],
                   named: Iterable[str] = ()) -> None:
        """Note a page this build rendered, the bodies it showed and the articles it named (by path).

        It counts only once `commit_staged_pages` runs, after the site is written.
        """
        self._staged.append((url, fingerprint, page))
        self._staged_bodies += [(digest, url) for digest in sorted(bodies)]
        self._staged_articles += [(path, url) for path in sorted(named)]
        if len(self._staged) >= STAGE_BATCH:
            self._flush_staged()

    def _flush_staged(self) -> None:
        # Batched: one transaction per page would cost seconds at archive scale.
        if self._replacing:
            self._write("INSERT OR REPLACE INTO pages VALUES (?, ?)", [(url, print_) for url, print_, _ in self._staged],
                        ("INSERT OR REPLACE INTO page_data VALUES (?, ?)",
                         [(url, page) for url, _, page in self._staged if page is not None]),
                        ("INSERT INTO page_bodies VALUES (?, ?)", self._staged_bodies),
                        ("INSERT INTO page_articles VALUES (?, ?)", self._staged_articles))
            self._staged, self._staged_bodies, self._staged_articles = [], [], []
            return
        self._spilled = True
        self._write("INSERT OR REPLACE INTO pages_next VALUES (?, ?, ?)", self._staged)
        self._write("INSERT INTO page_bodies_next VALUES (?, ?)", self._staged_bodies)
        self._write("INSERT INTO page_articles_next VALUES (?, ?)", self._staged_articles)
        self._staged, self._staged_bodies, self._staged_articles = [], [], []

    def commit_staged_pages(self, output: Path, removed: Iterable[str], replace_all: bool = False) -> None:
        """Make the staged pages (and removals) the record of `output`, in one transaction."""
        if not self._replacing and not self._spilled:
            self._commit_held_pages(output, removed, replace_all)
            return
        self._flush_staged()
        if self._replacing:
            self._replacing = False
            statements = ["DELETE FROM meta WHERE key = 'last_build'",
                          *(f"CREATE INDEX IF NOT EXISTS {name} ON {on}" for name, on in _PAGE_INDEXES.items())]
            self._write(statements[0], [()], *((statement, [()]) for statement in statements[1:]),
                        ("INSERT OR REPLACE INTO meta VALUES ('output', ?)", [(str(output.resolve()),)]))
            return
        try:
            self.db.execute("DELETE FROM meta WHERE key = 'last_build'")
            self.db.execute("BEGIN")
            if replace_all:
                self.db.execute("DELETE FROM pages")
                self.db.execute("DELETE FROM page_data")
                self.db.execute("DELETE FROM page_bodies")
                self.db.execute("DELETE FROM page_articles")
            gone = [(url,) for url in removed]
            self.db.executemany("DELETE FROM pages WHERE url = ?", gone)
            self.db.executemany("DELETE FROM page_data WHERE url = ?", gone)
            self.db.executemany("DELETE FROM page_bodies WHERE url = ?", gone)
            self.db.executemany("DELETE FROM page_articles WHERE url = ?", gone)
            self.db.execute("DELETE FROM pages WHERE url IN (SELECT url FROM pages_next)")
            self.db.execute("DELETE FROM page_data WHERE url IN (SELECT url FROM pages_next)")
            self.db.execute("DELETE FROM page_bodies WHERE url IN (SELECT url FROM pages_next)")
            self.db.execute("DELETE FROM page_articles WHERE url IN (SELECT url FROM pages_next)")
            self.db.execute("INSERT INTO pages SELECT url, fingerprint FROM pages_next")
            self.db.execute("INSERT INTO page_data SELECT url, page FROM pages_next WHERE page IS NOT NULL")
            self.db.execute("INSERT INTO page_bodies SELECT * FROM page_bodies_next")
            self.db.execute("INSERT INTO page_articles SELECT * FROM page_articles_next")
            self.db.execute("DELETE FROM pages_next")
            self.db.execute("DELETE FROM page_bodies_next")
            self.db.execute("DELETE FROM page_articles_next")
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('output', ?)", (str(output.resolve()),))
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")

    def _commit_held_pages(self, output: Path, removed: Iterable[str], replace_all: bool) -> None:
        """`commit_staged_pages` of the few pages a build after an edit stages, all still in memory.

        Straight into the record: through pages_next, an archive's sitemap part (3 MB) was written
        twice, in two transactions, which took 80 ms of an edit that moves a story.
        """
        staged = [(url,) for url, _, _ in self._staged]
        statements: list[tuple[str, list[tuple[Any, ...]]]] = [
            *((f"DELETE FROM {table}", [()]) for table in _PAGE_TABLES if replace_all),
            *((f"DELETE FROM {table} WHERE url = ?", [(url,) for url in removed]) for table in _PAGE_TABLES),
            # Their rows in the tables keyed by URL alone, to be written anew.
            *((f"DELETE FROM {table} WHERE url = ?", staged) for table in _PAGE_TABLES[1:]),
            ("INSERT OR REPLACE INTO pages VALUES (?, ?)", [(url, print_) for url, print_, _ in self._staged]),
            ("INSERT INTO page_data VALUES (?, ?)", [(url, page) for url, _, page in self._staged if page is not None]),
            ("INSERT INTO page_bodies VALUES (?, ?)", self._staged_bodies),
            ("INSERT INTO page_articles VALUES (?, ?)", self._staged_articles),
            ("INSERT OR REPLACE INTO meta VALUES ('output', ?)", [(str(output.resolve()),)]),
        ]
        self._staged, self._staged_bodies, self._staged_articles = [], [], []
        self._write("DELETE FROM meta WHERE key = 'last_build'", [()])
        self._write(*statements[0], *statements[1:])

    def last_build(self) -> dict[str, Any] | None:
        """What the last complete, error-free build recorded about its inputs and results."""
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'last_build'").fetchone()
            value = json.loads(row[0]) if row else None
        except (sqlite3.DatabaseError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def forget_last_build(self) -> None:
        self._write("DELETE FROM meta WHERE key = 'last_build'", [()])

    def store_last_build(self, value: dict[str, Any]) -> None:
        self._write("INSERT OR REPLACE INTO meta VALUES ('last_build', ?)", [(json.dumps(value),)])

    def _write(self, sql: str, rows: list[tuple[Any, ...]], *more: tuple[str, list[tuple[Any, ...]]]) -> None:
        """Run `sql` for each row, and each further (sql, rows), in one transaction."""
        statements = [(sql, rows), *more]
        if not any(rows for _, rows in statements):
            return
        try:
            self.db.execute("BEGIN")
            for statement, values in statements:
                self.db.executemany(statement, values)
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")

    def settle(self) -> None:
        """Fold the write-ahead log into the database, once the build has written what it reads back.

        Every read of a page still in a large log goes through it: looking up a body took 0.2 ms
        with the log of a 10,000-article first build in place, 0.013 ms after this.
        """
        try:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.DatabaseError:
            pass

    def close(self) -> None:
        if self._loading:
            self._finish_loading()
        self.db.close()


def _filing_pieces(rows: Iterable[FilingRow]) -> Iterator[bytes]:
    """Filings by digest, pickled in pieces of a bounded size, so that 100,000 of them never sit in memory twice."""
    rows = iter(rows)
    # Each term filed as one object, which pickle writes once a piece and reads back as a reference:
    # 100,000 filings took 0.21 s to read, 0.12 s so (an edit build that refiles reads them all).
    same: dict[tuple[str, ...], tuple[str, ...]] = {}
    while piece := {row[1]: (*row[2:7], tuple(same.setdefault(term, term) for term in row[7]),
                             tuple(same.setdefault(key, key) for key in row[8]))
                    for row in itertools.islice(rows, _FILINGS_PART)}:
        yield _pickle(piece)


def store_filings_of(path: Path, files: Sequence[tuple[str, str]]) -> None:
    """`Cache.store_filings` for the articles of these files (path, digest), from what the cache at `path` holds of them.

    For a worker, while the build's own process plans (0.14-0.19 s of a 10,000-article build when
    that process did it). Raises rather than store part of them, for that process to do it instead.
    """
    db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_SECONDS)
    try:
        if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            # A first build's fill, which the mark in the cache covers until the build closes it (see
            # `Cache._start_loading`). The journal stays in a file: a worker killed part-way through
            # leaves it for the next connection to roll back.
            db.execute("PRAGMA synchronous=OFF")
        else:
            # As the build's own connection writes the log (see `Cache._open`).
            db.execute("PRAGMA synchronous=NORMAL")
        rows = _stored_filings(db, files)
        with _transaction(db):
            db.execute("DELETE FROM filings")
            db.execute("DELETE FROM meta WHERE key = 'filings'")
        for part, piece in enumerate(_filing_pieces(rows)):
            with _transaction(db):
                db.execute("INSERT INTO filings VALUES (?, ?)", (part, piece))
        with _transaction(db):
            db.execute("INSERT OR REPLACE INTO meta VALUES ('filings', ?)", (uuid.uuid4().hex,))
    finally:
        db.close()


def _stored_filings(db: sqlite3.Connection, files: Sequence[tuple[str, str]]) -> Iterator[FilingRow]:
    """The filing of each of these files' articles as the cache holds it, a chunk at a time, in order.

    Read as they are stored, a piece at a time: read at once, 10,000 of them took 21.6 MB at their
    peak (traced), 8.9 MB so, and 100,000 would take ten times as much.
    """
    for start in range(0, len(files), _CHUNK):
        chunk = files[start : start + _CHUNK]
        found = _filings_of(db, [digest for _, digest in chunk])
        for name, digest in chunk:
            if digest not in found:
                raise LookupError(f"{name}: its article is not in the cache")
            yield (name, digest, *found[digest])  # type: ignore[misc]


def _filings_of(db: sqlite3.Connection, digests: list[str]) -> dict[str, tuple[Any, ...]]:
    """The filing of each of these articles as the articles table holds it, by digest (the rest of a `FilingRow`)."""
    return {digest: (card, published, slug, modified, bool(draft), *pickle.loads(filed))
            for digest, card, slug, published, modified, draft, filed in _select(
                db, "SELECT digest, card, slug, published, modified, draft, filing FROM articles "
                    "WHERE digest IN ({marks})", digests)}


def _select(db: sqlite3.Connection, sql: str, keys: list[str]) -> Iterator[tuple[Any, ...]]:
    """Rows of `sql` (with one `{marks}` IN-list) for every key, a chunk of keys at a time."""
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        yield from db.execute(sql.format(marks=",".join("?" * len(chunk))), chunk)


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _kept_filings(db: sqlite3.Connection, remembered: Remembered | None) -> dict[str, tuple[Any, ...]]:
    try:
        mark = db.execute("SELECT value FROM meta WHERE key = 'filings'").fetchone()
    except sqlite3.DatabaseError:
        mark = None
    if mark is not None and remembered is not None and remembered.filings is not None and \
            remembered.filings[0] == mark[0]:
        return remembered.filings[1]
    kept: dict[str, tuple[Any, ...]] = {}
    try:
        for (value,) in db.execute("SELECT value FROM filings ORDER BY part"):
            kept.update(pickle.loads(value))
    except (sqlite3.DatabaseError, pickle.UnpicklingError, ValueError, TypeError, EOFError, AttributeError):
        return {}
    if mark is not None and remembered is not None:
        # One assignment: a reader in another thread sees the old pair or the new, each whole.
        remembered.filings = (mark[0], kept)
    return kept


def remember_filings(path: Path, remembered: Remembered) -> None:
    """Read the last full build's filings into `remembered`, through a connection of its own that writes nothing.

    For a long-running caller, beside its builds: the mark each pair carries keeps a stale one from use.
    """
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_SECONDS)
    except sqlite3.DatabaseError:
        return
    try:
        # One read transaction: the mark and the filings as one moment had them.
        db.execute("BEGIN")
        row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        # Another database than the one the caller's articles came from: its next build starts afresh.
        if row is not None and row[0] == remembered.generation:
            _kept_filings(db, remembered)
    except sqlite3.DatabaseError:
        pass
    finally:
        db.close()


class _ReadOnly:
    """A read-only connection to the cache, opened by each process that reads (forked workers included)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: tuple[int, sqlite3.Connection] | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None or self._db[0] != os.getpid():
            self._db = (os.getpid(), sqlite3.connect(f"file:{self.path}?mode=ro", uri=True))
        return self._db[1]

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_db": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"])  # type: ignore[misc]


# Bodies a reader keeps: a feed page and its two siblings show the same ones, and a chunk's are read ahead.
RECENT_BODIES = 256


class CachedBodies(_ReadOnly, Mapping[str, Body]):
    """Article bodies read from the cache on demand, so the build never holds them all in memory."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._recent: OrderedDict[str, Body] = OrderedDict()

    def __getitem__(self, digest: str) -> Body:
        if digest in self._recent:
            self._recent.move_to_end(digest)
            return self._recent[digest]
        row = self._connection().execute("SELECT value FROM bodies WHERE digest = ?", (digest,)).fetchone()
        body = _unpickle(row[0]) if row else None
        if not isinstance(body, Body):
            raise KeyError(digest)
        self._recent[digest] = body
        if len(self._recent) > RECENT_BODIES:
            self._recent.popitem(last=False)
        return body

    def read_ahead(self, digests: Iterable[str]) -> None:
        """Read the bodies of `digests`, a chunk's few, in one query for the lookups that follow.

        Each query is a read transaction of its own: one at a time, the bodies of 10,000 article
        pages took a tenth of rendering them.
        """
        self._recent.update(self.many(digest for digest in digests if digest not in self._recent))
        while len(self._recent) > RECENT_BODIES:
            self._recent.popitem(last=False)

    def many(self, digests: Iterable[str]) -> dict[str, Body]:
        """The bodies of `digests` the cache has, read in one query, by digest; none is kept here."""
        found: dict[str, Body] = {}
        for digest, value in _select(self._connection(), "SELECT digest, value FROM bodies WHERE digest IN ({marks})",
                                     sorted(set(digests))):
            body = _unpickle(value)
            if isinstance(body, Body):
                found[digest] = body
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(row[0] for row in self._connection().execute("SELECT digest FROM bodies"))

    def __len__(self) -> int:
        return int(self._connection().execute("SELECT count(*) FROM bodies").fetchone()[0])


class CachedArticles(_ReadOnly):
    """The article a stored page names, by source path and card key, read from the files the build recorded."""

    def __call__(self, path: str, card: str) -> Article:
        row = self._connection().execute(
            "SELECT articles.value, articles.card FROM files JOIN articles ON articles.digest = files.digest "
            "WHERE files.path = ?", (path,)).fetchone()
        article = _unpickle(row[0]) if row and row[1] == card else None
        if not isinstance(article, Article):
            raise BuildError(f"the cached article {path} is missing or stale", path, None, "delete .sitegen-cache/")
        return article


@dataclass(frozen=True)
class Prepared:
    """An article ready for the cache: pickled by the worker that read it, so the build's parent need not."""

    article: Article
    card: str
    article_data: bytes
    body_data: bytes


def prepare(article: Article, body: Body) -> Prepared:
    return Prepared(article, card_key(article), _pickle(article), _pickle(body))


def timestamp(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment else None


def filing_row(article: Article, card: str) -> FilingRow:
    return (str(article.source_path), article.digest, card, timestamp(article.published), article.slug,
            timestamp(article.modified), article.draft, *filing(article))


def filing(article: Article) -> tuple[tuple[tuple[str, str, str], ...], tuple[tuple[str, str], ...]]:
    """(kind, slug, name) of each term the article's file names, and each (kind, slug) once, in order."""
    terms = tuple((kind, term.slug, term.name) for kind, term in term_keys(article))
    return terms, tuple(dict.fromkeys((kind, slug) for kind, slug, _ in terms))


def card_key(article: Article) -> str:
    """A hash of what listings show of an article: all of it but the digest (and so the body, and its links)."""
    # 128 bits tell one version of an article from another as surely; every reference to it in a
    # stored page holds this, and the full 256 were a third of what those references held.
    return hashlib.sha256(_pickle(replace(article, digest="", links=(), anchors=frozenset()))).hexdigest()[:32]


def _pickle(value: object) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _pickle_plainly(value: object) -> bytes:
    """`value` pickled without a memo: equal values give equal bytes, however their objects are shared."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = True
    pickler.dump(value)
    return buffer.getvalue()


def _unpickle(value: object) -> object:
    try:
        return pickle.loads(value)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - a corrupt entry is a miss, whatever the error
        return None


# The reader loading a stored page; references resolve through it. A context variable rather than an
# Unpickler subclass: overriding find_class costs a Python call for every class a page names.
_READER: ContextVar[Callable[[str], Article]] = ContextVar("sitegen_page_reader")


def _article_ref(reference: str) -> Article:
    resolve = _READER.get(None)
    if resolve is None:
        raise pickle.UnpicklingError("a stored page names articles; read it with a PageReader")
    return resolve(reference)


@lru_cache(maxsize=64)
def _stored_sections(data: bytes) -> Sections:
    # Every page read back holds the same navigation: one object for all of them.
    return Sections(pickle.loads(data))


@lru_cache(maxsize=65536)
def _term_json(term: Term) -> str:
    # ASCII: one non-Latin-1 letter would make Python store the whole key at two bytes a character.
    return json.dumps([term.name, term.slug], ensure_ascii=True, separators=(",", ":"))


def _terms_json(article: Article) -> str:
    """The article's filed section, tags and authors as JSON, put together from each term's."""
    section = _term_json(article.section) if article.section else ""
    tags, authors = ",".join(map(_term_json, article.tags)), ",".join(map(_term_json, article.authors))
    return f"[[{section}],[{tags}],[{authors}]]"


def _terms(encoded: str) -> Terms:
    section, tags, authors = ([Term(name, slug) for name, slug in group] for group in json.loads(encoded))
    return (section[0] if section else None), tuple(tags), tuple(authors)


def _past(folder: str) -> str:
    """The least string after every path in `folder` (ending in a separator) or under it: the separator's successor
    in its place. SQLite orders text as UTF-8 bytes, which is the order of code points, as Python's."""
    return folder[:-1] + chr(ord(folder[-1]) + 1)


def _directly_in(path: str, folder: str) -> bool:
    """Whether `path`, which starts with `folder`, names a file in it rather than in a folder under it."""
    return path.find(os.sep, len(folder)) < 0


class KnownFiles(Mapping[str, tuple[str, str]]):
    """The files the last build read, as asked: (status, digest) by path, each when it is looked up, and the
    statuses of the folders whose files changed to compare with the scan's. A build after an edit
    looks up a few of an archive's 100,000 files, and reading them all took it a tenth of a second."""

    def __init__(self, cache: Cache, scanned: Mapping[str, str], changed: AbstractSet[str] | None) -> None:
        """`scanned`: this build's scan, in the order of its paths (as `source_statuses` and `rescanned` give
        it); `changed`: the folders whose files differ from the last build's (None: not known, every status
        is compared)."""
        self.cache, self.scanned, self.changed = cache, scanned, changed
        self._records: dict[str, tuple[str, str] | None] = {}
        self._digests = Digests(self)

    def changes(self) -> tuple[list[str], list[str]]:
        """The scanned files whose status is not the one kept (new files too), and the kept files the scan
        did not find; each in order."""
        if self.changed is None:
            kept = self.cache.file_statuses()
            return ([name for name, status in self.scanned.items() if kept.get(name) != status],
                    sorted(kept.keys() - self.scanned.keys()))
        names = list(self.scanned)
        edited: list[str] = []
        gone: list[str] = []
        for folder in sorted(self.changed):
            kept = self.cache.folder_statuses(folder)
            # The scan is in order: the folder's files lie between its name and `_past` it.
            here = names[bisect_left(names, folder):bisect_left(names, _past(folder))]
            edited += [name for name in here if _directly_in(name, folder) and kept.get(name) != self.scanned[name]]
            gone += [name for name in kept if name not in self.scanned]
        return sorted(edited), sorted(gone)

    def _record(self, path: str) -> tuple[str, str] | None:
        if path not in self._records:
            self._records[path] = self.cache.file_records([path]).get(path)
        return self._records[path]

    def __getitem__(self, path: str) -> tuple[str, str]:
        found = self._record(path)
        if found is None:
            raise KeyError(path)
        return found

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self._record(path) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._digests)

    def __len__(self) -> int:
        return len(self._digests)

    def digests(self) -> Digests:
        """Every file's digest: looked up one by one, and read at once when all are asked for."""
        return self._digests


class Digests(Mapping[str, str]):
    """`KnownFiles`' digests by path: a build that refiles reads them all (its every step goes over the
    archive); one that finds only scheduled stories changed looks up those alone."""

    def __init__(self, known: KnownFiles) -> None:
        self.known = known
        self._all: dict[str, str] | None = None

    def whole(self) -> dict[str, str]:
        if self._all is None:
            self._all = self.known.cache.all_file_digests()
        return self._all

    def __getitem__(self, path: str) -> str:
        return self._all[path] if self._all is not None else self.known[path][1]

    def __contains__(self, path: object) -> bool:
        return path in self.known

    def __iter__(self) -> Iterator[str]:
        return iter(self.whole())

    def __len__(self) -> int:
        return len(self.whole())

    def keys(self) -> KeysView[str]:
        return self.whole().keys()

    def items(self) -> ItemsView[str, str]:
        return self.whole().items()

    def values(self) -> ValuesView[str]:
        return self.whole().values()


class Fingerprinter:
    """Pickles pages with each article reduced to a reference (path, card key, and the terms it is filed
    under when they are not its own), and the navigation pickled once, and hashes them.

    A body edit leaves the card key alone, so listings that do not show bodies keep their fingerprint.
    An article whose body links to stories by their source files has their URLs (from `targets`) in
    its reference, so a page showing it changes when one of them moves; and names them, so an edit
    build finds it as it finds the pages naming the story that moved.
    """

    def __init__(self, cards: Mapping[str, str], targets: Mapping[str, str] | None = None) -> None:
        self.cards = cards
        self.targets = targets or {}
        # Keys of recently pickled articles by id (as their reductions, made once), each with its
        # article, which keeps the id its own.
        # Bounded: every article's key, kept, was a tenth of the build's memory at 100,000 articles.
        self._keys: dict[int, tuple[Article, tuple[Any, ...], tuple[str, ...]]] = {}
        # The navigation too, pickled once: its terms, pickled on every page, were a third of the pickling.
        self._sections: tuple[Sections, tuple[Any, ...]] | None = None
        self.dispatch: dict[type, Callable[[Any], Any]] = {**copyreg.dispatch_table, Article: self._reference,
                                                          Sections: self._navigation}
        # Source paths of the articles the last `dumps` named, and, marked LINKED, of the stories their bodies link to.
        self.named: set[str] = set()

    def _reference(self, article: Article) -> tuple[Any, ...]:
        known = self._keys.get(id(article))
        if known is None or known[0] is not article:
            if len(self._keys) >= KEY_MEMORY:
                self._keys.clear()
            # The terms are filed site-wide (one spelling per slug) and can change without the file:
            # named when the article is filed under spellings not its own (the card key has those),
            # and only then, for they were half of what an archive's stored pages held.
            # One string per article keeps pickling 15,000 pages in C.
            path = str(article.source_path)
            parts = [path, self.cards[article.digest], "" if article.spelled_as is None else _terms_json(article)]
            linked = tuple(link.target for link in article.links if link.source)
            if linked:
                parts.append(link_signature(article, self.targets))
            # Pages linked by a site-rooted path too, so an edit build finds who links to a page it removes.
            rooted = tuple(site_path(link, "/") for link in article.links if not link.source and link.target.startswith("/"))
            known = (article, (_article_ref, ("\0".join(parts),)),
                     (path, *(LINKED + target for target in (*linked, *rooted))))
            self._keys[id(article)] = known
        self.named.update(known[2])
        return known[1]

    def _navigation(self, sections: Sections) -> tuple[Any, ...]:
        known = self._sections
        if known is None or known[0] is not sections:
            known = self._sections = (sections, (_stored_sections, (_pickle_plainly(tuple(sections)),)))
        return known[1]

    def dumps(self, value: object) -> bytes:
        self.named = set()
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        # A dispatch entry for Article alone keeps everything else in the C pickler: fast at 15,000 pages.
        pickler.dispatch_table = self.dispatch
        # No memo: equal values must give equal bytes whether or not they are the same object, and a
        # page's objects are shared differently here and in a worker that unpickled a copy of it.
        pickler.fast = True
        pickler.dump(value)
        return buffer.getvalue()


class PageReader:
    """Reads pages as `Fingerprinter` pickled them, asking `article(path, card key)` for each article they name.

    A reference is resolved once (up to `remember` of them), however many pages name it.
    """

    def __init__(self, article: Callable[[str, str], Article], remember: int | None = None) -> None:
        self.article = article
        self._resolve = lru_cache(maxsize=remember)(self._resolve_uncached)

    def _resolve_uncached(self, key: str) -> Article:
        # After the terms, the URLs of stories the body links to: the page is rendered with them anew.
        path, card, encoded = key.split("\0", 3)[:3]
        found = self.article(path, card)
        return filed_as(found, _terms(encoded)) if encoded else found

    def load(self, data: bytes) -> Any:
        token = _READER.set(self._resolve)
        try:
            return pickle.loads(data)
        finally:
            _READER.reset(token)


def _write_out(path: Path) -> None:
    """Force what the system holds of the file at `path` to disk; only ever early, so a failure is no matter."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def fingerprint(salt: str, data: bytes) -> str:
    return hashlib.sha256(salt.encode() + b"\0" + data).hexdigest()
