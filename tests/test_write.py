"""Writing pages into an output folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from sitegen.errors import BuildError
from sitegen.write import Output


def test_write_new_puts_each_page_in_its_file_and_makes_the_folders(tmp_path: Path) -> None:
    output = Output(tmp_path)
    big = "Đà Nẵng 🌊 ".encode() * 200_000
    output.write_new("/", b"<p>front</p>")
    output.write_new("/2024/05/bridge-opens/", big)
    output.write_new("/2024/05/ferry-resumes/", b"ferry")
    output.write_new("/feed.xml", b"<feed/>")
    output.write_new("/2024/05/bridge-opens/", b"again")

    assert (tmp_path / "index.html").read_bytes() == b"<p>front</p>"
    assert (tmp_path / "2024/05/ferry-resumes/index.html").read_bytes() == b"ferry"
    assert (tmp_path / "feed.xml").read_bytes() == b"<feed/>"
    # Written again, a page is replaced whole, not appended to or left with the old tail.
    assert (tmp_path / "2024/05/bridge-opens/index.html").read_bytes() == b"again"
    output.write_new("/2024/05/bridge-opens/", big)
    assert (tmp_path / "2024/05/bridge-opens/index.html").read_bytes() == big


@pytest.mark.parametrize("url", ["/../escape/", "/a/../../escape.html", "/a\0b/"])
def test_write_new_refuses_to_write_outside_the_output(tmp_path: Path, url: str) -> None:
    inside = tmp_path / "site"
    with pytest.raises(BuildError, match="outside the output folder"):
        Output(inside).write_new(url, b"x")
    assert not (tmp_path / "escape").exists() and not (tmp_path / "escape.html").exists()


def test_write_new_where_a_file_stands_in_for_the_folder_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "2024").write_bytes(b"not a folder")
    with pytest.raises(OSError):
        Output(tmp_path).write_new("/2024/05/story/", b"x")
    assert (tmp_path / "2024").read_bytes() == b"not a folder"


def test_a_page_removed_and_written_again_gets_its_folder_back(tmp_path: Path) -> None:
    output = Output(tmp_path)
    output.write_new("/2024/05/story/", b"first")
    output.remove("/2024/05/story/")
    assert not (tmp_path / "2024").exists()
    output.write_new("/2024/05/story/", b"second")
    assert (tmp_path / "2024/05/story/index.html").read_bytes() == b"second"
    output.remove("/2024/05/story/")
    # The same folder, spelt otherwise, is the same folder.
    output.write_new("/2024//05/story/", b"third")
    output.remove("/2024/05/story/")
    output.write("/2024/05/story/", b"fourth")
    assert (tmp_path / "2024/05/story/index.html").read_bytes() == b"fourth"
