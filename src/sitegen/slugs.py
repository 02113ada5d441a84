"""Slugs: Unicode transliterated to short, URL-safe ASCII (`Đà Nẵng` -> `da-nang`)."""

from __future__ import annotations

import hashlib
from functools import lru_cache

from slugify import slugify as _slugify

MAX_LENGTH = 80


# Every article names its section, tags and authors, and an archive names the same few hundred again
# and again; transliterating is the costly part of reading front matter.
@lru_cache(maxsize=8192)
def slugify(text: str) -> str:
    """Transliterate and hyphenate `text`; '' when nothing transliterable is left."""
    # text-unidecode (under python-slugify) maps Đ/đ correctly, so no Vietnamese special case here.
    return _slugify(text, max_length=MAX_LENGTH, word_boundary=True, save_order=True)


def slug_or_hash(text: str, prefix: str) -> str:
    """A slug for `text`, or a stable `prefix-<hash>` when it has no transliterable letters (emoji)."""
    return slugify(text) or f"{prefix}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:8]}"
