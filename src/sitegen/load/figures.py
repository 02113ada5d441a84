"""Figure markup shared by the readers: image, caption and a separately marked-up credit."""

from __future__ import annotations

from markupsafe import escape

from sitegen.model import Figure

CREDIT_LABELS = {"vi": "Ảnh", "en": "Photo", "fr": "Photo", "de": "Foto", "es": "Foto"}


def credit_label(language: str) -> str:
    """The word that introduces a photo credit in `language`."""
    return CREDIT_LABELS.get(language.split("-")[0].lower(), "Photo")


def figure_html(figure: Figure, language: str) -> str:
    """A `<figure>` for one image; no `<img>` at all when the source was lost."""
    parts = ['<figure class="figure">']
    if figure.src:
        size = f' width="{figure.width}" height="{figure.height}"' if figure.width and figure.height else ""
        parts.append(f'<img src="{escape(figure.src)}" alt="{escape(figure.alt)}"{size} loading="lazy" decoding="async">')
    if figure.caption or figure.credit:
        caption = f'<span class="figure-caption">{escape(figure.caption)}</span>' if figure.caption else ""
        credit = (f'<span class="figure-credit">{escape(credit_label(language))}: {escape(figure.credit)}</span>'
                  if figure.credit else "")
        parts.append(f"<figcaption>{caption}{' ' if caption and credit else ''}{credit}</figcaption>")
    parts.append("</figure>")
    return "".join(parts)
