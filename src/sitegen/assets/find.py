"""Finding a local file an article refers to: beside the article, or from the site folder when it starts with '/'."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Files a body may link to that are published with the article (copied under a content-hashed name).
ATTACHMENT_TYPES = {
    ".pdf": "application/pdf", ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".ogg": "audio/ogg", ".oga": "audio/ogg",
    ".opus": "audio/ogg", ".wav": "audio/wav", ".flac": "audio/flac", ".mp4": "video/mp4", ".m4v": "video/mp4",
    ".webm": "video/webm", ".ogv": "video/ogg", ".mov": "video/quicktime", ".zip": "application/zip",
    ".csv": "text/csv", ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xls": "application/vnd.ms-excel", ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".doc": "application/msword", ".odt": "application/vnd.oasis.opendocument.text",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".epub": "application/epub+zip", ".json": "application/json", ".geojson": "application/geo+json",
    ".kml": "application/vnd.google-earth.kml+xml", ".gpx": "application/gpx+xml",
}
# Photos Pillow reads and sitegen resizes; GIF and SVG are published as they are.
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".jfif", ".png", ".webp", ".avif", ".tif", ".tiff", ".bmp"})
AS_IS_TYPES = {".gif": "image/gif", ".svg": "image/svg+xml"}
IMAGE_SUFFIXES = PHOTO_SUFFIXES | AS_IS_TYPES.keys()


class NotFound(Exception):
    """A local reference that names no readable file inside the site folder: a message and a hint."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def is_local(url: str) -> bool:
    """Whether `url` names a file of the site rather than another site, a fragment or a query alone."""
    if not url or url.startswith(("#", "?", "//")):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return not parts.scheme and not parts.netloc and bool(parts.path)


def suffix_of(url: str) -> str:
    """The lower-case file suffix of a local URL's path ('' when it has none)."""
    return os.path.splitext(unquote(urlsplit(url).path))[1].lower()


def locate(url: str, article: Path, root: Path) -> Path:
    """The file `url` names: relative to the article's folder, or to the site folder `root` when it starts with '/'.

    Raises NotFound when it is missing, unreadable or outside the site folder.
    """
    path = unquote(urlsplit(url).path)
    base = root if path.startswith("/") else article.parent
    candidate = Path(os.path.normpath(base / path.lstrip("/")))
    site = root.resolve()
    try:
        real = candidate.resolve()
    except (OSError, RuntimeError):
        real = candidate
    if not real.is_relative_to(site):
        raise NotFound(f"'{url}' points outside the site folder",
                       "keep photos and files inside the site folder: beside the article, or under a folder of the site "
                       "such as photos/ written as '/photos/name.jpg'")
    if not real.is_file():
        raise NotFound(f"'{url}' names no file: {_shown(candidate, root)} is missing", _near(candidate, root))
    if not os.access(real, os.R_OK):
        raise NotFound(f"'{url}' cannot be read: {_shown(candidate, root)}", "check the file's permissions")
    return real


def _shown(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def _near(path: Path, root: Path) -> str:
    """A hint naming files in the same folder with a similar name, or what is there."""
    folder = path.parent
    try:
        names = sorted(name for name in os.listdir(folder) if not name.startswith("."))
    except OSError:
        return f"there is no folder {_shown(folder, root)}/; check the path"
    close = difflib.get_close_matches(path.name, names, n=3, cutoff=0.5)
    if close:
        return "did you mean " + " or ".join(f"'{name}'" for name in close) + "?"
    files = [name for name in names if os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES | ATTACHMENT_TYPES.keys()]
    if files:
        return f"{_shown(folder, root)}/ holds " + ", ".join(files[:5]) + (", …" if len(files) > 5 else "")
    return f"put the file in {_shown(folder, root)}/ or correct the path"
