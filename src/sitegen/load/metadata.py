"""Front matter and sidecar metadata: one validated `Metadata` from a YAML mapping."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import yaml

from sitegen.errors import ContentError
from sitegen.sanitize import clean_text, quote_url, safe_url

# BCP 47 in the shape pages need for `lang`: a primary language, then subtags (vi, en-GB, zh-Hant-TW).
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")

# Aliases a newsroom's other tools commonly write, mapped onto one canonical field.
ALIASES = {
    "title": "title", "headline": "title",
    "slug": "slug",
    "date": "published", "published": "published",
    "updated": "updated", "modified": "updated", "lastmod": "updated",
    "author": "authors", "authors": "authors",
    "section": "section", "category": "section",
    "tags": "tags", "keywords": "tags",
    "language": "language", "lang": "language",
    "draft": "draft",
    "standfirst": "standfirst", "summary": "standfirst", "description": "standfirst",
    "source": "source",
    "corrections": "corrections", "correction": "corrections",
    "image": "image", "image_alt": "image_alt", "image_caption": "image_caption",
    "image_credit": "image_credit", "image_width": "image_width", "image_height": "image_height",
    "id": "id", "aliases": "aliases", "alias": "aliases",
}
# What an alias may be: a path on this site, without a query or fragment (a static host cannot tell those apart).
_ALIAS = re.compile(r"/(?!/)[^?#\s]*")


@dataclass(frozen=True)
class Metadata:
    title: str | None = None
    slug: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    authors: tuple[str, ...] = ()
    section: str | None = None
    tags: tuple[str, ...] = ()
    language: str | None = None
    draft: bool = False
    standfirst: str | None = None
    source: str | None = None
    corrections: tuple[str, ...] = ()
    image: str | None = None
    image_alt: str = ""
    image_caption: str = ""
    image_credit: str | None = None
    image_width: int | None = None
    image_height: int | None = None
    id: str | None = None
    aliases: tuple[str, ...] = ()


# libyaml's parser when PyYAML was built with it: several times faster on a large archive.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DuplicateKey(yaml.constructor.ConstructorError):
    """A key given twice in one mapping, which YAML forbids and PyYAML lets the last one win."""


class _TextDates(_SafeLoader):  # type: ignore[valid-type,misc]
    """A safe loader that leaves dates as text, so a bad one is our error at its key, not a crash."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # A merge ('<<') may override keys on purpose; it is flattened into the node below.
        merging = any(key.tag == "tag:yaml.org,2002:merge" for key, _ in node.value)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep)
        if len(mapping) < len(node.value) and not merging:
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep)
                if key in seen:
                    raise _DuplicateKey(None, None, f"'{key}'", key_node.start_mark)
                seen.add(key)
        return mapping


_TextDates.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def key_line(text: str, first_line: int, key: str) -> int:
    """The file line of `key` in YAML `text` whose line 1 is file line `first_line`; `first_line` if not found."""
    for number, raw in enumerate(text.splitlines()):
        if re.match(rf"^['\"]?{re.escape(key)}['\"]?\s*:", raw):
            return first_line + number
    return first_line


class _Where:
    """Finds the line of a key in YAML text, so field errors can point at it."""

    def __init__(self, path: Path, text: str, first_line: int) -> None:
        self.path, self.text, self.first_line = path, text, first_line

    def line(self, key: str) -> int:
        return key_line(self.text, self.first_line, key)

    def error(self, key: str, message: str, hint: str | None = None) -> ContentError:
        return ContentError(message, self.path, self.line(key), hint)


def parse_yaml(text: str, path: Path, first_line: int) -> dict[str, Any]:
    """Parse a YAML mapping; errors point at the file line (`first_line` is YAML line 1)."""
    try:
        data = yaml.load(text, Loader=_TextDates) if text.strip() else {}  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as error:
        # Where the broken construct began (an unclosed '[') is nearer the mistake than where
        # the parser gave up, which is often the end of the front matter.
        mark = getattr(error, "context_mark", None) or getattr(error, "problem_mark", None)
        line = first_line + mark.line if mark is not None else first_line
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        if isinstance(error, _DuplicateKey):
            raise ContentError(f"front matter gives {problem} twice", path, line, "delete one of the two lines") from None
        raise ContentError(f"front matter is not valid YAML: {problem}", path, line,
                           "check indentation and quote values that contain ':' or '#'") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ContentError("front matter must be a mapping of 'key: value' lines", path, first_line,
                           "write one 'key: value' per line, e.g. title: My headline")
    return data


