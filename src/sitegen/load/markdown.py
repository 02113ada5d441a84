"""The Markdown reader: `.md` with YAML front matter, body through Python-Markdown, then sanitised."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from html import unescape
from importlib import import_module
from pathlib import Path
from xml.etree.ElementTree import Element

import markdown as md
from markupsafe import Markup

from sitegen.assets.find import ATTACHMENT_TYPES, IMAGE_SUFFIXES, is_local, suffix_of
from sitegen.assets.markup import marked, picture_html
from sitegen.assets.publish import ArticleAssets
from sitegen.errors import ContentError
from sitegen.load.article import LoadSettings, assemble, count_words
from sitegen.load.figures import figure_html, published
from sitegen.load.links import BodyLinks, anchors_of, is_source_link
from sitegen.load.metadata import Metadata
from sitegen.model import Article, Body, Figure
from sitegen.sanitize import clean_html, clean_text

_H1 = re.compile(r"^#\s+(?P<title>.+?)\s*#*\s*$")
_TAG = re.compile(r"<[^>]+>")


# Python-Markdown tries every inline pattern on every run of text, and most news copy has no code,
# raw HTML, entities or escapes. A pattern cannot match where the characters it starts with are
# absent from the whole document, so such patterns are left out for it: the output is the same.
# (A tab before a line end becomes spaces before the patterns run, hence "\t\n" for linebreak, and raw
# HTML that opens a block mid-line is moved onto a line of its own, hence " <".)
# A reference link needs a definition, "[id]: url", to point at, so without "]:" none can match.
_NEEDS: dict[str, tuple[str, ...]] = {
    "backtick": ("`",), "escape": ("\\",), "footnote": ("[",), "reference": ("]:",), "link": ("[",),
    "image_link": ("![",), "image_reference": ("]:",), "short_reference": ("]:",), "short_image_ref": ("]:",),
    "autolink": ("<",), "automail": ("<",), "linebreak": (" \n", "\t\n", " <", "\t<"), "html": ("<",), "entity": ("&",),
    "em_strong": ("*", "_"), "em_strong2": ("_",), "not_strong": ("*", "_"),
}


# Likewise for whole extensions: each is left out of a document without the marks its syntax needs.
# A definition's colon need not start a line (raw HTML before it is stashed away first), only be
# followed by a space (tabs are expanded first).
EXTENSIONS = ("tables", "fenced_code", "footnotes", "def_list", "abbr", "sane_lists")
_EXTENSION_NEEDS: dict[str, tuple[str, ...]] = {
    "tables": ("|",), "fenced_code": ("```", "~~~"), "footnotes": ("[^",), "def_list": (": ", ":\t"),
    "abbr": ("*[",),
}


# Block processors likewise: each is tried on every block, and those that search a whole block
# (references, # headings, quotes, rules) cost a fifth of the parsing. Nested blocks are parsed again
# with their prefixes ("> ", list indents) stripped, so a probe allows for those; tabs become spaces
# before parsing, so a tab keeps the rule in. A Setext underline is a line of nothing but = or - (and
# spaces) after another; raw HTML before or after it may be moved onto a line of its own.
# Their names say "block:", as some (reference, footnote) are also the names of inline patterns.
_BLOCK_NEEDS: dict[str, tuple[str, ...]] = {
    "block:reference": ("]:",), "block:hashheader": ("#",), "block:quote": (">",),
    "block:hr": ("--", "- -", "-  -", "__", "_ _", "_  _", "**", "* *", "*  *", "\t"),
}
# Two searches, each starting with one literal character, rather than one for "[\n>]": a search
# whose pattern starts with a set tries it at every position, eight times as slow on a story.
_SETEXT_UNDERLINES = tuple(re.compile(start + rb"[ \t>]*(?:=+|-+)[ \t]*(?:[\n<]|$)") for start in (rb"\n", rb">"))

# The preprocessor that takes raw HTML blocks out passes the whole text through an HTML parser,
# which gives back what it was given when there is no tag and no character reference in it.
_PREPROCESSOR_NEEDS: dict[str, tuple[str, ...]] = {"pre:html_block": ("<", "&")}

# The last tree processor puts back characters that a backslash escaped (nothing else leaves its
# placeholders, and stray control characters are taken out of the source first), and walks every
# element's text to find none in copy without a backslash.
_TREE_NEEDS: dict[str, tuple[str, ...]] = {"tree:unescape": ("\\",)}

# Every probe as bytes: all are ASCII, which UTF-8 keeps as itself and never uses inside another
# character, and searching bytes is several times faster than a text holding one Vietnamese letter.
# A needle of two or more characters is searched for (slowly) only when each of its characters
# occurs (one fast scan each), and once: "]:" is the probe of five patterns.
_Needle = tuple[bytes, tuple[bytes, ...]]
_PROBES: tuple[tuple[str, tuple[_Needle, ...]], ...] = tuple(
    (name, tuple((needle.encode("ascii"), tuple(sorted({c.encode("ascii") for c in needle}))) for needle in needles))
    for table in (_NEEDS, _EXTENSION_NEEDS, _BLOCK_NEEDS, _PREPROCESSOR_NEEDS, _TREE_NEEDS)
    for name, needles in table.items())
_MARKS: tuple[bytes, ...] = tuple(sorted({mark for _, needles in _PROBES for _, marks in needles for mark in marks}))
_NEEDLES: tuple[tuple[bytes, frozenset[bytes]], ...] = tuple(sorted(
    {(chars, frozenset(marks)) for _, needles in _PROBES for chars, marks in needles if len(chars) > 1}))

# Within a document that needs some inline patterns, most paragraphs still need none: a pattern
# cannot match a text that holds none of these, where its expression starts (or, for a line
# break, all of it). Python-Markdown tries every pattern on every paragraph all the same.
_INLINE_STARTS: dict[str, tuple[str, ...]] = {
    "backtick": ("`",), "escape": ("\\",), "reference": ("[",), "link": ("[",), "image_link": ("![",),
    "image_reference": ("![",), "short_reference": ("[",), "short_image_ref": ("![",), "autolink": ("<",),
    "automail": ("<",), "linebreak": ("  \n",), "html": ("<",), "entity": ("&",), "em_strong": ("*", "_"),
    "footnote": ("[^",),
}

# The blocks some processors are tried on, one by one: most paragraphs of a story that has quotes
# and subheads have neither, and these processors search the whole block for a line that starts so.
_BLOCK_TESTS: dict[str, str] = {"quote": ">", "hashheader": "#"}


@lru_cache(maxsize=256)
def _converter(unneeded: frozenset[str]) -> md.Markdown:
    # Markdown Extra's parts but for md_in_html and attr_list (raw attributes are sanitised away anyway);
    # smarty is left out: it tripled the time per article and wire text already has its quotes.
    # Built from their modules, not by name: a name is looked up among every installed package's entry
    # points, which reads them all (a fifth of a small build's start) and lets another package claim it.
    extensions = [import_module(f"markdown.extensions.{name}").makeExtension()
                  for name in EXTENSIONS if name not in unneeded]
    converter = md.Markdown(extensions=extensions, output_format="html")
    for name in unneeded:
        registry = converter.inlinePatterns
        if name.startswith("block:"):
            registry, name = converter.parser.blockprocessors, name.removeprefix("block:")
        elif name.startswith("pre:"):
            registry, name = converter.preprocessors, name.removeprefix("pre:")
        elif name.startswith("tree:"):
            registry, name = converter.treeprocessors, name.removeprefix("tree:")
        if name in registry:
            registry.deregister(name)
    converter.preprocessors.register(_NormalizeWhitespace(converter), "normalize_whitespace", 30)
    starts = _inline_starts(converter.inlinePatterns)
    if starts is not None and "inline" in converter.treeprocessors and \
            hasattr(md.treeprocessors.InlineProcessor, "_InlineProcessor__handleInline"):
        converter.treeprocessors.register(_SkippingInlineProcessor(converter, starts), "inline", 20)
    for name, mark in _BLOCK_TESTS.items():
        if name in converter.parser.blockprocessors:
            processor = converter.parser.blockprocessors[name]
            processor.test = _probing(mark, processor.test)  # type: ignore[method-assign]
    for pattern in converter.inlinePatterns:
        if isinstance(pattern, md.inlinepatterns.LinkInlineProcessor):
            pattern.getText = _BracketText(pattern.getText)  # type: ignore[method-assign]
    return converter


class _NormalizeWhitespace(md.preprocessors.NormalizeWhitespace):
    """Python-Markdown's first step, the same but for how blank lines of spaces are found."""

    # Its own pattern, r"(?<=\n) +\n", checks the look-behind at every position: a tenth of
    # the conversion. This one starts with a line end, which is searched for quickly.
    _SPACE_LINE = re.compile(r"\n +(?=\n)")

    def run(self, lines: list[str]) -> list[str]:
        source = "\n".join(lines)
        source = source.replace(md.util.STX, "").replace(md.util.ETX, "")
        source = source.replace("\r\n", "\n").replace("\r", "\n") + "\n\n"
        source = source.expandtabs(self.md.tab_length)
        return self._SPACE_LINE.sub("\n", source).split("\n")


