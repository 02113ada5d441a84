"""A small, fast XML writer: every text and attribute value is escaped, nothing goes in CDATA."""

from __future__ import annotations

from sitegen.sanitize import clean_text

DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'


def text(value: str) -> str:
    """Character data: forbidden characters dropped, markup characters escaped."""
    # Chained str.replace runs in C; str.translate with a dict is many times slower on long bodies.
    return clean_text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def attribute(value: str) -> str:
    escaped = text(value).replace('"', "&quot;")
    return escaped.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")


class XmlWriter:
    """Builds an indented document element by element."""

    def __init__(self, depth: int = 0) -> None:
        self.parts: list[str] = []
        self.depth = depth

    def _start(self, tag: str, attributes: dict[str, str]) -> str:
        attrs = "".join(f' {name}="{attribute(value)}"' for name, value in attributes.items())
        return f"{'  ' * self.depth}<{tag}{attrs}"

    def open(self, tag: str, attributes: dict[str, str] | None = None) -> None:
        self.parts.append(self._start(tag, attributes or {}) + ">\n")
        self.depth += 1

    def close(self, tag: str) -> None:
        self.depth -= 1
        self.parts.append(f"{'  ' * self.depth}</{tag}>\n")

    def leaf(self, tag: str, content: str | None = None, attributes: dict[str, str] | None = None) -> None:
        start = self._start(tag, attributes or {})
        self.parts.append(f"{start} />\n" if content is None else f"{start}>{text(content)}</{tag}>\n")

    def raw(self, fragment: str) -> None:
        """A fragment this module already wrote (a feed entry)."""
        self.parts.append(fragment)

    def getvalue(self) -> str:
        return "".join(self.parts)
