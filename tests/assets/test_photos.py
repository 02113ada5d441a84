"""The Pillow pipeline: upright, sRGB, no metadata, never upscaled, the right formats, deterministic."""

from __future__ import annotations

import io

import pytest
from PIL import Image, features

from sitegen.assets.photos import Encoding, Unreadable, decode, process, target_widths
from tests.photos import GPS_IFD, ORIENTATION, grey_with_profile, jpeg, linear_rgb_profile, png

ENCODING = Encoding((480, 800, 1200, 1600), 80, False)


def variants(data: bytes, encoding: Encoding = ENCODING) -> list[tuple[str, Image.Image, bytes]]:
    image, files = process(data, "photo", encoding.key("photo", data), encoding)
    assert [name for name, _ in files] == [v.url.removeprefix("/media/") for v in image.variants]
    return [(name, Image.open(io.BytesIO(blob)), blob) for name, blob in files]


def test_no_metadata_survives_in_any_variant() -> None:
    found = variants(jpeg(profile=linear_rgb_profile()))
    assert len(found) == 8
    for name, opened, blob in found:
        exif = opened.getexif()
        assert not exif and GPS_IFD not in exif and ORIENTATION not in exif, name
        assert not {"exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment"} & opened.info.keys(), (name, opened.info)
        # No trace of the GPS block, the camera or the comment in the bytes either.
        assert b"PhoneMaker" not in blob and b"secret note" not in blob and b"Exif" not in blob, name


def test_a_photo_rotated_by_exif_comes_out_upright() -> None:
    # Stored landscape, red left and blue right; orientation 6 says: turn it a quarter clockwise to show.
    for _, opened, _ in variants(jpeg((1200, 800), orientation=6)):
        width, height = opened.size
        assert height > width
        top, bottom = opened.convert("RGB").getpixel((width // 2, 5)), opened.convert("RGB").getpixel((width // 2, height - 5))
        assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]


def test_widths_never_upscale_and_the_original_counts_as_one() -> None:
    assert target_widths(3000, (480, 800, 1200, 1600)) == [480, 800, 1200, 1600]
    assert target_widths(1000, (480, 800, 1200, 1600)) == [480, 800, 1000]
    assert target_widths(300, (480, 800, 1200, 1600)) == [300]
    image, _ = process(jpeg((1000, 700)), "p", "k" * 64, ENCODING)
    assert sorted({v.width for v in image.variants}) == [480, 800, 1000]
    assert all(v.width <= 1000 for v in image.variants)
    # Height follows the aspect ratio.
    assert {(v.width, v.height) for v in image.variants} == {(480, 336), (800, 560), (1000, 700)}


def test_formats_jpeg_for_photos_png_where_transparent() -> None:
    assert {opened.format for _, opened, _ in variants(jpeg((900, 600)))} == {"WEBP", "JPEG"}
    transparent = variants(png(alpha=True))
    assert {opened.format for _, opened, _ in transparent} == {"WEBP", "PNG"}
    assert all(opened.mode in ("RGBA", "RGBa") or "A" in opened.getbands() for _, opened, _ in transparent)


def test_a_colour_profile_is_applied_not_dropped() -> None:
    # 128 in a linear-light profile is half the light: about 188 in sRGB. Dropping the profile would leave 128.
    converted = decode(grey_with_profile(128, linear_rgb_profile())).getpixel((5, 5))
    assert all(180 <= channel <= 196 for channel in converted)
    # Without a profile the pixels are taken as sRGB already.
    assert decode(png((10, 10), alpha=False)).getpixel((1, 1)) == (255, 0, 0)


@pytest.mark.parametrize("data", [b"", b"not an image at all", jpeg((400, 300))[:600], b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_corrupt_or_truncated_images_are_unreadable(data: bytes) -> None:
    with pytest.raises(Unreadable):
        process(data, "p", "k" * 64, ENCODING)


def test_processing_is_deterministic_and_names_carry_the_settings() -> None:
    data = jpeg((900, 600))
    first, second = variants(data), variants(data)
    assert [(n, b) for n, _, b in first] == [(n, b) for n, _, b in second]
    other = Encoding(ENCODING.widths, 60, False)
    assert ENCODING.key("photo", data) != other.key("photo", data) != other.key("photo", data + b"x")


@pytest.mark.skipif(not features.check("avif"), reason="this Pillow cannot write AVIF")
def test_avif_is_offered_when_asked() -> None:
    found = variants(jpeg((900, 600)), Encoding(ENCODING.widths, 60, True))
    assert {opened.format for _, opened, _ in found} == {"AVIF", "WEBP", "JPEG"}
