"""Figure markup shared by the readers: image, caption and a separately marked-up credit."""

from __future__ import annotations

from dataclasses import replace

from markupsafe import escape

from sitegen.assets.find import is_local
from sitegen.assets.markup import marked, picture_html
from sitegen.assets.publish import ArticleAssets
from sitegen.model import Figure

CREDIT_LABELS = {"vi": "Ảnh", "en": "Photo", "fr": "Photo", "de": "Foto", "es": "Foto"}


def credit_label(language: str) -> str:
    """The word that introduces a photo credit in `language`."""
    return CREDIT_LABELS.get(language.split("-")[0].lower(), "Photo")


def published(figure: Figure, assets: ArticleAssets, line: int | None, from_metadata: bool = False) -> Figure:
    """`figure` with its local photo published: `src` its default variant, with its size; a remote one as it is."""
    if not figure.src or not is_local(figure.src):
        return figure
    image = assets.metadata_photo(figure.src) if from_metadata else assets.photo(figure.src, line)
    default = image.default
    return replace(figure, src=default.url, width=default.width or None, height=default.height or None, image=image)


def figure_html(figure: Figure, language: str, sizes: str = "100vw", lead: bool = False) -> str:
    """A `<figure>` for one image; no `<img>` at all when the source was lost. The `lead` image loads first."""
    parts = ['<figure class="figure">']
    if figure.image is not None:
        parts.append(picture_html(figure.image, figure.alt, sizes, marked, lead=lead))
    elif figure.src:
        size = f' width="{figure.width}" height="{figure.height}"' if figure.width and figure.height else ""
        loading = ' fetchpriority="high"' if lead else ' loading="lazy"'
        parts.append(f'<img src="{escape(figure.src)}" alt="{escape(figure.alt)}"{size}{loading} decoding="async">')
    if figure.caption or figure.credit:
        caption = f'<span class="figure-caption">{escape(figure.caption)}</span>' if figure.caption else ""
        credit = (f'<span class="figure-credit">{escape(credit_label(language))}: {escape(figure.credit)}</span>'
                  if figure.credit else "")
        parts.append(f"<figcaption>{caption}{' ' if caption and credit else ''}{credit}</figcaption>")
    parts.append("</figure>")
    return "".join(parts)
