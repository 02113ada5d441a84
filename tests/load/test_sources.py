"""Finding article files and their status: what a build compares to know what changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import sitegen.load
from sitegen.load import source_names, source_statuses
from sitegen.load.source import decode_source, split_front_matter
from tests.conftest import write


def _site(tmp_path: Path) -> Path:
    content = tmp_path / "seeds"
    for name in ["a/story.md", "a/Wire.TXT", "a/Wire.yaml", "a/plain.txt", "a/other.txt", "a/other.yml",
                 "a/notes.rst", "a/.hidden.md", "a/_draft.md", ".git/x.md", "_parts/y.md", "b/folder.md/inner.md"]:
        write(content / name, "x")
    os.symlink(content / "a", content / "linked")
    return content


def test_statuses_name_the_files_source_names_finds_in_its_order(tmp_path: Path) -> None:
    content = _site(tmp_path)
    statuses = source_statuses(content, "key")
    assert list(statuses) == source_names(content)
    assert [os.path.relpath(name, content) for name in statuses] == [
        "a/Wire.TXT", "a/other.txt", "a/plain.txt", "a/story.md", "b/folder.md/inner.md"]
    assert all(status.startswith("key|") for status in statuses.values())


def test_a_wire_storys_sidecar_is_part_of_its_status(tmp_path: Path) -> None:
    content = _site(tmp_path)
    before = source_statuses(content, "key")
    def missing(name: str) -> list[bool]:
        return [part == "-" for part in before[str(content / name)].split("|")[1:]]

    # The file itself, then a .yaml and a .yml sidecar, "-" where there is none; Markdown has none.
    assert missing("a/plain.txt") == [False, True, True]
    assert missing("a/Wire.TXT") == [False, False, True]
    assert missing("a/other.txt") == [False, True, False]
    assert missing("a/story.md") == [False]
    write(content / "a/plain.yaml", "section: Business\n")
    write(content / "a/other.yml", "section: Sport, and more\n")
    after = source_statuses(content, "key")
    changed = {os.path.relpath(name, content) for name in after if after[name] != before[name]}
    assert changed == {"a/plain.txt", "a/other.txt"}
    assert source_statuses(content, "other key")[str(content / "a/story.md")].startswith("other key|")


def _archive(tmp_path: Path) -> Path:
    """The fixture site's files and forty more stories, some of them wire copy with sidecars."""
    content = _site(tmp_path)
    for number in range(40):
        write(content / f"{2020 + number % 3}" / f"{number:02d}.{'txt' if number % 4 == 0 else 'md'}", "x" * number)
        if number % 8 == 0:
            write(content / f"{2020 + number % 3}" / f"{number:02d}.yaml", "section: World\n")
    return content


@pytest.mark.skipif(not hasattr(os, "fork"), reason="statuses are split only where a process can be forked")
def test_a_large_scan_split_with_a_forked_process_finds_what_one_process_does(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    content = _archive(tmp_path)
    alone = source_statuses(content, "key")
    forks: list[int] = []
    fork = os.fork

    def counted() -> int:
        child = fork()
        if child:
            forks.append(child)
        return child

    monkeypatch.setattr(os, "fork", counted)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1}, raising=False)
    monkeypatch.setattr(sitegen.load, "SPLIT_STATUSES", 2)
    split = source_statuses(content, "key")
    assert len(forks) == 1
    assert split == alone and list(split) == list(alone)
    assert len(split) == 45 and all(status.startswith("key|") for status in split.values())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="statuses are split only where a process can be forked")
def test_a_forked_process_that_fails_leaves_its_half_to_the_scan(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    content = _archive(tmp_path)
    alone = source_statuses(content, "key")

    def broken(descriptor: int, data: object) -> int:
        raise OSError("no room to write")

    # Only the forked process writes to the pipe: it fails, and exits without a word.
    monkeypatch.setattr(os, "write", broken)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1}, raising=False)
    monkeypatch.setattr(sitegen.load, "SPLIT_STATUSES", 2)
    assert source_statuses(content, "key") == alone


@pytest.mark.parametrize("blank", ["", "\n", "\n\n\n"])
def test_the_body_starts_on_its_own_line_after_blank_lines(blank: str) -> None:
    _, body, line = split_front_matter(f"---\ntitle: A\n---\n{blank}Text.\n")
    assert body == "Text.\n" and line == 4 + blank.count("\n")


def test_a_source_cannot_hold_the_body_placeholder() -> None:
    assert decode_source("Head\ue000line\nText \ue000media:x".encode(), Path("a.txt")) == "Headline\nText media:x"


def test_statuses_cut_anywhere_between_two_processes_are_those_of_one(tmp_path: Path) -> None:
    """The forked process takes the folders after the cut, and part of a folder when the cut falls in it."""
    content = _archive(tmp_path)
    folders = sitegen.load._folders(str(content))
    total = sum(len(files) for _, files, _ in folders)
    whole = sitegen.load._folder_statuses(folders, "key")
    assert [name for name, _ in whole] == source_names(content)
    for half in range(total + 1):
        first, second = sitegen.load._halves(folders, half)
        assert sum(len(files) for _, files, _ in first) == half
        assert sitegen.load._folder_statuses(first, "key") + sitegen.load._folder_statuses(second, "key") == whole


def test_the_walk_finds_files_in_the_order_of_their_paths_whatever_the_names(tmp_path: Path) -> None:
    """The scan is not sorted after the walk: names that sort before the separator, beside folders
    named as their prefixes, must come out in the order of the whole paths."""
    content = tmp_path / "seeds"
    for name in ["a.md", "a/z.md", "a/b/c.md", "a b/x.md", "a-b.md", "a-b/y.md", "a0.md", "a/a.md", "a.b/q.md",
                 "Z.md", "é/ü.md", "e.md", "🙂/x.md", "a/b.md", "a/b/a.md", "!.md", "a/b c/d.md"]:
        write(content / name, "x")
    found = list(source_statuses(content, "key"))
    assert found == sorted(found) == source_names(content)
    assert len(found) == 17
