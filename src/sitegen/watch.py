"""Watching the site folder: file events collected and handed over in settled batches."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler

SETTLE_SECONDS = 0.03
MAX_BATCH_SECONDS = 1.0


class Watcher(FileSystemEventHandler):
    """Collects file events and hands them over in batches, once the burst has settled."""

    def __init__(self, ignore: list[Path], on_batch: Callable[[set[Path]], None], ignore_prefixes: tuple[str, ...] = ()) -> None:
        self.ignore = [p.resolve() for p in ignore]
        # Paths starting with these (a build's staging folders beside its output, `.build.staging-…`) too.
        self.ignore_prefixes = ignore_prefixes
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
        paths = [event.src_path, getattr(event, "dest_path", "")]
        with self.lock:
            for raw in paths:
                if not raw:
                    continue
                path = Path(raw if isinstance(raw, str) else raw.decode()).resolve()
                if any(path.is_relative_to(i) for i in self.ignore) or _is_editor_noise(path) or \
                        str(path).startswith(self.ignore_prefixes):
                    continue
                if not self.pending:
                    self.first_event = time.monotonic()
                self.pending.add(path)
                self.last_event = time.monotonic()
            self.lock.notify_all()

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


def _is_editor_noise(path: Path) -> bool:
    name = path.name
    return (name.endswith(("~", ".swp", ".swx", ".tmp")) or name.startswith(".#") or name == "4913"
            or "__pycache__" in path.parts or ".git" in path.parts)
