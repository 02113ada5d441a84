"""The scan: every article file under a content folder with its status, the facts that tell a file changed
without reading it (size, times, inode, and those of its sidecars and the local files it used).

Apart from loading, and light to import: a build starts it before Python has imported the rest of
sitegen (see `EarlyScan`).
"""

from __future__ import annotations

import marshal
import os
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path

# The folder of a site that holds its articles.
CONTENT_DIR = "seeds"
# The suffixes of article files (see `sitegen.load.READERS`), and of a wire copy's sidecar.
ARTICLE_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
SIDECAR_SUFFIXES = (".yaml", ".yml")
# Article files from which a scan has a forked process stat half of them (see `_statuses`).
SPLIT_STATUSES = 20_000


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
            if not dot or suffix not in ARTICLE_SUFFIXES:
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
    reading, writing = os.pipe()
    try:
        child = os.fork()
    except OSError:
        os.close(reading)
        os.close(writing)
        return _folder_statuses(folders, prefix)
    if child == 0:
        # The child only stats, writes and leaves: nothing of the parent's (buffers, handlers) runs here.
        code = 1
        try:
            os.close(reading)
            view = memoryview(marshal.dumps(_folder_statuses(second, prefix)))
            while view:
                view = view[os.write(writing, view):]
            code = 0
        finally:
            os._exit(code)
    os.close(writing)
    try:
        found = _folder_statuses(first, prefix)
        parts = []
        while chunk := os.read(reading, 1 << 20):
            parts.append(chunk)
    finally:
        os.close(reading)
        _, status = os.waitpid(child, 0)
    rest = marshal.loads(b"".join(parts)) if status == 0 and parts else None
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
        elif suffix.lower() not in ARTICLE_SUFFIXES:
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


class EarlyScan:
    """`source_statuses` begun by a forked process as the command starts, while Python imports the rest of
    sitegen (0.13 s), before the settings that start every status are known (`statuses` adds them).

    At 100,000 articles the scan is 0.3 s of every build, an edit's included; its forked process
    stats on the second core while this one imports on the first.
    """

    def __init__(self, root: str, child: int, reading: int) -> None:
        self.root = root
        self._child: tuple[int, int] | None = (child, reading)

    @staticmethod
    def start(content_dir: Path) -> EarlyScan | None:
        """The scan of `content_dir` begun; None where processes cannot be forked."""
        if not hasattr(os, "fork"):
            return None
        reading, writing = os.pipe()
        try:
            child = os.fork()
        except OSError:
            os.close(reading)
            os.close(writing)
            return None
        if child == 0:  # pragma: no cover - the forked process only scans, answers and leaves
            code = 1
            try:
                os.close(reading)
                view = memoryview(marshal.dumps(_statuses(_folders(str(content_dir)), "")))
                while view:
                    view = view[os.write(writing, view):]
                code = 0
            finally:
                os._exit(code)
        os.close(writing)
        return EarlyScan(str(content_dir), child, reading)

    def statuses(self, content_dir: Path, prefix: str, assets: Mapping[str, tuple[str, ...]] | None = None,
                 ) -> dict[str, str] | None:
        """What `source_statuses(content_dir, prefix, assets)` gives, of the files as they were when the scan
        began; None when it was of another folder, or failed."""
        found = self._take()
        if found is None or str(content_dir) != self.root:
            return None
        assets = assets or {}
        return {path: with_assets(prefix + state, assets[path]) if path in assets else prefix + state
                for path, state in found}

    def close(self) -> None:
        """Wait for the scan, if it is not taken, and leave it."""
        self._take()

    def _take(self) -> list[tuple[str, str]] | None:
        if self._child is None:
            return None
        child, reading = self._child
        self._child = None
        parts = []
        try:
            while chunk := os.read(reading, 1 << 20):
                parts.append(chunk)
        finally:
            os.close(reading)
            _, status = os.waitpid(child, 0)
        try:
            found = marshal.loads(b"".join(parts)) if status == 0 and parts else None
        except (EOFError, ValueError, TypeError):
            return None
        return found if isinstance(found, list) else None
