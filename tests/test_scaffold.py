"""`sitegen new site`, `sitegen new article` and `sitegen theme copy`: starting points that never write over anything."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from sitegen.cli import main
from sitegen.errors import SitegenError
from sitegen.scaffold import copy_theme, new_article, new_site
from sitegen.theme import theme_dir
from tests.conftest import build_into, run_vnu, write

NOW = datetime(2024, 11, 20, 8, 30, tzinfo=timezone.utc)


def test_a_new_site_builds_straight_away_into_a_valid_site(tmp_path: Path) -> None:
    site = tmp_path / "daily-news"
    written = new_site(site, NOW)
    assert {path.relative_to(site).as_posix() for path in written} == {
        "sitegen.toml", "README.md", ".gitignore", "templates/.gitkeep", "static/.gitkeep",
        "seeds/welcome-to-your-news-site.md"}
    assert 'title = "Daily News"' in (site / "sitegen.toml").read_text()
    report = build_into(site, tmp_path / "out")
    assert not report.errors and report.articles == 1
    assert "Welcome to your news site" in (tmp_path / "out/news/welcome-to-your-news-site/index.html").read_text()
    assert run_vnu(tmp_path / "out") == ""


def test_a_new_site_refuses_a_folder_with_anything_in_it(tmp_path: Path) -> None:
    write(tmp_path / "site/notes.txt", "mine")
    with pytest.raises(SitegenError, match="not an empty folder"):
        new_site(tmp_path / "site", NOW)
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == ["notes.txt"]


def test_a_new_article_has_its_metadata_and_never_overwrites(tmp_path: Path) -> None:
    site = tmp_path / "site"
    new_site(site, NOW)
    write(site / "sitegen.toml", (site / "sitegen.toml").read_text().replace('"UTC"', '"Asia/Ho_Chi_Minh"'))
    path = new_article(site, "Cầu mới: Đà Nẵng's bridge \"opens\"", NOW, section="Thời sự", tags=("Đà Nẵng", "a: b"),
                       authors=("Lan Phạm",))
    assert path == site / "seeds/cau-moi-da-nang-s-bridge-opens.md"
    front = yaml.safe_load(path.read_text().split("---")[1])
    assert front == {"title": "Cầu mới: Đà Nẵng's bridge \"opens\"", "date": "2024-11-20T15:30:00+07:00",
                     "section": "Thời sự", "tags": ["Đà Nẵng", "a: b"], "authors": ["Lan Phạm"]}
    before = path.read_bytes()
    with pytest.raises(SitegenError, match="already exists"):
        new_article(site, "Cầu mới: Đà Nẵng's bridge \"opens\"", NOW)
    assert path.read_bytes() == before
    assert not build_into(site, tmp_path / "out").errors


def test_a_new_wire_story_is_wire_copy_with_a_sidecar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site"
    new_site(site, NOW)
    assert main(["new", "article", "Flood waters rise", "--source", str(site), "--wire", "--section", "World",
                 "--tag", "Weather", "--author", "Desk"]) == 0
    path = site / "seeds/flood-waters-rise.txt"
    assert capsys.readouterr().out.strip() == str(path)
    assert path.read_text().splitlines()[0] == "Flood waters rise"
    assert yaml.safe_load(path.with_suffix(".yaml").read_text())["tags"] == ["Weather"]
    report = build_into(site, tmp_path / "out", future=True)
    assert not report.errors
    assert "Flood waters rise" in (tmp_path / "out/world/flood-waters-rise/index.html").read_text()


def test_theme_copy_copies_templates_and_keeps_the_site_s_own(tmp_path: Path) -> None:
    site = tmp_path / "site"
    new_site(site, NOW)
    write(site / "templates/article.html", "{% extends 'base.html' %}")
    copied, kept = copy_theme(site, ["article.html", "partials/card.html"])
    assert copied == [site / "templates/partials/card.html"] and kept == [site / "templates/article.html"]
    assert (site / "templates/article.html").read_text() == "{% extends 'base.html' %}"
    assert (site / "templates/partials/card.html").read_bytes() == (theme_dir() / "templates/partials/card.html").read_bytes()
    with pytest.raises(SitegenError, match="no template 'nope.html'"):
        copy_theme(site, ["nope.html"])
    everything, _ = copy_theme(site, [])
    assert len(everything) == len(list((theme_dir() / "templates").rglob("*.html"))) - 2
