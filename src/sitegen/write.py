"""Writing: pages go to a staging folder that is swapped into place whole, never half-written."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from sitegen.errors import BuildError
from sitegen.urls import output_path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, so a build removes every leftover itself, as it did
    fcntl = None  # type: ignore[assignment]

_RENAME_EXCHANGE = 2
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
_AT_FDCWD = -100


def _relative(url: str) -> str:
    """Where page `url` goes, relative to the output folder; never outside it."""
    relative = output_path(url)
    # Checked on the string: resolving every path costs seconds at archive scale.
    if relative.startswith("/") or ".." in relative.split("/") or "\0" in relative:
        raise BuildError(f"refusing to write outside the output folder: {url}")
    return relative


class Output:
    """A folder that pages are written into, one file at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Folders this object made or found, normalised: each is made once, with one mkdir when only it is missing.
        self._folders: set[str] = set()

    def target(self, url: str) -> Path:
        return self.path / _relative(url)

    def _folder(self, folder: str) -> None:
        folder = os.path.normpath(folder)
        if folder not in self._folders:
            try:
                os.mkdir(folder)
            except FileNotFoundError:
                os.makedirs(folder, exist_ok=True)
            except FileExistsError:
                pass
            self._folders.add(folder)

    def write(self, url: str, content: str | bytes) -> Path:
        """Write one page; an unchanged file is left alone, a changed one replaced in one step."""
        data = content.encode("utf-8") if isinstance(content, str) else content
        target = self.target(url)
        if target.is_file() and target.stat().st_size == len(data) and target.read_bytes() == data:
            return target
        self._folder(str(target.parent))
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, target)
        return target

    def write_new(self, url: str, data: bytes) -> None:
        """Write a page into a folder that is not served yet and has no file there: no checks, no temporary."""
        # On strings and descriptors: with paths and file objects a page cost several times the CPU.
        target = os.path.join(self.path, _relative(url))
        self._folder(os.path.dirname(target))
        descriptor = os.open(target, _NEW_FILE, 0o666)
        try:
            view, written = memoryview(data), 0
            while written < len(data):
                written += os.write(descriptor, view[written:])
        finally:
            os.close(descriptor)

    def link(self, url: str, existing: Path) -> None:
        """Put an unchanged file from the previous build in place without rewriting it."""
        target = self.target(url)
        self._folder(str(target.parent))
        try:
            os.link(existing, target)
        except OSError:
            shutil.copyfile(existing, target)

    def remove(self, url: str) -> None:
        """Delete one page and any folders it leaves empty."""
        target = self.target(url)
        target.unlink(missing_ok=True)
        folder = target.parent
        while folder != self.path and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            self._folders.discard(os.path.normpath(folder))
            folder = folder.parent

    def copy_file(self, source: Path, relative: str) -> None:
        self.write("/" + relative, source.read_bytes())

    def copy_tree(self, source: Path, prefix: str) -> int:
        """Copy files under `source` to `prefix` in the output; later copies override earlier ones."""
        count = 0
        for path in static_files(source):
            # Bytes, not shutil.copy2: a source file's mtime must not leak into the output.
            self.copy_file(path, f"{prefix}/{path.relative_to(source).as_posix()}")
            count += 1
        return count


def static_files(source: Path) -> list[Path]:
    """The files of a static folder, hidden ones excepted, in a stable order."""
    return [p for p in sorted(source.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(source).parts)]


