"""What every reader shares: turning parsed parts plus metadata into one `Article`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from sitegen.assets.publish import MediaSettings
from sitegen.config import RESERVED_PATHS
from sitegen.errors import ContentError
from sitegen.load.metadata import Metadata
from sitegen.model import Article, Figure, Term
from sitegen.slugs import slug_or_hash, slugify


def count_words(text: str) -> int:
    """Words as a reader (and `wc -w`) counts them: runs of anything but white space."""
    # str.split runs in C; a \w+ regex over a long body took a tenth of an article's reading time.
    return len(text.split())

# The folder of a site that holds its articles.
CONTENT_DIR = "seeds"


@dataclass(frozen=True)
class LoadSettings:
    """The few config values readers need, so load does not depend on the whole config."""

    language: str
    tz: ZoneInfo
    default_section: str
    sections: tuple[Term, ...] = ()
    # Where local photos and files are found and how they are published; None: beside each article.
    media: MediaSettings | None = None

    def section(self, name: str) -> Term:
        """The configured section `name` refers to (by name or slug), else a new one."""
        slug = slug_or_hash(name, "section")
        for term in self.sections:
            if term.slug == slug or term.name.casefold() == name.casefold():
                return term
        # Sections live at the top level, beside /tags/ and /archive/: a clashing one moves aside.
        return Term(name, f"{slug}-section" if slug in RESERVED_PATHS else slug)


def _slug(path: Path, meta: Metadata, headline: str, metadata_line: int) -> str:
    if meta.slug is not None:
        slug = slugify(meta.slug)
        if not slug:
            raise ContentError(f"slug {meta.slug!r} has no letters or digits to make a URL from", path,
                               metadata_line, "use lowercase ASCII words joined by '-'")
        return slug
    return slugify(headline) or slugify(path.stem) or slug_or_hash(headline, "article")


def assemble(
    path: Path,
    meta: Metadata,
    settings: LoadSettings,
    *,
    headline: str,
    standfirst: str,
    figures: tuple[Figure, ...],
    source: str | None,
    metadata_line: int = 1,
) -> Article:
    """Combine a reader's parsed parts with metadata and site defaults."""
    return Article(
        source_path=path,
        slug=_slug(path, meta, headline, metadata_line),
        headline=headline,
        standfirst=standfirst,
        figures=figures,
        published=meta.published,
        updated=meta.updated,
        authors=tuple(Term(name, slug_or_hash(name, "author")) for name in meta.authors),
        section=settings.section(meta.section or settings.default_section),
        tags=tuple(Term(name, slug_or_hash(name, "tag")) for name in meta.tags),
        language=meta.language or settings.language,
        draft=meta.draft,
        source=source,
        corrections=meta.corrections,
        story_id=meta.id,
        aliases=meta.aliases,
    )
