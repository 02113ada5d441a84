"""Photos with Pillow: turned upright, converted to sRGB, stripped of all metadata, resized and encoded."""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import PIL
from PIL import Image as PILImage
from PIL import ImageCms, ImageOps, features

from sitegen.model import Image, Variant

MEDIA_URL = "/media/"
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


class Unreadable(Exception):
    """The file is not an image Pillow can decode (corrupt, truncated, unsupported or too large)."""


@dataclass(frozen=True)
class Encoding:
    """What decides a photo's published bytes, besides its own: part of every file name's hash."""

    widths: tuple[int, ...]
    quality: int
    avif: bool

    def key(self, stem: str, data: bytes) -> str:
        digest = hashlib.sha256(f"sitegen photo 1\0{PIL.__version__}\0{self!r}\0{stem}\0".encode())
        digest.update(data)
        return digest.hexdigest()


def target_widths(width: int, widths: tuple[int, ...]) -> list[int]:
    """The widths to publish a photo `width` pixels wide at: never wider than it; its own when narrower than the widest."""
    chosen = {w for w in widths if w < width}
    if width <= max(widths):
        chosen.add(width)
    return sorted(chosen)


def has_alpha(image: PILImage.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info)


def _to_srgb(image: PILImage.Image, alpha: bool) -> PILImage.Image:
    """`image` in sRGB, 8 bits a channel, with alpha only if it had any; an embedded colour profile is applied."""
    mode = "RGBA" if alpha else "RGB"
    profile = image.info.get("icc_profile")
    if profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            if image.mode not in ("RGB", "RGBA", "CMYK", "L", "LA"):
                image = image.convert(mode)
            if image.mode == "LA":
                image = image.convert("RGBA")
            return ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode if image.mode != "L" else "RGB",
                                             renderingIntent=ImageCms.Intent.PERCEPTUAL) or image
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # A broken profile: the pixels as they are, which is what most browsers would show.
    return image.convert(mode) if image.mode != mode else image


def decode(data: bytes) -> PILImage.Image:
    """The photo upright, in sRGB, with no metadata left; Unreadable when Pillow cannot decode it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as opened:
                opened.load()
                upright = ImageOps.exif_transpose(opened)
                image = _to_srgb(upright, has_alpha(upright))
    except (PILImage.DecompressionBombWarning, PILImage.DecompressionBombError) as error:
        raise Unreadable(f"is too large to process safely ({error})") from None
    except (PIL.UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as error:
        raise Unreadable(f"is not an image sitegen can read ({error})") from None
    # A new image holds pixels alone: no EXIF (GPS, camera, owner), XMP, IPTC, comments or profile.
    clean = PILImage.new(image.mode, image.size)
    clean.paste(image)
    return clean


def _encodings(alpha: bool, encoding: Encoding) -> Iterator[tuple[str, str, dict[str, object]]]:
    """(suffix, media type, Pillow save options) of every format a photo is published in."""
    quality = encoding.quality
    if encoding.avif and features.check("avif"):
        yield "avif", "image/avif", {"format": "AVIF", "quality": quality, "speed": 6, "max_threads": 1}
    yield "webp", "image/webp", {"format": "WEBP", "quality": quality, "method": 4, "exact": False}
    if alpha:
        yield "png", "image/png", {"format": "PNG", "optimize": False, "compress_level": 6}
    else:
        yield "jpg", "image/jpeg", {"format": "JPEG", "quality": quality, "optimize": True, "progressive": True}


def process(data: bytes, stem: str, key: str, encoding: Encoding) -> tuple[Image, list[tuple[str, bytes]]]:
    """Every variant of a photo: the model's view of them and the files, named `stem-hash-width.suffix`."""
    image = decode(data)
    alpha = image.mode == "RGBA"
    width, height = image.size
    files: list[tuple[str, bytes]] = []
    variants: list[Variant] = []
    sized: list[PILImage.Image] = []
    current = image
    # Widest first, each made from the one before: a third of the resampling work of starting from the original.
    for target in reversed(target_widths(width, encoding.widths)):
        size = (target, max(1, round(height * target / width)))
        current = current if current.size == size else current.resize(size, PILImage.Resampling.LANCZOS,
                                                                       reducing_gap=3.0)
        sized.append(current)
    sized.reverse()
    for suffix, media_type, options in _encodings(alpha, encoding):
        for resized in sized:
            buffer = io.BytesIO()
            resized.save(buffer, **options)  # type: ignore[arg-type]
            name = f"{stem}-{key[:16]}-{resized.width}.{suffix}"
            files.append((name, buffer.getvalue()))
            variants.append(Variant(MEDIA_URL + name, resized.width, resized.height, media_type, buffer.tell()))
    return Image(width, height, tuple(variants)), files


def size_of(data: bytes) -> tuple[int, int]:
    """The pixel size of an image published as it is (a GIF); (0, 0) when Pillow cannot tell."""
    try:
        with PILImage.open(io.BytesIO(data)) as opened:
            return opened.size
    except (PIL.UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return (0, 0)