def _text(where: _Where, key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise where.error(key, f"'{key}' must be text, not {type(value).__name__}",
                          f"quote the value: {key}: \"{str(value).lower() if isinstance(value, bool) else value}\"")
    return clean_text(str(value)).strip()


def _text_list(where: _Where, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        items: list[Any] = [part for part in value.split(",")]
    elif isinstance(value, list):
        items = value
    else:
        raise where.error(key, f"'{key}' must be a list or comma-separated text", f"{key}: [first, second]")
    seen: dict[str, None] = {}
    for item in items:
        text = _text(where, key, item)
        if text:
            seen.setdefault(text, None)
    return tuple(seen)


def _datetime(where: _Where, key: str, value: Any, tz: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime.combine(value, time())
    elif isinstance(value, str):
        try:
            result = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise where.error(key, f"'{key}' is not a valid date: {value!r}",
                              "write ISO 8601, e.g. 2022-05-27 or 2022-05-27T14:30:00+07:00") from None
    else:
        raise where.error(key, f"'{key}' is not a valid date: {value!r}",
                          "write ISO 8601, e.g. 2022-05-27T14:30:00+07:00")
    if not 1000 <= result.year <= 9000:
        # Such dates are typos, and near year 1 or 9999 converting time zones overflows.
        raise where.error(key, f"'{key}' is out of range: {value!r}", "use a year between 1000 and 9000")
    # A time without a zone is read in the site's time zone, never the build machine's.
    return result.replace(tzinfo=tz) if result.tzinfo is None else result


def parse_metadata(data: dict[str, Any], path: Path, text: str, first_line: int, tz: ZoneInfo) -> Metadata:
    """Validate a front-matter mapping into `Metadata`, naming the line of any bad field."""
    where = _Where(path, text, first_line)
    values: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = str(raw_key)
        field = ALIASES.get(key.lower())
        if field is None:
            close = difflib.get_close_matches(key.lower(), ALIASES, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "known keys: " + ", ".join(sorted(set(ALIASES.values())))
            raise where.error(key, f"unknown front matter key '{key}'", hint)
        if field in values:
            raise where.error(key, f"'{key}' repeats a field already given", "keep one of them")
        if value is None:
            continue
        if field in ("published", "updated"):
            values[field] = _datetime(where, key, value, tz)
        elif field in ("authors", "tags", "corrections"):
            if field == "corrections" and isinstance(value, str):
                values[field] = (_text(where, key, value),)
            else:
                values[field] = _text_list(where, key, value)
        elif field == "language":
            tag = _text(where, key, value)
            if not LANGUAGE_TAG.fullmatch(tag):
                raise where.error(key, f"'{key}' is not a language tag: {tag!r}", "use a BCP 47 tag such as en, vi or ar")
            values[field] = tag
        elif field == "draft":
            if not isinstance(value, bool):
                raise where.error(key, "'draft' must be true or false")
            values[field] = value
        elif field in ("image_width", "image_height"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise where.error(key, f"'{key}' must be a whole number of pixels")
            values[field] = value
        elif field == "id":
            identity = _text(where, key, value)
            if not identity or any(c.isspace() for c in identity):
                raise where.error(key, f"'{key}' must be one word with no spaces: {identity!r}",
                                  "for example id: 2024-05-flood-danang")
            values[field] = identity
        elif field == "aliases":
            aliases = []
            for alias in _text_list(where, key, value):
                quoted = quote_url(alias)
                if not _ALIAS.fullmatch(quoted) or "/../" in quoted + "/" or "/./" in quoted + "/":
                    raise where.error(key, f"'{key}' must list paths on this site, not {alias!r}",
                                      "write the old URL's path, e.g. /2019/05/old-story/ (no host, query or fragment)")
                # Kept as the path the file is written at; links quote it again.
                aliases.append(unquote(quoted))
            values[field] = tuple(aliases)
        elif field == "image":
            url = safe_url(_text(where, key, value))
            if url is None:
                raise where.error(key, f"'{key}' is not a safe image URL", "use an http(s) URL or a path on the site")
            values[field] = url
        else:
            values[field] = _text(where, key, value)
    if "published" in values and "updated" in values and values["updated"] < values["published"]:
        raise where.error("updated", "'updated' is earlier than the published date",
                          "an update cannot come before publication; check both dates")
    return Metadata(**values)
