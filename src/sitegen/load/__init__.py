"""Loading: every source file in a content folder becomes an `Article` and its `Body`, or an error naming it."""

from __future__ import annotations

import hashlib
import marshal
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from sitegen import code_identity
from sitegen.assets.publish import ArticleAssets, MediaSettings, combine
from sitegen.errors import ContentError, SitegenError
from sitegen.forked import Forked
from sitegen.load.article import LoadSettings
from sitegen.load.markdown import read_markdown
from sitegen.load.metadata import Metadata, key_line, parse_metadata, parse_yaml
from sitegen.load.source import decode_source, split_front_matter
from sitegen.load.wirecopy import read_wire_copy
from sitegen.model import Article, Body

Loaded = tuple[Article, Body]
# What the cache keeps of a source file: (status, digest), or (status, digest, source key, local files used).
FileRecord = tuple[str, str] | tuple[str, str, str, tuple[str, ...]]
# A reader gets the file, its text, its metadata, the line its text starts on, the settings, and the
# collector of the local files it uses (which knows where the metadata named its image).
Reader = Callable[[Path, str, Metadata, int, LoadSettings, ArticleAssets], Loaded]
READERS: dict[str, Reader] = {".txt": read_wire_copy, ".md": read_markdown, ".markdown": read_markdown}
SIDECAR_SUFFIXES = (".yaml", ".yml")
# Article files from which a scan has a forked process stat half of them (see `_states`).
SPLIT_STATUSES = 20_000


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


def file_status(path: str) -> str:
    """Size, times and inode of a file, or "-" when it is missing."""
    try:
        result = os.stat(path)
    except OSError:
        return "-"
    return f"{result.st_size}:{result.st_mtime_ns}:{result.st_ctime_ns}:{result.st_ino}"


# Where, in a status, the statuses of the local files an article uses begin.
ASSETS_MARK = "|@"


def with_assets(status: str, assets: tuple[str, ...]) -> str:
    """`status` (of the file alone, or with the files it used before) with the statuses of `assets` instead."""
    own = status.split(ASSETS_MARK, 1)[0]
    return own + ASSETS_MARK + ",".join(map(file_status, assets)) if assets else own


def source_statuses(content_dir: Path, prefix: str, assets: Mapping[str, tuple[str, ...]] | None = None) -> dict[str, str]:
    """`source_names` with each file's status: `prefix`, then size, times and inode of it and its sidecars.

    ctime is in it because no tool can set it back, so a rewrite that keeps mtime still shows. A
    missing sidecar is "-". One walk with `os.scandir` that stats only what exists: at archive scale
    this walk is most of what a build after an edit costs before it reads anything. An article that
    used local files last time (`assets`, by path) has their statuses too: a replaced photo is an edit.
    """
    # The walk goes in the paths' order, so the statuses come out sorted (sorting them was an eighth of the scan).
    found = _statuses(_folders(str(content_dir)), prefix)
    if assets:
        return {path: with_assets(state, assets[path]) if path in assets else state for path, state in found}
    return dict(found)


def folder_of(path: str) -> str:
    """The folder of a scanned file's path, as `source_statuses` spells it: ending in a separator."""
    return path[: path.rfind(os.sep) + 1]


# A folder's path (ending in a separator), the names of the files in it to look at, and every name in it.
Folder = tuple[str, list[str], list[str]]


def _folders(root: str) -> list[Folder]:
    """Every folder under `root` with its files, in the order of their paths (a folder more than once,
    around its subfolders); hidden folders and files, and those named with a leading underscore, are
    passed over, and so are links to folders (as `os.walk` does)."""
    folders: list[Folder] = []

    def walk(folder: str) -> None:
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError:
            return
        names = [entry.name for entry in entries]
        files, subfolders = [], []
        for entry in entries:
            name = entry.name
            if name.startswith((".", "_")):
                continue
            try:
                is_folder = entry.is_dir()
            except OSError:
                is_folder = False
            if not is_folder:
                files.append(name)
            elif not entry.is_symlink():
                subfolders.append(name)
        base = os.path.join(folder, "")
        if not subfolders:
            folders.append((base, sorted(files), names))
            return
        # A subfolder's paths sort as its name with the separator after it would among the files.
        run: list[str] = []
        for key in sorted([*files, *(name + os.sep for name in subfolders)]):
            if key.endswith(os.sep):
                if run:
                    folders.append((base, run, names))
                    run = []
                walk(base + key[:-1])
            else:
                run.append(key)
        if run:
            folders.append((base, run, names))

    walk(root)
    return folders


