"""Local photos and files as articles load: found, published into the store, and every mistake named at path:line."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import lxml.html
import pytest

from sitegen.assets.markup import MEDIA_MARK, resolve_marks
from sitegen.assets.photos import Encoding
from sitegen.assets.publish import MediaSettings
from sitegen.errors import ContentError
from sitegen.load import load_article
from sitegen.load.article import LoadSettings
from tests.conftest import write
from tests.photos import jpeg, png

ENCODING = Encoding((480, 800), 70, False)


def settings(root: Path) -> LoadSettings:
    return LoadSettings("en", ZoneInfo("UTC"), "News", media=MediaSettings(root, ENCODING, "100vw", root / ".store"))


def error_of(path: Path, root: Path) -> ContentError:
    with pytest.raises(ContentError) as caught:
        load_article(path, settings(root))
    return caught.value


def test_front_matter_image_and_body_image_are_published(tmp_path: Path) -> None:
    write(tmp_path / "seeds/world/photo.jpg", jpeg((1000, 600)))
    write(tmp_path / "photos/map.png", png((500, 400)))
    write(tmp_path / "seeds/world/report.pdf", b"%PDF-1.4 fake")
    story = write(tmp_path / "seeds/world/story.md",
                  "---\ntitle: T\nimage: photo.jpg\nimage_alt: Bridge\n---\nText.\n\n![Map](/photos/map.png)\n\n"
                  "[Report](report.pdf#page=2) and [elsewhere](https://example.org/x.pdf).\n")
    article, body = load_article(story, settings(tmp_path))
    lead = article.figures[0]
    assert lead.image is not None and lead.src == lead.image.default.url and lead.src.startswith("/media/photo-")
    assert (lead.width, lead.height) == (lead.image.default.width, lead.image.default.height)
    assert sorted(article.assets) == sorted(str(p) for p in (tmp_path / "seeds/world/photo.jpg",
                                                             tmp_path / "photos/map.png", tmp_path / "seeds/world/report.pdf"))
    # Every published file is in the store, under the names the article lists.
    assert article.media and all((tmp_path / ".store/files" / name).is_file() for name in article.media)
    html = resolve_marks(str(body.html), lambda target: "/news" + target)
    assert MEDIA_MARK not in html
    document = lxml.html.fromstring(html)
    images = document.xpath("//img")
    assert [img.get("alt") for img in images] == ["Bridge", "Map"]
    assert images[0].get("fetchpriority") == "high" and images[0].get("loading") is None
    assert images[1].get("loading") == "lazy" and images[1].get("width") and images[1].get("height")
    assert all(url.startswith("/news/media/") for img in images for url in [img.get("src")] +
               [part.split()[0] for part in img.get("srcset", "").split(",") if part])
    links = [a.get("href") for a in document.xpath("//a")]
    assert links[0].startswith("/news/media/report-") and links[0].endswith(".pdf#page=2")
    assert links[1] == "https://example.org/x.pdf"


def test_the_digest_covers_the_photos_bytes(tmp_path: Path) -> None:
    write(tmp_path / "seeds/photo.jpg", jpeg((600, 400)))
    story = write(tmp_path / "seeds/story.md", "---\ntitle: T\nimage: photo.jpg\n---\nText.\n")
    before = load_article(story, settings(tmp_path))[0]
    write(tmp_path / "seeds/photo.jpg", jpeg((600, 400), colour=90))
    after = load_article(story, settings(tmp_path))[0]
    assert before.digest != after.digest and before.media != after.media


def test_a_missing_front_matter_image_is_named_at_its_line_with_near_names(tmp_path: Path) -> None:
    write(tmp_path / "seeds/bridge-photo.jpg", jpeg((600, 400)))
    story = write(tmp_path / "seeds/story.md", "---\ntitle: T\ndate: 2024-01-01\nimage: bridge-foto.jpg\n---\nText.\n")
    error = error_of(story, tmp_path)
    assert (error.path, error.line) == (story, 4)
    assert "bridge-foto.jpg" in error.message and "missing" in error.message and "bridge-photo.jpg" in (error.hint or "")


def test_a_missing_sidecar_image_is_the_sidecars_mistake(tmp_path: Path) -> None:
    story = write(tmp_path / "seeds/wire.txt", "Headline\nStandfirst.\nText./.")
    sidecar = write(tmp_path / "seeds/wire.yaml", "date: 2024-01-01\nsection: World\nimage: gone.jpg\n")
    error = error_of(story, tmp_path)
    assert (error.path, error.line) == (sidecar, 3)


def test_a_missing_wire_copy_image_is_named_at_its_line(tmp_path: Path) -> None:
    story = write(tmp_path / "seeds/wire.txt", "Headline\nStandfirst.\nFirst paragraph.\n![Bridge](bridge.jpg)\n"
                                                "Bridge at night. Photo: VNA |\nMore text./.")
    error = error_of(story, tmp_path)
    assert (error.path, error.line) == (story, 4) and "bridge.jpg" in error.message


def test_a_missing_body_image_and_a_missing_pdf_are_named_at_their_lines(tmp_path: Path) -> None:
    story = write(tmp_path / "seeds/a.md", "---\ntitle: T\n---\nOne.\n\nTwo.\n\n![x](nowhere.png)\n")
    assert error_of(story, tmp_path).line == 8
    story = write(tmp_path / "seeds/b.md", "# Title\n\nOne.\n\nSee [the PDF](docs/report.pdf).\n")
    error = error_of(story, tmp_path)
    assert error.line == 5 and "report.pdf" in error.message and "no folder" in (error.hint or "")


def test_a_corrupt_image_is_an_error_naming_the_file(tmp_path: Path) -> None:
    write(tmp_path / "seeds/broken.jpg", jpeg((600, 400))[:500])
    story = write(tmp_path / "seeds/a.md", "---\ntitle: T\nimage: broken.jpg\n---\nText.\n")
    error = error_of(story, tmp_path)
    assert error.line == 3 and "broken.jpg" in error.message and "not an image" in error.message


@pytest.mark.parametrize("url", ["../../etc/passwd.png", "/../outside.jpg", "%2e%2e/%2e%2e/outside.jpg"])
def test_nothing_outside_the_site_folder_is_published(tmp_path: Path, url: str) -> None:
    write(tmp_path / "outside.jpg", jpeg((100, 100)))
    root = tmp_path / "site"
    story = write(root / "seeds/a.md", f"---\ntitle: T\nimage: '{url}'\n---\nText.\n")
    error = error_of(story, root)
    assert "outside the site folder" in error.message


def test_a_linked_photo_is_published_stripped_not_copied(tmp_path: Path) -> None:
    write(tmp_path / "seeds/full.jpg", jpeg((900, 600)))
    story = write(tmp_path / "seeds/a.md", "# T\n\n[Full size](full.jpg)\n")
    article, body = load_article(story, settings(tmp_path))
    href = lxml.html.fromstring(resolve_marks(str(body.html), str)).xpath("//a/@href")[0]
    assert href.startswith("/media/full-") and href.endswith("-800.jpg")


def test_remote_images_are_left_as_they_are(tmp_path: Path) -> None:
    story = write(tmp_path / "seeds/a.md", "---\ntitle: T\nimage: https://cdn.example/a.jpg\n---\n![x](https://cdn.example/b.png)\n")
    article, body = load_article(story, settings(tmp_path))
    assert article.figures[0].src == "https://cdn.example/a.jpg" and article.figures[0].image is None
    assert not article.assets and not article.media and 'src="https://cdn.example/b.png"' in str(body.html)


@pytest.mark.parametrize("alt", ['"><script>alert(1)</script>', "' onerror='x", "Đà Nẵng 🌉 جسر"])
def test_hostile_alt_text_stays_inside_its_attribute(tmp_path: Path, alt: str) -> None:
    write(tmp_path / "seeds/p.jpg", jpeg((600, 400)))
    quoted = alt.replace("'", "''")
    story = write(tmp_path / "seeds/a.md", f"---\ntitle: T\nimage: p.jpg\nimage_alt: '{quoted}'\n---\nText.\n")
    body = resolve_marks(str(load_article(story, settings(tmp_path))[1].html), str)
    document = lxml.html.fromstring(body)
    assert document.xpath("//img/@alt") == [alt] and not document.xpath("//script")


def test_a_sidecar_image_leads_a_wire_story(tmp_path: Path) -> None:
    write(tmp_path / "seeds/lead.jpg", jpeg((900, 600)))
    story = write(tmp_path / "seeds/wire.txt", "Headline\nStandfirst.\nText.\n![Inline](https://cdn.example/x.jpg)\n"
                                                "Caption |\nMore./.")
    write(tmp_path / "seeds/wire.yaml", "date: 2024-01-01\nimage: lead.jpg\nimage_alt: Lead\nimage_credit: AP\n")
    article, body = load_article(story, settings(tmp_path))
    assert [f.alt for f in article.figures] == ["Lead", "Inline"] and article.lead_figure.image is not None
    document = lxml.html.fromstring(resolve_marks(str(body.html), str))
    assert document.xpath("//img/@alt") == ["Lead", "Inline"]
    assert document.xpath("//img/@fetchpriority") == ["high"]
