"""The one exception family: every user-facing error carries where it happened and a hint."""

from __future__ import annotations

from pathlib import Path


class SitegenError(Exception):
    """A mistake in the user's input, reported as `path:line: message` plus a hint."""

    def __init__(
        self,
        message: str,
        path: Path | str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = Path(path) if path is not None else None
        self.line = line
        self.hint = hint

    def __reduce__(self) -> tuple[type[SitegenError], tuple[str, Path | None, int | None, str | None]]:
        # Errors cross process boundaries from build workers; keep where they happened.
        return (type(self), (self.message, self.path, self.line, self.hint))

    @property
    def location(self) -> str:
        if self.path is None:
            return "sitegen"
        return f"{self.path}:{self.line}" if self.line else str(self.path)

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class ConfigError(SitegenError):
    """`sitegen.toml` is unreadable, has an unknown key or a value of the wrong type."""


class ContentError(SitegenError):
    """An article cannot be read: bad bytes, bad front matter, a bad field."""


class TemplateError(SitegenError):
    """A template does not parse or fails while rendering."""


class BuildError(SitegenError):
    """The site as a whole is inconsistent (two pages on one URL) or cannot be written."""
