"""`sitegen.toml` parsed into a frozen, validated `Config`; every field has a default."""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError

from sitegen.errors import ConfigError
from sitegen.sanitize import clean_text, quote_url, safe_url
from sitegen.slugs import slug_or_hash, slugify

CONFIG_NAME = "sitegen.toml"
RESERVED_PATHS = frozenset({"tags", "authors", "archive", "static", "page", "sitemaps", "media", "search", "pagefind"})
PERMALINK_TOKENS = frozenset({"section", "slug", "year", "month", "day"})


@dataclass(frozen=True)
class SectionConfig:
    name: str
    slug: str = ""
    description: str = ""

    @property
    def url_slug(self) -> str:
        slug = slugify(self.slug) if self.slug else slug_or_hash(self.name, "section")
        # Sections live at the top level, beside /tags/, /authors/ and /archive/.
        return f"{slug}-section" if slug in RESERVED_PATHS else slug


@dataclass(frozen=True)
class PublisherConfig:
    name: str = ""
    logo: str = ""
    logo_width: int = 0
    logo_height: int = 0


@dataclass(frozen=True)
class PermalinkConfig:
    article: str = "/{section}/{slug}/"


@dataclass(frozen=True)
class FeedConfig:
    limit: int = 20
    content: str = "full"


@dataclass(frozen=True)
class ImageConfig:
    """How local photos are published: the widths made, encoder quality, and whether AVIF is offered too."""

    widths: tuple[int, ...] = (480, 800, 1200, 1600)
    quality: int = 80
    avif: bool = False
    # What the default theme's article column is wide: 42rem, less the page's padding on small screens.
    sizes: str = "(min-width: 44rem) 42rem, calc(100vw - 2rem)"


@dataclass(frozen=True)
class SearchConfig:
    """Site search: whether the site has it, and where its form sends a reader whose browser runs no JavaScript."""

    enabled: bool = True
    # "duckduckgo" or "google" (restricted to the site's domain, from base_url), or "none".
    fallback: str = "duckduckgo"