def _inline_starts(patterns: md.util.Registry[md.inlinepatterns.Pattern]) -> tuple[str, ...] | None:
    """What a text must hold for one of these inline patterns to match it; None when one is unknown."""
    active = [name for name in _INLINE_STARTS if name in patterns]
    # A pattern the table does not know (another version's, another extension's) may match anything.
    if len(active) != len(patterns):
        return None
    starts = {start for name in active for start in _INLINE_STARTS[name]}
    # Emphasis marks are a table of their own, which an extension may add to.
    if "em_strong" in patterns:
        starts.update(getattr(patterns["em_strong"], "delimiters", {}))
    return tuple(sorted(starts))


class _SkippingInlineProcessor(md.treeprocessors.InlineProcessor):
    """Python-Markdown's inline processor, which hands back a text no pattern can match untouched."""

    def __init__(self, converter: md.Markdown, starts: tuple[str, ...]) -> None:
        super().__init__(converter)
        self._starts = starts

    # What the base class calls as self.__handleInline, for each text and tail in the tree.
    def _InlineProcessor__handleInline(self, data: str, patternIndex: int = 0) -> str:  # noqa: N802, N803
        for start in self._starts:
            if start in data:
                return super()._InlineProcessor__handleInline(data, patternIndex)  # type: ignore[misc]
        return data