def _folder_statuses(folders: list[Folder], prefix: str) -> list[tuple[str, str]]:
    """Each article file of `folders` with its status (see `_state`)."""
    found: list[tuple[str, str]] = []
    # At 100,000 files each step here counts: Markdown's status is made inline, wire copy's by `_state`.
    append, stat = found.append, os.stat
    for base, files, names in folders:
        # Lower case, so that a case-insensitive file system's sidecar is still found; made only for wire copy.
        present: AbstractSet[str] | None = None
        for name in files:
            stem, dot, suffix = name.rpartition(".")
            suffix = "." + suffix.lower()
            if not dot or suffix not in READERS:
                continue
            path = base + name
            if suffix == ".txt":
                if present is None:
                    present = {other.lower() for other in names}
                append((path, _state(path, stem, suffix, present, prefix)))
                continue
            try:
                result = stat(path)
            except OSError:
                append((path, f"{prefix}|-"))
                continue
            append((path, f"{prefix}|{result.st_size}:{result.st_mtime_ns}:{result.st_ctime_ns}:{result.st_ino}"))
    return found


def _state(path: str, stem: str, suffix: str, present: AbstractSet[str], prefix: str) -> str:
    """An article file's status: `prefix`, its own, and for wire copy its sidecars' (`present`: names beside it)."""
    if suffix != ".txt":
        return f"{prefix}|{file_status(path)}"
    stem = stem.lower()
    sidecars = "|".join(file_status(path[:-4] + s) if stem + s in present else "-" for s in SIDECAR_SUFFIXES)
    return f"{prefix}|{file_status(path)}|{sidecars}"


def _statuses(folders: list[Folder], prefix: str) -> list[tuple[str, str]]:
    """`_folder_statuses`; past SPLIT_STATUSES files, those of the second half of the folders taken by a forked
    process.

    A status is a stat call, and at 100,000 articles those were half a second of every build: a second
    core takes half of them, and of the work of telling articles apart from other files.
    """
    total = sum(len(files) for _, files, _ in folders)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if total < SPLIT_STATUSES or not hasattr(os, "fork") or cores < 2:
        return _folder_statuses(folders, prefix)
    first, second = _halves(folders, total // 2)
    forked = Forked.start(lambda: _folder_statuses(second, prefix), marshal.dumps)
    if forked is None:
        return _folder_statuses(folders, prefix)
    try:
        found = _folder_statuses(first, prefix)
    finally:
        rest = forked.answer(marshal.loads)
    if not isinstance(rest, list):
        # The forked process failed: its half is statted here.
        rest = _folder_statuses(second, prefix)
    return found + rest


def _halves(folders: list[Folder], half: int) -> tuple[list[Folder], list[Folder]]:
    """`folders` cut where `half` of their files come before, within a folder if need be (a flat archive)."""
    seen = 0
    for number, (base, files, names) in enumerate(folders):
        if seen + len(files) > half:
            cut = half - seen
            return [*folders[:number], (base, files[:cut], names)], [(base, files[cut:], names), *folders[number + 1:]]
        seen += len(files)
    return folders, []


def rescanned(previous: Mapping[str, str], changed: Iterable[Path], content_dir: Path, prefix: str,
              assets: Mapping[str, tuple[str, ...]]) -> dict[str, str] | None:
    """`source_statuses` from the last scan and the paths changed since (absolute, as a watcher reports
    them), restating those alone; None when only a whole scan can tell (a folder moved, a photo changed).
    """
    root, spelled = content_dir.resolve(), str(content_dir)
    used = {asset for files in assets.values() for asset in files}
    folders: set[str] | None = None
    statuses = dict(previous)
    added = False
    for path in changed:
        if str(path) in used:
            return None
        try:
            inside = path.relative_to(root)
        except ValueError:
            continue
        if not inside.parts:
            # The content folder itself made, moved or removed (its own "modified" events are not
            # told): what it holds now only a whole scan can say.
            return None
        if any(part.startswith((".", "_")) for part in inside.parts):
            continue
        name = os.path.join(spelled, *inside.parts)
        if os.path.isdir(path):
            # A folder's own event comes with a file written in it; a folder new to the scan was moved in.
            folders = folders if folders is not None else {os.path.dirname(known) for known in statuses}
            if name in folders:
                continue
            return None
        stem, suffix = os.path.splitext(name)
        if suffix.lower() in SIDECAR_SUFFIXES:
            name, suffix = stem + ".txt", ".txt"
        elif suffix.lower() not in READERS:
            if not os.path.exists(path) and any(known.startswith(name + os.sep) for known in statuses):
                return None
            continue
        if not os.path.isfile(name):
            statuses.pop(name, None)
            continue
        folder = os.path.dirname(name)
        present = {entry.lower() for entry in os.listdir(folder)} if suffix.lower() == ".txt" else frozenset()
        state = _state(name, os.path.basename(stem), suffix.lower(), present, prefix)
        added = added or name not in statuses
        statuses[name] = with_assets(state, assets[name]) if name in assets else state
    return dict(sorted(statuses.items())) if added else statuses


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