@dataclass(frozen=True)
class Config:
    title: str = "sitegen"
    description: str = ""
    base_url: str = ""
    language: str = "en"
    timezone: str = "UTC"
    page_size: int = 10
    default_section: str = "News"
    related_count: int = 4
    words_per_minute: int = 230
    publisher: PublisherConfig = field(default_factory=PublisherConfig)
    permalinks: PermalinkConfig = field(default_factory=PermalinkConfig)
    feeds: FeedConfig = field(default_factory=FeedConfig)
    images: ImageConfig = field(default_factory=ImageConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    sections: tuple[SectionConfig, ...] = ()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def base_path(self) -> str:
        """The path part of base_url ('/news/'), or '/' when the site lives at the root."""
        path = urlsplit(self.base_url).path if self.base_url else "/"
        return path if path.endswith("/") else path + "/"

    @property
    def publisher_name(self) -> str:
        return self.publisher.name or self.title


def _key_line(text: str, dotted: str) -> int | None:
    """Best-effort line of `dotted` (e.g. 'feeds.limit') in TOML text; tomllib gives no positions."""
    *tables, key = dotted.split(".")
    want_table = ".".join(tables)
    table = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?", line)
        if header:
            table = header.group(1)
            if not key and table == want_table:
                return number
            continue
        if table == want_table and re.match(rf'^"?{re.escape(key)}"?\s*=', line):
            return number
    return None


def _type_name(kind: Any) -> str:
    return {str: "a string", int: "a whole number", bool: "true or false"}.get(kind, str(kind))


def _build(cls: type, data: Any, prefix: str, path: Path, text: str) -> Any:
    """Build dataclass `cls` from a TOML table, naming the key of any unknown or mistyped value."""
    where = prefix.rstrip(".") or "top level"
    if not isinstance(data, dict):
        raise ConfigError(f"'{where}' must be a table", path, _key_line(text, where + "."))
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        dotted = prefix + key
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"did you mean '{prefix}{close[0]}'?" if close else f"known keys: {', '.join(sorted(fields))}"
            raise ConfigError(f"unknown key '{dotted}'", path, _key_line(text, dotted), hint)
        kind = str(fields[key].type)  # a name: annotations are not evaluated here
        if kind in ("str", "int", "bool"):
            expected = {"str": str, "int": int, "bool": bool}[kind]
            # bool is a subclass of int in Python; `page_size = true` must still be refused.
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise ConfigError(
                    f"'{dotted}' must be {_type_name(expected)}, not {type(value).__name__}",
                    path,
                    _key_line(text, dotted),
                )
            values[key] = value
        elif kind == "tuple[int, ...]":
            if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                raise ConfigError(f"'{dotted}' must be a list of whole numbers", path, _key_line(text, dotted),
                                  f"{dotted} = [480, 800, 1200, 1600]")
            values[key] = tuple(value)
        elif kind == "tuple[SectionConfig, ...]":
            if not isinstance(value, list):
                raise ConfigError(f"'{dotted}' must be a list of tables", path, _key_line(text, dotted),
                                  'write sections as [[sections]] tables with name = "..."')
            values[key] = tuple(_build(SectionConfig, item, dotted + ".", path, text) for item in value)
        else:
            nested = {"PublisherConfig": PublisherConfig, "PermalinkConfig": PermalinkConfig,
                      "FeedConfig": FeedConfig, "ImageConfig": ImageConfig, "SearchConfig": SearchConfig}[kind]
            values[key] = _build(nested, value, dotted + ".", path, text)
    try:
        return cls(**values)
    except TypeError as error:
        raise ConfigError(f"'{where}': {error}", path, _key_line(text, where + ".")) from None


def _check(config: Config, path: Path, text: str) -> None:
    def fail(key: str, message: str, hint: str | None = None) -> None:
        raise ConfigError(f"'{key}' {message}", path, _key_line(text, key), hint)

    try:
        ZoneInfo(config.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        fail("timezone", f"is not a known time zone: {config.timezone!r}", "use an IANA name such as 'Asia/Ho_Chi_Minh'")
    try:
        Locale.parse(config.language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        fail("language", f"is not a known language tag: {config.language!r}", "use a BCP 47 tag such as 'en' or 'vi'")
    if config.base_url:
        parts = urlsplit(config.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            fail("base_url", f"must be an absolute http(s) URL, not {config.base_url!r}",
                 "for example 'https://example.org/news/'")
        # Every link of the site starts with it: one space would make every page invalid.
        if quote_url(config.base_url) != config.base_url:
            fail("base_url", f"holds characters a URL cannot: {config.base_url!r}",
                 f"percent-encode them, '{quote_url(config.base_url)}', or choose a path without them")
    if config.publisher.logo and safe_url(config.publisher.logo) is None:
        fail("publisher.logo", f"is not a safe URL: {config.publisher.logo!r}", "use an http(s) URL or a site path")
    if config.page_size < 1:
        fail("page_size", "must be at least 1")
    if config.feeds.limit < 1:
        fail("feeds.limit", "must be at least 1")
    if config.feeds.content not in ("full", "summary"):
        fail("feeds.content", "must be 'full' or 'summary'")
    widths = config.images.widths
    if not widths or any(not 16 <= w <= 8192 for w in widths):
        fail("images.widths", f"must list widths from 16 to 8192 pixels, not {list(widths)}",
             "images.widths = [480, 800, 1200, 1600]")
    if config.search.fallback not in ("duckduckgo", "google", "none"):
        fail("search.fallback", f"must be 'duckduckgo', 'google' or 'none', not {config.search.fallback!r}")
    if not 1 <= config.images.quality <= 100:
        fail("images.quality", f"must be from 1 to 100, not {config.images.quality}")
    if config.images.sizes != clean_text(config.images.sizes).strip() or not config.images.sizes:
        fail("images.sizes", "must be a `sizes` attribute value", "for example '(min-width: 44rem) 42rem, 100vw'")
    scheme = config.permalinks.article
    tokens = set(re.findall(r"\{(\w+)\}", scheme))
    if not scheme.startswith("/") or not scheme.endswith("/") or "slug" not in tokens or tokens - PERMALINK_TOKENS:
        fail("permalinks.article", f"is not a usable scheme: {scheme!r}",
             "start and end with '/', include {slug}, and use only {section} {slug} {year} {month} {day}")


def load_config(source: Path, base_url: str | None = None) -> tuple[Config, Path | None]:
    """Read `sitegen.toml` from `source` (defaults when absent); `base_url` overrides the file."""
    path = source / CONFIG_NAME
    text = ""
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except UnicodeDecodeError as error:
            raise ConfigError(f"is not UTF-8 ({error.reason})", path, text_line(path, error.start)) from None
        except tomllib.TOMLDecodeError as error:
            match = re.search(r"line (\d+)", str(error))
            raise ConfigError(f"is not valid TOML: {error}", path, int(match.group(1)) if match else None) from None
    if base_url is not None:
        data["base_url"] = base_url
    config = _build(Config, data, "", path, text)
    _check(config, path, text)
    if config.publisher.logo:
        # Written as the site's pages carry it: a space in the path percent-encoded.
        config = dataclasses.replace(
            config, publisher=dataclasses.replace(config.publisher, logo=safe_url(config.publisher.logo) or ""))
    return config, path if path.is_file() else None


def text_line(path: Path, offset: int) -> int:
    """1-based line of byte `offset` in file `path`."""
    return path.read_bytes()[:offset].count(b"\n") + 1