_BRACKETS = re.compile(r"[\[\]]")


class _BracketText:
    """A link pattern's `getText`, which finds the bracket closing the one its text starts after.

    Python-Markdown walks every character of the paragraph in Python to find the closing bracket of
    every position at once, and again after each link, as each changes the paragraph: a fifth of
    reading a story of the benchmark corpus. Here only the brackets are walked; the answer is the same.
    """

    def __init__(self, get_text: Callable[[str, int], tuple[str, int, bool]]) -> None:
        self._get_text = get_text
        self._data: str | None = None
        self._ends: dict[int, int] = {}

    def __call__(self, data: str, index: int) -> tuple[str, int, bool]:
        if index < 1 or index > len(data) or data[index - 1] != "[":
            return self._get_text(data, index)
        if self._data is not data:
            self._data, self._ends = data, _closing_brackets(data)
        end = self._ends.get(index)
        if end is None:
            return data[index:], len(data), False
        return data[index:end - 1], end, True


def _closing_brackets(data: str) -> dict[int, int]:
    """For the index after each "[" of `data`, the index after the "]" that closes it (none when none does)."""
    ends: dict[int, int] = {}
    opened: list[int] = []
    for found in _BRACKETS.finditer(data):
        at = found.start()
        if data[at] == "[":
            opened.append(at + 1)
        elif opened:
            ends[opened.pop()] = at + 1
    return ends


def _probing(mark: str, test: Callable[[Element, str], bool]) -> Callable[[Element, str], bool]:
    """A block processor's test that first checks the block holds the mark its pattern cannot match without."""
    return lambda parent, block: mark in block and test(parent, block)


def _unneeded_patterns(text: str) -> frozenset[str]:
    """The inline patterns, block processors, preprocessors and extensions with nothing to do in `text`."""
    data = text.encode("utf-8", "surrogatepass")
    present = frozenset(mark for mark in _MARKS if mark in data)
    # A needle of two or more characters is searched for only when each of them occurs.
    found = frozenset(chars for chars, marks in _NEEDLES if marks <= present and chars in data)
    underlined = any(pattern.search(data) for pattern in _SETEXT_UNDERLINES)
    return _unneeded_given(present | found, underlined)


@lru_cache(maxsize=1024)
def _unneeded_given(found: frozenset[bytes], underlined: bool) -> frozenset[str]:
    """What `_unneeded_patterns` leaves out of a text in which only the needles `found` occur."""
    unneeded = {name for name, needles in _PROBES if not any(chars in found for chars, _ in needles)}
    if not underlined:
        unneeded.add("block:setextheader")
    return frozenset(unneeded)


def markdown_to_html(text: str) -> str:
    """Markdown to sanitised HTML: raw HTML in the source goes through the allow-list."""
    # As Python-Markdown does first, so that the probes for unneeded patterns see the lines it will.
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    converter = _converter(_unneeded_patterns(text))
    converter.reset()
    return clean_html(converter.convert(text))


