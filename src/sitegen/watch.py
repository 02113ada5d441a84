"""Watching the site folder: file events collected and handed over in settled batches."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers.api import BaseObserver, ObservedWatch

SETTLE_SECONDS = 0.03
MAX_BATCH_SECONDS = 1.0


class Watcher(FileSystemEventHandler):
    """Collects file events and hands them over in batches, once the burst has settled."""

    def __init__(self, ignore: list[Path], on_batch: Callable[[set[Path]], None], ignore_prefixes: tuple[str, ...] = (),
                 ignore_files: frozenset[tuple[int, int]] = frozenset()) -> None:
        self.ignore = [p.resolve() for p in ignore]
        # Paths starting with these (a build's staging folders beside its output, `.build.staging-…`) too.
        self.ignore_prefixes = ignore_prefixes
        # Files by identity (device, inode): the server's own log (see `own_output`), wherever it is.
        self.ignore_files = ignore_files
        self.on_batch = on_batch
        self.pending: set[Path] = set()
        self.lock = threading.Condition()
        self.last_event = 0.0
        self.first_event = 0.0
        self.stopped = False
        self.thread = threading.Thread(target=self._run, name="sitegen-rebuild", daemon=True)
        self.thread.start()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        # A folder is "modified" when a file in it comes or goes, which that file's own event tells; the
        # site folder is, by each build's staging folder, and took every build a second one for nothing.
        if event.is_directory and event.event_type == "modified":
            return
        paths = [event.src_path, getattr(event, "dest_path", "")]
        with self.lock:
            for raw in paths:
                if not raw:
                    continue
                path = Path(raw if isinstance(raw, str) else raw.decode()).resolve()
                if any(path.is_relative_to(i) for i in self.ignore) or _is_editor_noise(path) or \
                        str(path).startswith(self.ignore_prefixes) or self._ignored_file(path):
                    continue
                if not self.pending:
                    self.first_event = time.monotonic()
                self.pending.add(path)
                self.last_event = time.monotonic()
            self.lock.notify_all()

    def _ignored_file(self, path: Path) -> bool:
        if not self.ignore_files:
            return False
        try:
            status = path.stat()
        except OSError:
            return False
        return (status.st_dev, status.st_ino) in self.ignore_files

    def _run(self) -> None:
        while True:
            with self.lock:
                self.lock.wait_for(lambda: bool(self.pending) or self.stopped)
                if self.stopped:
                    return
                # Wait for quiet (editors save via temp file + rename; git touches many files), but not forever.
                while not self.stopped:
                    now = time.monotonic()
                    quiet = now - self.last_event >= SETTLE_SECONDS
                    too_long = now - self.first_event >= MAX_BATCH_SECONDS
                    if quiet or too_long:
                        break
                    self.lock.wait(SETTLE_SECONDS)
                batch, self.pending = self.pending, set()
            if batch:
                self.on_batch(batch)

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            self.lock.notify_all()


class SiteWatches:
    """The site folder watched as a build reads it: its own files, and every folder in it, whole, but
    the output, the cache and hidden ones (`.git`, a build's staging folder).

    Not the whole site folder: its output holds a folder for every page, 139,502 at 100,000 articles,
    and watching them all kept `sitegen serve` from answering for 8 to 41 s after its first build.
    """

    def __init__(self, observer: BaseObserver, handler: FileSystemEventHandler, root: Path,
                 skip: Iterable[Path], log: Callable[[str], None] = lambda message: None) -> None:
        self.observer, self.handler, self.log = observer, handler, log
        # Folders that could not be watched, told once each.
        self.unwatched: set[str] = set()
        self.root = root.resolve()
        self.skip = {folder.resolve() for folder in skip}
        # Each folder watched, by path, with the identity of the folder that was there when it was scheduled.
        self.folders: dict[str, tuple[tuple[int, int], ObservedWatch]] = {}
        observer.schedule(handler, str(self.root), recursive=False)

    def _wanted(self) -> dict[str, tuple[int, int]]:
        """The folders to watch now, with their identity (device, inode)."""
        try:
            with os.scandir(self.root) as listing:
                entries = list(listing)
        except OSError:
            return {}
        wanted = {}
        for entry in entries:
            # As the whole-folder watch did: a linked folder is not followed.
            if entry.name.startswith(".") or entry.is_symlink() or Path(entry.path) in self.skip:
                continue
            try:
                if entry.is_dir():
                    status = entry.stat()
                    wanted[entry.path] = (status.st_dev, status.st_ino)
            except OSError:
                continue
        return wanted

    def sync(self) -> list[Path]:
        """Watch the folders made (or put in place of others) since the last call, and no longer those gone.

        Returns those added: what was written in them before they were watched, no event told of.
        """
        wanted = self._wanted()
        for folder in sorted(self.folders):
            if wanted.get(folder) != self.folders[folder][0]:
                # Gone, or another folder now: a watch follows the folder it was put on, wherever it is moved.
                try:
                    self.observer.unschedule(self.folders.pop(folder)[1])
                except KeyError:
                    pass
        added = []
        for folder, identity in sorted(wanted.items()):
            if folder not in self.folders:
                try:
                    self.folders[folder] = (identity, self.observer.schedule(self.handler, folder, recursive=True))
                    added.append(Path(folder))
                    self.unwatched.discard(folder)
                except OSError as error:
                    # Gone again, unreadable, or past the system's number of watches: the next call tries again.
                    if folder not in self.unwatched:
                        self.unwatched.add(folder)
                        self.log(f"warning: cannot watch {folder} ({error.strerror or error}); changes in it are "
                                 "not seen until it can be (on Linux, raise fs.inotify.max_user_watches)")
        return added


def own_output() -> frozenset[tuple[int, int]]:
    """The files this process's output and errors go to (device, inode), when they are files: a server
    started as `sitegen serve > serve.log` or under `nohup` in the site folder would otherwise take each
    line it logs for a change, build, log again, and never stop."""
    found = set()
    for descriptor in (1, 2):
        try:
            status = os.fstat(descriptor)
        except OSError:
            continue
        if stat.S_ISREG(status.st_mode):
            found.add((status.st_dev, status.st_ino))
    return frozenset(found)


def _is_editor_noise(path: Path) -> bool:
    name = path.name
    return (name.endswith(("~", ".swp", ".swx", ".tmp")) or name.startswith(".#") or name == "4913"
            or "__pycache__" in path.parts or ".git" in path.parts)
