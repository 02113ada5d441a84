"""Reading a source file into clean text: UTF-8 (with or without BOM), any line ending."""

from __future__ import annotations

from pathlib import Path

import frontmatter

from sitegen.errors import ContentError
from sitegen.sanitize import clean_text

_YAML = frontmatter.YAMLHandler()
PLACEHOLDER = "\ue000"


def read_source(path: Path, allow_empty: bool = False) -> str:
    """Decode `path` as UTF-8, drop a BOM, turn CRLF/CR into LF; undecodable bytes name their line."""
    return decode_source(path.read_bytes(), path, allow_empty)


def decode_source(data: bytes, path: Path, allow_empty: bool = False) -> str:
    """`read_source` for bytes already read from `path`."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ContentError(
            f"is not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start})",
            path,
            line,
            "save the file as UTF-8; wire copy in Windows-1258 or Latin-1 must be converted first",
        ) from None
    text = clean_text(text.replace("\r\n", "\n").replace("\r", "\n"))
    if PLACEHOLDER in text:
        # Bodies mark published files and links with it (see assets/markup.py, load/links.py); a source's own is dropped.
        text = text.replace(PLACEHOLDER, "")
    if not text.strip() and not allow_empty:
        raise ContentError("is empty", path, 1, "line 1 must be the headline")
    return text


def split_front_matter(text: str, path: Path | None = None) -> tuple[str | None, str, int]:
    """Split YAML front matter off `text` with python-frontmatter: (yaml or None, body, body's first line)."""
    if not _YAML.detect(text):
        return None, text, 1
    try:
        front, body = _YAML.split(text)
    except ValueError:
        raise ContentError("front matter opened with '---' on line 1 is never closed", path, 1,
                           "end the front matter with a line of '---' before the text") from None
    front = front.removeprefix("\n")
    body = body.removeprefix("\n")
    # python-frontmatter drops the blank lines that open the body: the body's first line is where it
    # ends the text, else after the opening '---' line, the front matter lines and the closing '---'.
    if body and text.endswith(body):
        return front, body, text.count("\n", 0, len(text) - len(body)) + 1
    return front, body, front.count("\n") + 3
