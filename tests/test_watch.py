"""File events are batched: a burst of saves becomes one rebuild, noise and output are ignored."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from watchdog.events import (
    DirCreatedEvent,
    DirModifiedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from sitegen.watch import MAX_BATCH_SECONDS, SiteWatches, Watcher
from tests.conftest import write


def _collecting(tmp_path: Path) -> tuple[Watcher, list[set[Path]], threading.Event]:
    """A watcher of a site in `tmp_path`, the batches it hands over, and an event set at the first."""
    batches: list[set[Path]] = []
    done = threading.Event()

    def collect(batch: set[Path]) -> None:
        batches.append(batch)
        done.set()

    return Watcher([tmp_path / "build"], collect), batches, done


def test_a_burst_becomes_one_batch(tmp_path: Path) -> None:
    watcher, batches, done = _collecting(tmp_path)
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


def test_a_folder_modified_is_no_change_but_a_folder_made_is(tmp_path: Path) -> None:
    watcher, batches, done = _collecting(tmp_path)
    try:
        # What a build's staging folder beside the output does to the site folder.
        watcher.on_any_event(DirModifiedEvent(str(tmp_path)))
        assert not done.wait(MAX_BATCH_SECONDS)
        watcher.on_any_event(DirCreatedEvent(str(tmp_path / "templates")))
        assert done.wait(5)
    finally:
        watcher.stop()
    assert batches == [{(tmp_path / "templates").resolve()}]

class _Seen(FileSystemEventHandler):
    """Every path an event names, as it comes."""

    def __init__(self) -> None:
        self.paths: list[Path] = []
        self.changed = threading.Condition()

    def on_any_event(self, event: FileSystemEvent) -> None:
        with self.changed:
            for raw in (event.src_path, getattr(event, "dest_path", "")):
                if raw:
                    self.paths.append(Path(raw if isinstance(raw, str) else raw.decode()))
            self.changed.notify_all()

    def wait_for(self, path: Path, seconds: float = 10) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: path in self.paths, seconds)


@pytest.fixture
def observer() -> Iterator[BaseObserver]:
    running = Observer()
    yield running
    if running.is_alive():
        running.stop()
        running.join(timeout=5)


def _watched(observer: BaseObserver) -> set[tuple[str, bool]]:
    return {(emitter.watch.path, emitter.watch.is_recursive) for emitter in observer.emitters}


def test_the_site_is_watched_but_not_its_output_cache_or_hidden_folders(tmp_path: Path, observer: BaseObserver) -> None:
    site = tmp_path.resolve() / "site"
    for name in ("seeds/2024/a.md", "templates/article.html", "build/world/story/index.html", ".sitegen-cache/x",
                 ".git/HEAD", ".build.staging-1/index.html", "sitegen.toml"):
        write(site / name, "x")
    os.symlink(site / "seeds", site / "linked")
    seen = _Seen()
    watches = SiteWatches(observer, seen, site, [site / "build", site / ".sitegen-cache"])
    assert watches.sync() == [site / "seeds", site / "templates"]
    observer.start()
    assert _watched(observer) == {(str(site), False), (str(site / "seeds"), True), (str(site / "templates"), True)}
    write(site / "build/world/story/index.html", "rendered again")
    write(site / "seeds/2024/a.md", "edited")
    write(site / "sitegen.toml", "title = 'Edited'")
    assert seen.wait_for(site / "seeds/2024/a.md") and seen.wait_for(site / "sitegen.toml")
    assert not [path for path in seen.paths if path.is_relative_to(site / "build")]
    assert watches.sync() == []


def test_a_folder_made_or_put_in_place_of_another_is_watched_from_the_next_sync(tmp_path: Path,
                                                                                observer: BaseObserver) -> None:
    site = tmp_path.resolve() / "site"
    write(site / "seeds/a.md", "x")
    seen = _Seen()
    watches = SiteWatches(observer, seen, site, [site / "build"])
    watches.sync()
    observer.start()
    write(site / "static/css/site.css", "a")
    # The site folder's own watch tells of the new folder; the next sync watches it whole.
    assert seen.wait_for(site / "static")
    assert watches.sync() == [site / "static"]
    write(site / "static/css/site.css", "b")
    assert seen.wait_for(site / "static/css/site.css")
    # A watch follows the folder it was put on: one moved away and replaced is watched anew.
    (site / "seeds").rename(site / "seeds-before")
    write(site / "seeds/b.md", "x")
    assert seen.wait_for(site / "seeds")
    time.sleep(0.2)
    assert site / "seeds/b.md" not in seen.paths
    assert watches.sync() == [site / "seeds", site / "seeds-before"]
    write(site / "seeds/b.md", "edited")
    assert seen.wait_for(site / "seeds/b.md")
    assert _watched(observer) == {(str(site), False), (str(site / "seeds"), True), (str(site / "seeds-before"), True),
                                  (str(site / "static"), True)}


def test_a_folder_that_cannot_be_watched_is_told_once_and_tried_again(tmp_path: Path, observer: BaseObserver,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path.resolve() / "site"
    write(site / "seeds/a.md", "x")
    messages: list[str] = []
    watches = SiteWatches(observer, _Seen(), site, [], messages.append)
    schedule = observer.schedule

    def full(handler: FileSystemEventHandler, path: str, *, recursive: bool = False) -> object:
        raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr(observer, "schedule", full)
    assert watches.sync() == [] and watches.sync() == []
    assert len(messages) == 1 and str(site / "seeds") in messages[0] and "max_user_watches" in messages[0]
    monkeypatch.setattr(observer, "schedule", schedule)
    assert watches.sync() == [site / "seeds"]
