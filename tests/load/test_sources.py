"""Finding article files and their status: what a build compares to know what changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("blank", ["", "\n", "\n\n\n"])
def test_the_body_starts_on_its_own_line_after_blank_lines(blank: str) -> None:
    _, body, line = split_front_matter(f"---\ntitle: A\n---\n{blank}Text.\n")
    assert body == "Text.\n" and line == 4 + blank.count("\n")


def test_a_source_cannot_hold_the_body_placeholder() -> None:
    assert decode_source("Head\ue000line\nText \ue000media:x".encode(), Path("a.txt")) == "Headline\nText media:x"