class Staging(Output):
    """A fresh folder beside the output for the pages a build renders.

    `commit` makes it the whole new site, swapped in at once; `commit_patch` moves just its files
    into the output, for builds that change few. Either way nothing in the output is touched
    before every page has been rendered, and `discard` throws the folder away.
    """

    def __init__(self, output: Path) -> None:
        self.output = output.resolve()
        self.output.parent.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(self.output)
        # A name no other build has had: the site a swap replaces keeps its staging folder's name
        # while it is deleted in the background, maybe still when this process builds again.
        super().__init__(_unique(self.output, "staging"))
        self.path.mkdir()

    def commit(self) -> None:
        """Put the staged site in place of the output in one step where the OS allows it."""
        if self.output.is_dir() and not self.output.is_symlink():
            if _exchange(self.path, self.output):
                _remove_in_background(self.path)
                return
            old = _unique(self.output, "old")
            os.rename(self.output, old)
            os.rename(self.path, self.output)
            _remove_in_background(old)
        elif self.output.exists():
            raise BuildError(f"{self.output} exists and is not a folder", self.output, None,
                             "remove it or choose another --output")
        else:
            os.rename(self.path, self.output)

    def commit_patch(self, removed: list[str]) -> int:
        """Move the staged files that differ from the output's into it, and delete `removed`; returns files moved.

        A journal, written before the first move, lets the next build finish a patch cut short.
        """
        staged = []
        for folder, _, names in os.walk(self.path):
            for name in names:
                relative = os.path.relpath(os.path.join(folder, name), self.path)
                if _same_file(os.path.join(self.path, relative), os.path.join(self.output, relative)):
                    os.unlink(os.path.join(self.path, relative))
                else:
                    staged.append(relative)
        journal = _journal(self.output)
        temporary = journal.with_name(journal.name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as stream:
            json.dump({"staging": self.path.name, "staged": sorted(staged), "removed": removed}, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, journal)
        _apply_patch(self.output)
        return len(staged)

    def discard(self) -> None:
        """Throw the staged files away, unless a patch began to move them: the next build finishes it."""
        if not _journal(self.output).is_file():
            shutil.rmtree(self.path, ignore_errors=True)


def _unique(output: Path, kind: str) -> Path:
    """A folder beside the output for a staged or replaced site, named as a leftover of its `kind`."""
    return output.parent / f".{output.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex}"


def _same_file(a: str, b: str) -> bool:
    try:
        if os.path.getsize(a) != os.path.getsize(b):
            return False
        with open(a, "rb") as first, open(b, "rb") as second:
            return first.read() == second.read()
    except OSError:
        return False


def temporary_cache_name(output: Path) -> str:
    """The folder beside the output for a build's throwaway cache (`--no-cache` keeps bodies there)."""
    return f".{output.name}.cache-{os.getpid()}"


def _journal(output: Path) -> Path:
    return output.parent / f".{output.name}.patch-journal"


def _apply_patch(output: Path) -> None:
    """Move a journalled patch into the output; safe to run again after an interruption."""
    journal = _journal(output)
    plan = json.loads(journal.read_text(encoding="utf-8"))
    staging = output.parent / plan["staging"]
    live = Output(output)
    for relative in plan["staged"]:
        source = staging / relative
        if source.is_file():
            target = live.target("/" + relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
    for url in plan["removed"]:
        live.remove(url)
    journal.unlink()
    shutil.rmtree(staging, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with Linux renameat2(RENAME_EXCHANGE); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def _remove_in_background(folder: Path) -> None:
    """Delete the replaced site without making the build wait: 15,000 folders take seconds to remove.

    The folder keeps a leftover's name, so if this is cut short the next build removes it. Until
    then the deleting process holds a lock beside it, so the next build leaves it alone rather
    than delete it again, and wait for that, first.
    """
    lock = _lock_of(folder)
    if fcntl is None:
        _delete_later(folder, [])
        return
    try:
        fd = os.open(lock, os.O_CREAT | os.O_WRONLY, 0o644)
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        # The child inherits the locked descriptor: the lock lasts as long as the deletion does.
        _delete_later(folder, [fd], lock)
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        lock.unlink(missing_ok=True)
    finally:
        os.close(fd)


def _delete_later(folder: Path, keep: list[int], lock: Path | None = None) -> None:
    """Start a process that deletes `folder` (then `lock`), holding the descriptors `keep` while it runs."""
    script = "import os, shutil, sys; shutil.rmtree(sys.argv[1], ignore_errors=True)"
    script += "; os.unlink(sys.argv[2])" if lock else ""
    try:
        subprocess.Popen([sys.executable, "-c", script, str(folder), *([str(lock)] if lock else [])],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, pass_fds=tuple(keep))
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        if lock:
            lock.unlink(missing_ok=True)


def _lock_of(folder: Path) -> Path:
    return folder.with_name(folder.name + ".lock")


def _being_removed(folder: Path) -> bool:
    """Whether a background deletion holds the folder's lock (see `_remove_in_background`)."""
    if fcntl is None:
        return False
    try:
        fd = os.open(_lock_of(folder), os.O_WRONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def _remove_leftovers(output: Path) -> None:
    """A patch cut short is finished; staging or old folders left by a killed build are removed.

    One that a background deletion is still removing is left to it.
    """
    if _journal(output).is_file():
        try:
            _apply_patch(output)
        except (OSError, ValueError, KeyError) as error:
            raise BuildError(f"could not finish the interrupted update of {output}: {error}", output, None,
                             f"delete {output} and {_journal(output)}, then build again") from None
    for leftover in output.parent.glob(f".{output.name}.cache-*"):
        if leftover.name != temporary_cache_name(output):
            shutil.rmtree(leftover, ignore_errors=True)
    for kind in ("staging", "old"):
        for leftover in output.parent.glob(f".{output.name}.{kind}-*"):
            folder = leftover.with_suffix("") if leftover.suffix == ".lock" else leftover
            if not _being_removed(folder):
                shutil.rmtree(folder, ignore_errors=True)
                _lock_of(folder).unlink(missing_ok=True)
