"""The build cache: parsed articles by content hash and page fingerprints, in one SQLite file.

It lives in `.sitegen-cache/` beside the site, is safe to delete, and is never trusted blindly:
an unreadable file is replaced, an undecodable entry is a miss.
"""

from __future__ import annotations

import copyreg
import hashlib
import io
import json
import pickle
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sitegen import code_identity
from sitegen.model import Article

CACHE_DIR = ".sitegen-cache"
SCHEMA = "sitegen cache 1"


class Cache:
    """Articles by digest, and the fingerprint of every page of the last build."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "cache.sqlite3"
        try:
            self.db = self._open()
        except sqlite3.DatabaseError:
            # A truncated or foreign file: start afresh rather than trust any of it.
            self.path.unlink(missing_ok=True)
            self.db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        schema = f"{SCHEMA} {code_identity()}"
        if row is None or row[0] != schema:
            # Another sitegen version (or its code changed) wrote this cache: nothing in it is trusted.
            db.executescript("DROP TABLE IF EXISTS articles; DROP TABLE IF EXISTS pages;")
            db.execute("DELETE FROM meta")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (schema,))
        db.execute("CREATE TABLE IF NOT EXISTS articles (digest TEXT PRIMARY KEY, value BLOB)")
        db.execute("CREATE TABLE IF NOT EXISTS pages (url TEXT PRIMARY KEY, fingerprint TEXT)")
        return db

    def articles(self, digests: Iterable[str]) -> dict[str, Article]:
        """The cached articles among `digests`; a damaged entry is simply absent."""
        found: dict[str, Article] = {}
        wanted = list(digests)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            try:
                rows = self.db.execute(f"SELECT digest, value FROM articles WHERE digest IN ({marks})", chunk)
                for digest, value in rows:
                    try:
                        article = pickle.loads(value)
                    except Exception:  # noqa: BLE001 - a corrupt entry is a miss, whatever the error
                        continue
                    if isinstance(article, Article) and article.digest == digest:
                        found[digest] = article
            except sqlite3.DatabaseError:
                return found
        return found

    def store_articles(self, articles: Iterable[Article]) -> None:
        rows = [(a.digest, pickle.dumps(a, protocol=pickle.HIGHEST_PROTOCOL)) for a in articles]
        self._write("INSERT OR REPLACE INTO articles VALUES (?, ?)", rows)

    def prune_articles(self, keep: set[str]) -> None:
        """Forget articles no longer in the site, so the cache does not grow without end."""
        try:
            stored = {row[0] for row in self.db.execute("SELECT digest FROM articles")}
        except sqlite3.DatabaseError:
            return
        self._write("DELETE FROM articles WHERE digest = ?", [(d,) for d in stored - keep])

    def fingerprints(self, output: Path) -> dict[str, str]:
        """Page fingerprints of the last build, if it was written to `output`."""
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'output'").fetchone()
            if row is None or row[0] != str(output.resolve()):
                return {}
            return dict(self.db.execute("SELECT url, fingerprint FROM pages"))
        except sqlite3.DatabaseError:
            return {}

    def store_fingerprints(self, output: Path, fingerprints: dict[str, str]) -> None:
        try:
            self.db.execute("DELETE FROM meta WHERE key = 'last_build'")
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM pages")
            self.db.executemany("INSERT INTO pages VALUES (?, ?)", fingerprints.items())
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('output', ?)", (str(output.resolve()),))
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")

    def last_build(self) -> dict[str, Any] | None:
        """What the last complete, error-free build recorded about its inputs and results."""
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'last_build'").fetchone()
            value = json.loads(row[0]) if row else None
        except (sqlite3.DatabaseError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def store_last_build(self, value: dict[str, Any]) -> None:
        self._write("INSERT OR REPLACE INTO meta VALUES ('last_build', ?)", [(json.dumps(value),)])

    def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        try:
            self.db.execute("BEGIN")
            self.db.executemany(sql, rows)
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")

    def close(self) -> None:
        self.db.close()


class Fingerprinter:
    """Hashes pages' template, context and surroundings, with each article reduced to a short token."""

    def __init__(self) -> None:
        self._tokens: dict[int, tuple[Any, ...]] = {}
        self._keep: list[Article] = []  # keeps ids stable while tokens are cached by id
        self.dispatch = {**copyreg.dispatch_table, Article: self._token}

    def _token(self, article: Article) -> tuple[Any, ...]:
        token = self._tokens.get(id(article))
        if token is None:
            # The digest covers the source; the terms are filed site-wide and can change without it.
            terms = [t.slug + "=" + t.name for t in (*((article.section,) if article.section else ()),
                                                     *article.tags, *article.authors)]
            token = (str, (article.digest + "|" + "|".join(terms),))
            self._tokens[id(article)] = token
            self._keep.append(article)
        return token

    def __call__(self, parts: tuple[Any, ...]) -> str:
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        # A dispatch entry for Article alone keeps everything else in the C pickler: fast at 15,000 pages.
        pickler.dispatch_table = self.dispatch
        pickler.dump(parts)
        return hashlib.sha256(buffer.getvalue()).hexdigest()
