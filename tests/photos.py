"""Real photos made for the tests with Pillow: EXIF orientation and GPS, transparency, colour profiles."""

from __future__ import annotations

import io
import struct

from PIL import Image

ORIENTATION, GPS_IFD = 0x0112, 0x8825


def jpeg(size: tuple[int, int] = (3000, 2000), orientation: int = 1, gps: bool = True, colour: int = 0,
         profile: bytes | None = None) -> bytes:
    """A JPEG whose left half is red and right half blue (so a rotation shows), with EXIF GPS and orientation."""
    image = Image.new("RGB", size, (200, 30 + colour % 200, 30))
    image.paste((30, 30, 200), (size[0] // 2, 0, size[0], size[1]))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "PhoneMaker"  # camera make
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (16.0, 3.0, 52.0), 3: "E", 4: (108.0, 13.0, 12.0)}
    buffer = io.BytesIO()
    options = {"exif": exif, "quality": 90, "comment": b"secret note"}
    if profile:
        options["icc_profile"] = profile
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def png(size: tuple[int, int] = (900, 600), alpha: bool = True) -> bytes:
    image = Image.new("RGBA" if alpha else "RGB", size, (255, 0, 0, 128) if alpha else (255, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def grey_with_profile(value: int, profile: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (value, value, value)).save(buffer, "PNG", icc_profile=profile)
    return buffer.getvalue()


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def linear_rgb_profile() -> bytes:
    """An ICC v2 display profile with sRGB's primaries and a gamma of 1.0 (linear light).

    A pixel of 128 in it is half the light, which sRGB writes as about 188: a test sees whether
    the profile was applied.
    """
    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \0\0\0\0" + _s15(x) + _s15(y) + _s15(z)

    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, 0x0100) + b"\0\0"
    text = b"linear sRGB\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 8 + b"\0\0\0" + b"\0" * 67
    tags = [(b"desc", desc), (b"wtpt", xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", xyz(0.4361, 0.2225, 0.0139)),
            (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)), (b"bXYZ", xyz(0.1431, 0.0606, 0.7141)),
            (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve), (b"cprt", b"text\0\0\0\0none\0\0\0\0")]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body + b"\0" * (-len(body) % 4)
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"\0\0\0\0" + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
              + b"\0" * 12 + b"acsp" + b"\0" * 24 + struct.pack(">I", 0) + _s15(0.9642) + _s15(1.0) + _s15(0.8249)
              + b"\0" * 48)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data
