"""Responsive image markup: <picture> with a <source> per modern format, and an <img> every browser shows."""

from __future__ import annotations

import re
from collections.abc import Callable

from markupsafe import escape

from sitegen.assets.photos import MEDIA_URL
from sitegen.model import Image, Variant

# How a body kept in the cache refers to a published file: a private-use character no wire copy or
# Markdown yields in an attribute, then its name. Rendering turns each into a URL for the page.
MEDIA_MARK = "\ue000media:"
_MARKED = re.compile("\ue000media:([A-Za-z0-9._~-]+)")


def marked(url: str) -> str:
    """The body's placeholder for a published file's site path."""
    return MEDIA_MARK + url.removeprefix(MEDIA_URL)


def resolve_marks(html: str, url: Callable[[str], str]) -> str:
    """`html` with every placeholder replaced by `url(site path)` of the page it goes on."""
    if MEDIA_MARK not in html:
        return html
    return _MARKED.sub(lambda match: url(MEDIA_URL + match.group(1)), html)


def _srcset(variants: tuple[Variant, ...], url: Callable[[str], str]) -> str:
    return ", ".join(f"{url(v.url)} {v.width}w" for v in variants)


def picture_html(image: Image, alt: str, sizes: str, url: Callable[[str], str], *, lead: bool = False,
                 css_class: str = "", limit: int = 0) -> str:
    """Markup for a published photo; `lead` loads it first, others when scrolled near.

    `limit` leaves out variants wider than it (cards need no 1600 px photo).
    """
    def within(variants: tuple[Variant, ...]) -> tuple[Variant, ...]:
        kept = tuple(v for v in variants if not limit or v.width <= limit)
        return kept or variants[:1]

    fallback = within(image.fallback)
    default = image.default if image.default in fallback else fallback[-1]
    loading = ' fetchpriority="high" decoding="async"' if lead else ' loading="lazy" decoding="async"'
    size = f' width="{default.width}" height="{default.height}"' if default.width and default.height else ""
    css = f' class="{escape(css_class)}"' if css_class else ""
    responsive = len(fallback) > 1 or image.modern_types
    sizes_attribute = f' sizes="{escape(sizes)}"' if responsive else ""
    srcset = f' srcset="{_srcset(fallback, url)}"' if len(fallback) > 1 else ""
    # An <img> may only say `sizes` beside its own srcset (a photo too small for more than one width has none).
    img_sizes = sizes_attribute if srcset else ""
    img = (f'<img{css} src="{url(default.url)}"{srcset}{img_sizes} alt="{escape(alt)}"{size}{loading}>')
    if not image.modern_types:
        return img
    sources = "".join(f'<source type="{kind}" srcset="{_srcset(within(image.of_type(kind)), url)}"{sizes_attribute}>'
                      for kind in image.modern_types)
    return f"<picture>{sources}{img}</picture>"