# The sanitiser writes every attribute as name="value", with '"' and '&' escaped inside.
_IMG = re.compile(r"<img\b([^>]*)>")
# Only links that may be local reach Python: most of a story's links have a scheme or are fragments.
_LINK = re.compile(r'(<a\b[^>]*?\bhref=")(?![A-Za-z][A-Za-z0-9+.-]*:|//|#)([^"]+)(")')
_ATTRIBUTE = re.compile(r'([a-z-]+)="([^"]*)"')


def _line_of(url: str, text: str, first_line: int) -> int:
    """The line of the body `text` (starting at `first_line`) that first names `url`.

    As a link or image's target first ("](/world" is not found inside "](../world/x.md)"), then anywhere.
    """
    for probe in (f"]({url}", f"]: {url}", f'"{url}"', f"'{url}'", f"<{url}>", url, url.split("/")[-1]):
        found = text.find(probe)
        if found >= 0:
            return first_line + text.count("\n", 0, found)
    return first_line


def publish_local_files(html: str, text: str, first_line: int, assets: ArticleAssets, sizes: str,
                        links: BodyLinks | None = None) -> str:
    """Sanitised body HTML with each local image published as a responsive picture and each linked file copied.

    A linked photo is published too (its widest variant), never as it was: its metadata may say where it was taken.
    Every other local link, to a story's source file or a page, is noted in `links` and left as its placeholder.
    """
    def image(match: re.Match[str]) -> str:
        attributes = {name: unescape(value) for name, value in _ATTRIBUTE.findall(match.group(1))}
        src = attributes.get("src", "")
        if not is_local(src):
            return match.group(0)
        return picture_html(assets.photo(src, _line_of(src, text, first_line)), attributes.get("alt", ""), sizes, marked)

    def link(match: re.Match[str]) -> str:
        href = unescape(match.group(2))
        local = is_local(href)
        suffix = suffix_of(href) if local else ""
        line = _line_of(href, text, first_line)
        if links is not None and local and (is_source_link(href) or suffix not in ATTACHMENT_TYPES.keys() | IMAGE_SUFFIXES):
            return f"{match.group(1)}{links.add(href, line)}{match.group(3)}"
        if suffix in ATTACHMENT_TYPES:
            url = assets.attachment(href, line).url
        elif suffix in IMAGE_SUFFIXES:
            url = assets.photo(href, line).fallback[-1].url
        else:
            return match.group(0)
        # A fragment (a PDF's #page=3) still applies to the copy.
        fragment = href[href.index("#"):] if "#" in href else ""
        return f"{match.group(1)}{marked(url)}{str(escape_attribute(fragment))}{match.group(3)}"

    if "<img" in html:
        html = _IMG.sub(image, html)
    if "<a" in html:
        html = _LINK.sub(link, html)
    return html


def escape_attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;")


def read_markdown(path: Path, text: str, meta: Metadata, first_line: int,
                  settings: LoadSettings, assets: ArticleAssets) -> tuple[Article, Body]:
    """Build an article and its body from Markdown whose front matter has already been read."""
    headline = meta.title
    body = text
    if not headline:
        lines = text.lstrip("\n").split("\n", 1)
        match = _H1.match(lines[0])
        if not match:
            raise ContentError("has no title", path, first_line,
                               "add 'title: ...' to the front matter or start the body with '# Title'")
        headline = match.group("title")
        body = lines[1] if len(lines) > 1 else ""
    html = markdown_to_html(body)
    # Markdown puts a line break between blocks, so dropping tags joins no words; entities such as
    # &nbsp; separate them.
    words = count_words(unescape(_TAG.sub("", html)))
    sizes = settings.media.sizes if settings.media else "100vw"
    figures: tuple[Figure, ...] = ()
    if meta.image:
        figure = Figure(src=meta.image, alt=meta.image_alt, caption=meta.image_caption, credit=meta.image_credit,
                        width=meta.image_width, height=meta.image_height)
        figures = (published(figure, assets, None, from_metadata=True),)
    # The body's title line, when it had one, is gone from `body`, so its lines start one later.
    links = BodyLinks(path, settings.media.root if settings.media else None)
    html = publish_local_files(html, body, first_line + (text.count("\n") - body.count("\n")), assets, sizes, links)
    if figures:
        # The lead image opens the body, marked up exactly as a wire-copy figure is.
        html = figure_html(figures[0], meta.language or settings.language, sizes, lead=True) + "\n" + html
    standfirst = meta.standfirst or ""
    article = assemble(
        path, meta, settings,
        headline=clean_text(headline),
        standfirst=standfirst,
        figures=figures,
        source=meta.source,
    )
    if links.found or ' id="' in html:
        article = replace(article, links=tuple(links.found), anchors=anchors_of(html))
    return article, Body(Markup(html), words)
