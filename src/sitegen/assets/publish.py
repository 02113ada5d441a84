"""Publishing one article's local files as it loads: each found, checked, processed once and recorded."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from sitegen.assets.find import AS_IS_TYPES, ATTACHMENT_TYPES, PHOTO_SUFFIXES, NotFound, locate, suffix_of
from sitegen.assets.photos import MEDIA_URL, Encoding, Unreadable, process, size_of
from sitegen.assets.store import MediaStore
from sitegen.errors import ContentError
from sitegen.model import Image, Variant
from sitegen.slugs import slugify


@dataclass(frozen=True)
class MediaSettings:
    """How local files are found and published; the store is where they are kept, and not part of any hash."""

    root: Path
    encoding: Encoding = Encoding((480, 800, 1200, 1600), 80, False)
    sizes: str = "100vw"
    store: Path | None = field(default=None, repr=False, compare=False)


def _stem(path: Path) -> str:
    # A readable name helps image search and people saving the file; the hash keeps it unique.
    return slugify(path.stem)[:60].strip("-") or "file"


class ArticleAssets:
    """The local files one article uses: published as the reader meets them, and hashed into its digest."""

    def __init__(self, article: Path, settings: MediaSettings,
                 metadata_image: tuple[Path, int | None] | None = None) -> None:
        self.article = article
        self.settings = settings
        # Where the metadata's `image:` is (front matter or sidecar), for errors about it.
        self.metadata_image = metadata_image or (article, None)
        self.store = MediaStore(settings.store) if settings.store is not None else None
        # Absolute path -> a hash of its bytes, in the order first used.
        self.used: dict[str, str] = {}
        # Names of every published file the article needs, in order.
        self.names: dict[str, None] = {}

    def _read(self, url: str, line: int | None, what: str, source: Path | None) -> tuple[Path, bytes]:
        where = source or self.article
        try:
            path = locate(url, self.article, self.settings.root)
            data = path.read_bytes()
        except NotFound as missing:
            raise ContentError(f"{what} {missing.message}", where, line, missing.hint) from None
        except OSError as error:
            raise ContentError(f"{what} '{url}' cannot be read: {error.strerror}", where, line,
                               "check the file's permissions") from None
        self.used.setdefault(str(path), hashlib.sha256(data).hexdigest())
        return path, data

    def metadata_photo(self, url: str) -> Image:
        """`photo` for the metadata's `image:`."""
        return self.photo(url, self.metadata_image[1], self.metadata_image[0])

    def photo(self, url: str, line: int | None, source: Path | None = None) -> Image:
        """The published variants of the image at local `url`, processed now unless the store has them.

        Errors name `source` (the article's file unless given) at `line`.
        """
        suffix = suffix_of(url)
        path, data = self._read(url, line, "image", source)
        if suffix in AS_IS_TYPES:
            width, height = size_of(data) if suffix == ".gif" else (0, 0)
            return Image(width, height, (self._as_is(path, data, AS_IS_TYPES[suffix], width, height),))
        if suffix not in PHOTO_SUFFIXES:
            raise ContentError(f"image '{url}' is not a photo format sitegen publishes", source or self.article, line,
                               "use JPEG, PNG, WebP, AVIF, TIFF, GIF or SVG")
        encoding = self.settings.encoding
        stem = _stem(path)
        key = encoding.key(stem, data)
        stored = self.store.manifest(key) if self.store else None
        if stored is not None:
            image = Image(stored["width"], stored["height"],
                          tuple(Variant(MEDIA_URL + n, w, h, t, size) for n, w, h, t, size in stored["variants"]))
        else:
            try:
                image, files = process(data, stem, key, encoding)
            except Unreadable as error:
                shown = os.path.relpath(path, self.settings.root)
                raise ContentError(f"image '{url}' ({shown}) {error}", source or self.article, line,
                                   "open it in an image editor and export it again as JPEG or PNG") from None
            if self.store is not None:
                self.store.save(key, files, {"width": image.width, "height": image.height, "variants": [
                    [v.url.removeprefix(MEDIA_URL), v.width, v.height, v.media_type, v.length] for v in image.variants]})
        self.names.update((v.url.removeprefix(MEDIA_URL), None) for v in image.variants)
        return image

    def attachment(self, url: str, line: int | None) -> Variant:
        """The published copy of the document, sound or video at local `url`."""
        path, data = self._read(url, line, "linked file", None)
        return self._as_is(path, data, ATTACHMENT_TYPES.get(suffix_of(url), "application/octet-stream"), 0, 0)

    def _as_is(self, path: Path, data: bytes, media_type: str, width: int, height: int) -> Variant:
        """`data` published unchanged, under its name with a hash of its bytes."""
        name = f"{_stem(path)}-{hashlib.sha256(data).hexdigest()[:16]}{path.suffix.lower()}"
        if self.store is not None and not self.store.path(name).is_file():
            self.store.save(f"file-{name}", [(name, data)], {"variants": [[name]]})
        self.names[name] = None
        return Variant(MEDIA_URL + name, width, height, media_type, len(data))

    def digest(self, key: str) -> str:
        """The article's digest: `key` (its own bytes and settings) and the bytes of every file it used."""
        if not self.used:
            return key
        return combine(key, self.used)


def combine(key: str, used: dict[str, str]) -> str:
    """An article's digest from its source `key` and (path -> hash of bytes) of the local files it uses."""
    digest = hashlib.sha256(key.encode())
    for path, content in used.items():
        digest.update(f"\0{path}\0{content}".encode())
    return digest.hexdigest()
