"""Loading: every source file in a content folder becomes an `Article` and its `Body`, or an error naming it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from sitegen import code_identity
from sitegen.assets.publish import ArticleAssets, MediaSettings, combine
from sitegen.errors import ContentError, SitegenError
from sitegen.load.article import LoadSettings
from sitegen.load.markdown import read_markdown
from sitegen.load.metadata import Metadata, key_line, parse_metadata, parse_yaml
from sitegen.load.source import decode_source, split_front_matter
from sitegen.load.wirecopy import read_wire_copy
from sitegen.model import Article, Body
from sitegen.scan import SIDECAR_SUFFIXES, with_assets

Loaded = tuple[Article, Body]
# What the cache keeps of a source file: (status, digest), or (status, digest, source key, local files used).
FileRecord = tuple[str, str] | tuple[str, str, str, tuple[str, ...]]
# A reader gets the file, its text, its metadata, the line its text starts on, the settings, and the
# collector of the local files it uses (which knows where the metadata named its image).
Reader = Callable[[Path, str, Metadata, int, LoadSettings, ArticleAssets], Loaded]
READERS: dict[str, Reader] = {".txt": read_wire_copy, ".md": read_markdown, ".markdown": read_markdown}


@dataclass(frozen=True)
class LoadResult:
    articles: tuple[Article, ...]
    errors: tuple[SitegenError, ...]
    # Bodies by article digest, when they are held in memory rather than in the build cache.
    bodies: Mapping[str, Body] = field(default_factory=dict)


def source_names(content_dir: Path) -> list[str]:
    """Article files under `content_dir` in a stable order; hidden files and folders are skipped."""
    found = []
    # os.walk rather than Path.rglob: several times faster over an archive of 100,000 files.
    for folder, subfolders, files in os.walk(content_dir):
        subfolders[:] = [name for name in subfolders if not name.startswith((".", "_"))]
        found += [os.path.join(folder, name) for name in files
                  if not name.startswith((".", "_")) and os.path.splitext(name)[1].lower() in READERS]
    return sorted(found)


def sources(content_dir: Path) -> Iterator[Path]:
    """`source_names` as paths."""
    return map(Path, source_names(content_dir))


def _sidecar(path: Path) -> Path | None:
    for suffix in SIDECAR_SUFFIXES:
        candidate = path.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def load_article(path: Path, settings: LoadSettings, key: str = "") -> Loaded:
    """Read one source file, its front matter and, for wire copy, a sidecar `.yaml` beside it.

    `key` is the `source_key` of the file, or "" to take it of the bytes read. The article's digest
    is the key with the bytes of every local file it uses (see `ArticleAssets.digest`).
    """
    data = path.read_bytes()
    front, body, first_line = split_front_matter(decode_source(data, path), path)
    meta_path, meta_text, meta_line = path, front or "", 2
    sidecar = _sidecar(path) if path.suffix.lower() == ".txt" else None
    sidecar_data = None
    if sidecar is not None:
        if front is not None:
            raise ContentError(f"has front matter and a sidecar {sidecar.name}", path, 1,
                               "keep the metadata in one place")
        sidecar_data = sidecar.read_bytes()
        meta_path, meta_text, meta_line = sidecar, decode_source(sidecar_data, sidecar, allow_empty=True), 1
    meta = parse_metadata(parse_yaml(meta_text, meta_path, meta_line), meta_path, meta_text, meta_line, settings.tz)
    # An image named in a sidecar that is missing is the sidecar's mistake, at its line.
    assets = ArticleAssets(path, settings.media or MediaSettings(path.parent),
                           (meta_path, key_line(meta_text, meta_line, "image")) if meta.image else None)
    article, article_body = READERS[path.suffix.lower()](path, body, meta, first_line, settings, assets)
    key = key or _digest(path, settings, data, sidecar_data)
    return replace(article, digest=assets.digest(key), assets=tuple(assets.used), media=tuple(assets.names)), article_body


@lru_cache(maxsize=8)
def _settings_key(settings: LoadSettings) -> str:
    return f"{code_identity()}\0{settings!r}\0"


def source_key(path: Path, settings: LoadSettings) -> str:
    """A hash of what an article file is made from: its bytes, its sidecar, the settings, sitegen.

    It is the article's digest unless the article uses local files (see `source_digest`).
    """
    sidecar = _sidecar(path) if path.suffix.lower() == ".txt" else None
    return _digest(path, settings, path.read_bytes(), sidecar.read_bytes() if sidecar is not None else None)


def source_digest(path: Path, settings: LoadSettings, used: tuple[str, str, tuple[str, ...]] | None = None,
                  ) -> tuple[str, str]:
    """(source key, digest) of an article file, without parsing it.

    `used` is (key, digest, local files) as the last build read it. While its key is unchanged it
    uses the same files, so the digest is taken of their bytes now; a new key parses to a digest
    that is its key unless the article turns out to use local files.
    """
    key = source_key(path, settings)
    if used is None or used[0] != key or not used[2]:
        return key, key
    try:
        return key, combine(key, {asset: _file_hash(asset) for asset in used[2]})
    except OSError:
        # A file it used is gone: no cached article matches, and parsing says what is wrong.
        return key, key + "-missing"


def _file_hash(path: str) -> str:
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def _digest(path: Path, settings: LoadSettings, data: bytes, sidecar: bytes | None) -> str:
    """`source_digest` of bytes already read."""
    digest = hashlib.sha256(f"{_settings_key(settings)}{path}\0".encode())
    digest.update(data)
    if sidecar is not None:
        digest.update(b"\0sidecar\0" + sidecar)
    return digest.hexdigest()


def file_record(status: str, article: Article, key: str, settings: LoadSettings) -> FileRecord:
    """What the cache keeps of an article's file: with its key and the files used, when it uses local files.

    `key` "": take it of the file now (a worker took it, and only such an article needs it).
    """
    if not article.assets:
        return (with_assets(status, ()), article.digest)
    return (with_assets(status, article.assets), article.digest, key or source_key(article.source_path, settings),
            article.assets)


def load_or_error(path: Path, settings: LoadSettings, key: str = "") -> Loaded | SitegenError:
    """One article and its body, or the error that says why it could not be read; never an exception.

    Without a `key`, it is taken of the bytes read.
    """
    try:
        return load_article(path, settings, key)
    except SitegenError as error:
        return error
    except OSError as error:
        return ContentError(f"cannot be read: {error.strerror}", path)
    except Exception as error:  # noqa: BLE001 - one unforeseen input must not sink the whole site
        return ContentError(f"could not be read ({type(error).__name__}: {error})", path, None,
                            "this is a bug in sitegen; please report it with the file")


def collect(results: Iterable[Article | Loaded | SitegenError]) -> LoadResult:
    """Articles and errors apart, in the given order; bodies that came along are kept by digest."""
    articles: list[Article] = []
    errors: list[SitegenError] = []
    bodies: dict[str, Body] = {}
    for result in results:
        if isinstance(result, SitegenError):
            errors.append(result)
        elif isinstance(result, Article):
            articles.append(result)
        else:
            articles.append(result[0])
            bodies[result[0].digest] = result[1]
    return LoadResult(tuple(articles), tuple(errors), bodies)


def load_content(content_dir: Path, settings: LoadSettings) -> LoadResult:
    """Load every article; a broken one becomes an error and never stops the others."""
    return collect([load_or_error(path, settings) for path in sources(content_dir)])
