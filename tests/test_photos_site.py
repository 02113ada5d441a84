"""Photos through a whole build: every variant reachable, no metadata out, cached, deterministic, live in serve."""

from __future__ import annotations

import io
import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import feedparser
import lxml.html
import pytest
from PIL import Image

from sitegen.assets import publish
from sitegen.build import BuildOptions
from sitegen.serve import ServeOptions, Server
from tests.conftest import SITES, build_into, write
from tests.photos import jpeg, png
from tests.test_build import tree_digest
from tests.test_site_e2e import html_files, page_url, resolve
from tests.test_theme_browser import browsing

STORY = "---\ntitle: Photo story\ndate: 2024-01-02\nsection: World\nimage: photo.jpg\nimage_alt: A photo\n---\n{body}\n"


@pytest.fixture(scope="module")
def newsroom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("photos") / "news"
    assert not build_into(SITES / "newsroom", out, cache=False).errors
    return out


def candidates(document: lxml.html.HtmlElement) -> list[str]:
    """Every URL an <img> or <source> may load: src and each srcset candidate."""
    urls = [img.get("src") for img in document.xpath("//img")]
    for element in document.xpath("//img[@srcset] | //source[@srcset]"):
        urls += [part.strip().split(" ")[0] for part in element.get("srcset").split(",")]
    return urls


def test_every_src_and_srcset_candidate_is_a_file(newsroom: Path) -> None:
    checked = 0
    for file in html_files(newsroom):
        current = page_url(newsroom, file) if file.name != "404.html" else "/"
        for url in candidates(lxml.html.fromstring(file.read_bytes())):
            target = resolve(newsroom, current, url, "/news/")
            if target is not None:
                assert target.is_file(), f"{url} on {current}"
                checked += 1
    assert checked > 30


def test_no_published_image_carries_metadata_and_none_is_upscaled(newsroom: Path) -> None:
    images = [p for p in (newsroom / "media").iterdir() if p.suffix in (".jpg", ".png", ".webp")]
    # The stadium at 480, 800 and its own 1200; the map at 480 and its own 640; each in two formats.
    assert len(images) == 10
    for path in images:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as opened:
            assert not opened.getexif() and "icc_profile" not in opened.info and "exif" not in opened.info, path.name
            # The stadium photo is 1200 px wide once upright, the map 640 px.
            assert opened.width <= (1200 if path.name.startswith("stadium") else 640), path.name
        assert b"PhoneMaker" not in data and b"secret note" not in data, path.name
    stadium = next(p for p in images if p.name.startswith("stadium") and p.suffix == ".jpg")
    with Image.open(stadium) as opened:
        assert opened.height > opened.width  # upright: EXIF said so


def test_markup_lead_and_lazy_images_with_their_sizes(newsroom: Path) -> None:
    page = lxml.html.fromstring((newsroom / "world/fans-celebrate-as-team-wins/index.html").read_bytes())
    lead, inline = page.xpath("//div[@class='article-body']//img")
    assert lead.get("fetchpriority") == "high" and lead.get("loading") is None
    assert inline.get("loading") == "lazy" and inline.get("decoding") == "async"
    for img in (lead, inline):
        assert img.get("width") and img.get("height") and img.get("sizes")
        # (libxml2 does not know <source> is empty, and puts the <img> inside it.)
        assert img.xpath("ancestor::picture[1]//source/@type") == ["image/webp"]
    assert page.xpath("//a[starts-with(@href, '../../media/match-report-') and contains(@href, '.pdf')]")
    meta = {m.get("property") or m.get("name"): m.get("content") for m in page.xpath("//meta[@content]")}
    assert meta["og:image"].startswith("https://example.org/news/media/stadium-") and meta["og:image"].endswith("-1200.jpg")
    assert (meta["og:image:width"], meta["og:image:height"]) == ("1200", "1800")
    assert meta["twitter:card"] == "summary_large_image" and meta["twitter:image"] == meta["og:image"]
    data = json.loads(page.xpath("//script[@type='application/ld+json']/text()")[0])
    assert data[0]["image"] == [{"@type": "ImageObject", "url": meta["og:image"], "width": 1200, "height": 1800}]
    # Cards show a small variant, never the 1600 px one.
    card = lxml.html.fromstring((newsroom / "world/index.html").read_bytes()).xpath("//img[@class='card-image']")
    assert card and all("-1200." not in url for url in candidates(card[0]))


