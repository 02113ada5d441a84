"""File events are batched: a burst of saves becomes one rebuild, noise and output are ignored."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from watchdog.events import FileModifiedEvent, FileMovedEvent

from sitegen.watch import MAX_BATCH_SECONDS, Watcher


def test_a_burst_becomes_one_batch(tmp_path: Path) -> None:
    batches: list[set[Path]] = []
    done = threading.Event()

    def collect(batch: set[Path]) -> None:
        batches.append(batch)
        done.set()

    watcher = Watcher([tmp_path / "build"], collect)
    try:
        for i in range(50):  # like `git checkout` touching many files at once
            watcher.on_any_event(FileModifiedEvent(str(tmp_path / f"seeds/{i}.md")))
        # Save-via-rename, as editors do, plus files that must not count.
        watcher.on_any_event(FileMovedEvent(str(tmp_path / "seeds/.a.md.swp"), str(tmp_path / "seeds/a.md")))
        watcher.on_any_event(FileModifiedEvent(str(tmp_path / "build/index.html")))
        watcher.on_any_event(FileModifiedEvent(str(tmp_path / "seeds/a.md~")))
        assert done.wait(5)
        time.sleep(MAX_BATCH_SECONDS / 2)
    finally:
        watcher.stop()
    assert len(batches) == 1
    names = {p.name for p in batches[0]}
    assert len(batches[0]) == 51 and "a.md" in names
    assert "index.html" not in names and "a.md~" not in names and ".a.md.swp" not in names
