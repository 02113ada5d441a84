"""The wire-copy reader: plain-text articles as scraped from the wire, like the seed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup, escape

from sitegen.assets.publish import ArticleAssets
from sitegen.errors import ContentError
from sitegen.load.article import LoadSettings, assemble, count_words
from sitegen.load.figures import figure_html, published
from sitegen.load.metadata import Metadata
from sitegen.model import Article, Body, Figure
from sitegen.sanitize import safe_url

# Scraped copy keeps a space in an image's URL as it was typed: the URL runs to a title or the ')'.
_IMAGE = re.compile(r'^!\[(?P<alt>[^\]]*)\]\((?P<src>(?:[^()"]|\([^()"]*\))*)(?:"[^"]*"\s*)?\)\s*\|?$')
# A credit at the end of a caption: "Photo: X", "(Photo: X)", "Ảnh: X", "(Ảnh: TTXVN)".
_CREDIT = re.compile(
    r"(?:^|(?<=[\s.,;!?]))[(\[]?\s*(?P<label>photos?|ảnh|image|graphic|đồ họa|infographic|video)\s*:\s*"
    r"(?P<credit>[^()\[\]]*?[^\s()\[\].])\s*[)\]]?\s*\.?$",
    re.IGNORECASE,
)
# "./." is a full stop followed by the end mark "/."; the full stop belongs to the sentence,
# unless it stands apart ("sentence. ./.") and so is part of the mark.
_END_MARK = re.compile(r"\s*(\.?)\s*/\.\s*$")
_SOURCE = re.compile(r"^\(?\s*(?:source|sources|nguồn)\s*:\s*(?P<source>[^()]+?)\s*\)?\s*\.?$", re.IGNORECASE)


@dataclass(frozen=True)
class Paragraph:
    text: str
    line: int


@dataclass(frozen=True)
class WireCopy:
    """The parts of a wire-copy text; every string is plain text, not yet escaped."""

    headline: str
    standfirst: str
    blocks: tuple[Paragraph | Figure, ...]
    source: str | None
    # The line each figure of `blocks` was on, in order.
    figure_lines: tuple[int, ...] = ()


def split_credit(caption: str) -> tuple[str, str | None]:
    """Split a trailing 'Photo: X' style credit off a caption: (caption, credit or None)."""
    match = _CREDIT.search(caption)
    if not match:
        return caption.strip(), None
    return caption[: match.start()].strip(), match.group("credit").strip()


def strip_end_mark(text: str) -> str:
    """`text` without a closing '/.' mark; a line that was only './.' becomes empty."""
    match = _END_MARK.search(text)
    if not match:
        return text.strip()
    head = text[: match.start()]
    keep = "." if head.strip() and match.group(1) and not match.group(0)[0].isspace() else ""
    return (head + keep).strip()


def _caption_line(line: str) -> str | None:
    """The caption text if `line` is a caption cell (ends with '|'), else None."""
    stripped = line.strip()
    if not stripped.endswith("|"):
        return None
    return stripped.strip("|").strip()


def parse_wire_copy(text: str, path: Path | None = None, first_line: int = 1) -> WireCopy:
    """Parse wire copy: headline, standfirst, then paragraphs and image blocks, one per line."""
    lines = [(number, raw.strip()) for number, raw in enumerate(text.split("\n"), start=first_line)]
    lines = [(number, line) for number, line in lines if line]
    if not lines:
        raise ContentError("has no text", path, first_line, "line 1 must be the headline, line 2 the standfirst")
    headline = strip_end_mark(lines[0][1])
    if _IMAGE.match(lines[0][1]) or not headline:
        raise ContentError("the first line must be the headline", path, lines[0][0],
                           "put the headline on the first line, the standfirst on the second")
    rest = lines[1:]
    standfirst = ""
    if rest and not _IMAGE.match(rest[0][1]):
        standfirst = rest[0][1]
        rest = rest[1:]
    blocks: list[Paragraph | Figure] = []
    figure_lines: list[int] = []
    index = 0
    while index < len(rest):
        number, line = rest[index]
        image = _IMAGE.match(line)
        if image:
            caption, credit = "", None
            if index + 1 < len(rest) and not _IMAGE.match(rest[index + 1][1]):
                cell = _caption_line(rest[index + 1][1])
                if cell is not None:
                    caption, credit = split_credit(cell)
                    index += 1
            blocks.append(Figure(src=safe_url(image.group("src").strip()), alt=image.group("alt").strip(),
                                 caption=caption, credit=credit))
            figure_lines.append(number)
        else:
            blocks.append(Paragraph(line, number))
        index += 1
    source = None
    # The end mark './.' closes the article; a '(Source: VNA)' line may stand just before it.
    for _ in range(3):
        last = blocks[-1] if blocks else None
        if not isinstance(last, Paragraph):
            break
        blocks.pop()
        trimmed = strip_end_mark(last.text)
        found = _SOURCE.match(trimmed)
        if found and source is None:
            source = found.group("source")
        elif trimmed:
            blocks.append(Paragraph(trimmed, last.line))
            break
    return WireCopy(headline=headline, standfirst=strip_end_mark(standfirst),
                    blocks=tuple(blocks), source=source, figure_lines=tuple(figure_lines))


def blocks_html(blocks: tuple[Paragraph | Figure, ...], language: str, sizes: str = "100vw") -> Markup:
    """The article body as safe HTML: every piece of wire text is escaped. The first image is the lead."""
    lead = next((b for b in blocks if isinstance(b, Figure) and b.src), None)
    html = [
        figure_html(block, language, sizes, block is lead) if isinstance(block, Figure) else f"<p>{escape(block.text)}</p>"
        for block in blocks
    ]
    return Markup("\n".join(html))


def _publish_figures(wire: WireCopy, assets: ArticleAssets) -> tuple[Paragraph | Figure, ...]:
    """The blocks with every local photo published."""
    lines = iter(wire.figure_lines)
    return tuple(published(b, assets, next(lines, None)) if isinstance(b, Figure) else b for b in wire.blocks)


def read_wire_copy(path: Path, text: str, meta: Metadata, first_line: int,
                   settings: LoadSettings, assets: ArticleAssets) -> tuple[Article, Body]:
    """Build an article and its body from wire copy whose metadata has already been read."""
    wire = parse_wire_copy(text, path, first_line)
    language = meta.language or settings.language
    words = sum(count_words(b.text) for b in wire.blocks if isinstance(b, Paragraph))
    blocks = _publish_figures(wire, assets)
    if meta.image:
        # A lead photo named in the metadata opens the story, before the wire's own images.
        lead = Figure(src=meta.image, alt=meta.image_alt, caption=meta.image_caption, credit=meta.image_credit,
                      width=meta.image_width, height=meta.image_height)
        blocks = (published(lead, assets, None, from_metadata=True), *blocks)
    figures = tuple(b for b in blocks if isinstance(b, Figure))
    article = assemble(
        path, meta, settings,
        headline=meta.title or wire.headline,
        standfirst=meta.standfirst if meta.standfirst is not None else wire.standfirst,
        figures=figures,
        source=meta.source or wire.source,
    )
    sizes = settings.media.sizes if settings.media else "100vw"
    return article, Body(blocks_html(blocks, language, sizes), words)