def test_feeds_carry_the_photos_type_and_length(newsroom: Path) -> None:
    for name in ("feed.xml", "rss.xml"):
        feed = feedparser.parse((newsroom / "world" / name).read_bytes())
        assert not feed.bozo, name
        entry = next(e for e in feed.entries if "Fans" in e.title)
        enclosure = entry.enclosures[0]
        local = newsroom / "media" / enclosure.href.rsplit("/", 1)[1]
        assert enclosure.type == "image/jpeg" and int(enclosure.length) == local.stat().st_size, name


def photo_site(make_site: Callable[..., Path], body: str = "Text.", **files: bytes | str) -> Path:
    return make_site({"seeds/world/story.md": STORY.format(body=body), "seeds/world/photo.jpg": jpeg((1000, 700)),
                      **files}, config='title = "T"\nbase_url = "https://example.org/"\n')


def counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    original = publish.process

    def process(data: bytes, stem: str, key: str, encoding: object) -> object:
        calls.append(stem)
        return original(data, stem, key, encoding)  # type: ignore[arg-type]

    monkeypatch.setattr(publish, "process", process)
    return calls


def test_a_photo_is_processed_once_across_builds_and_stories(make_site: Callable[..., Path], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    site = photo_site(make_site, "![Again](photo.jpg)", **{"seeds/world/other.md": STORY.format(body="Other.").replace(
        "Photo story", "Other story")})
    calls = counting(monkeypatch)
    build_into(site, tmp_path / "out", workers=1)
    assert calls == ["photo"]  # one photo, three uses, one processing
    write(site / "seeds/world/story.md", STORY.format(body="New text, same photo."))
    build_into(site, tmp_path / "out", workers=1)
    build_into(site, tmp_path / "again", workers=1)
    assert calls == ["photo"]
    # New settings are new files: the photo is processed again, and the old files leave the store and the site.
    write(site / "sitegen.toml", 'title = "T"\nbase_url = "https://example.org/"\n[images]\nquality = 55\n')
    before = set((site / ".sitegen-cache/media/files").iterdir())
    build_into(site, tmp_path / "out", workers=1)
    assert calls == ["photo", "photo"]
    after = set((site / ".sitegen-cache/media/files").iterdir())
    assert after and not before & after
    assert {p.name for p in (tmp_path / "out/media").iterdir()} == {p.name for p in after}


def test_replacing_a_photo_updates_the_site_as_a_fresh_build_would(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = photo_site(make_site)
    out = tmp_path / "out"
    build_into(site, out)
    old = {p.name for p in (out / "media").iterdir()}
    write(site / "seeds/world/photo.jpg", jpeg((1000, 700), colour=120))
    report = build_into(site, out)
    assert not report.unchanged and not report.errors
    assert not old & {p.name for p in (out / "media").iterdir()}
    build_into(site, tmp_path / "fresh", cache=False)
    assert tree_digest(out) == tree_digest(tmp_path / "fresh")
    # And back: the first photo's files come back from the store.
    assert build_into(site, out).unchanged


def test_a_broken_photo_fails_its_story_alone(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = photo_site(make_site, **{"seeds/world/bad.md": "---\ntitle: Bad\nimage: missing.jpg\n---\nx\n",
                                    "seeds/world/corrupt.md": "---\ntitle: C\nimage: c.png\n---\nx\n",
                                    "seeds/world/c.png": b"\x89PNG\r\n\x1a\nbroken"})
    report = build_into(site, tmp_path / "out")
    assert sorted((e.path.name, e.line) for e in report.errors) == [("bad.md", 3), ("corrupt.md", 3)]
    assert (tmp_path / "out/world/photo-story/index.html").is_file() and report.articles == 1


def test_drafts_photos_are_not_published(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = photo_site(make_site, **{"seeds/world/draft.md": "---\ntitle: D\ndraft: true\nimage: secret.png\n---\nx\n",
                                    "seeds/world/secret.png": png((300, 200))})
    build_into(site, tmp_path / "out")
    assert not [p for p in (tmp_path / "out/media").iterdir() if p.name.startswith("secret")]
    build_into(site, tmp_path / "drafts", drafts=True)
    assert [p for p in (tmp_path / "drafts/media").iterdir() if p.name.startswith("secret")]


def test_output_is_byte_identical_across_runs_and_workers(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = photo_site(make_site, "![Map](map.png)", **{"seeds/world/map.png": png((700, 500))})
    build_into(site, tmp_path / "one", workers=1, cache=False)
    build_into(site, tmp_path / "two", workers=2, cache=False)
    build_into(site, tmp_path / "three", workers=2)
    assert tree_digest(tmp_path / "one") == tree_digest(tmp_path / "two") == tree_digest(tmp_path / "three")


def test_the_cache_folder_can_live_elsewhere(make_site: Callable[..., Path], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    site = photo_site(make_site)
    build_into(site, tmp_path / "out", cache_dir=tmp_path / "ci-cache")
    assert any((tmp_path / "ci-cache/media/files").iterdir()) and not (site / ".sitegen-cache").exists()
    monkeypatch.setenv("SITEGEN_CACHE_DIR", str(tmp_path / "env-cache"))
    build_into(site, tmp_path / "out2")
    assert any((tmp_path / "env-cache/media/files").iterdir()) and not (site / ".sitegen-cache").exists()


def test_a_phone_sized_browser_loads_a_webp_no_wider_than_it_needs(newsroom: Path) -> None:
    with browsing(newsroom.parent) as (address, browser):
        page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        loaded: list[str] = []
        page.on("requestfinished", lambda request: loaded.append(request.url))
        page.goto(f"{address}/news/world/fans-celebrate-as-team-wins/")
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_load_state("networkidle")
        widths = page.evaluate("[...document.querySelectorAll('.article-body img')].map(i => i.naturalWidth)")
    photos = [url.rsplit("/", 1)[1] for url in loaded if "/media/" in url]
    stadium = [name for name in photos if name.startswith("stadium")]
    # 390 CSS px less the padding, at two device pixels each: 716 px, so the 800 px variant, in WebP.
    assert stadium == [name for name in stadium if name.endswith("-800.webp")] and stadium, photos
    assert all(name.endswith(".webp") for name in photos), photos
    assert all(width > 0 for width in widths)


def test_serve_swaps_a_replaced_photo(make_site: Callable[..., Path]) -> None:
    site = photo_site(make_site)
    server = Server(ServeOptions(BuildOptions(source=site), port=0), lambda message: None)
    server.start()
    try:
        url = f"http://127.0.0.1:{server.port}/world/photo-story/"

        def lead() -> str:
            with urllib.request.urlopen(url) as response:
                return str(lxml.html.fromstring(response.read()).xpath("//img/@src")[0])

        before = lead()
        with urllib.request.urlopen(url + before) as response:
            assert response.status == 200
        write(site / "seeds/world/photo.jpg", jpeg((1000, 700), colour=150))
        deadline = time.monotonic() + 15
        while lead() == before and time.monotonic() < deadline:
            time.sleep(0.05)
        after = lead()
        assert after != before
        with urllib.request.urlopen(url + after) as response:
            assert Image.open(io.BytesIO(response.read())).getpixel((10, 10))[1] > 140
    finally:
        server.stop()
