"""Starting points: a new site, a new article in it, and the default theme's templates copied for editing."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import yaml

from sitegen.config import CONFIG_NAME, load_config
from sitegen.errors import SitegenError
from sitegen.load.article import CONTENT_DIR
from sitegen.slugs import slugify
from sitegen.theme import theme_dir

SITE_CONFIG = '''# sitegen's settings: every key is in docs/configuration.md.
title = "{title}"
description = "News, built with sitegen."
language = "en"
timezone = "UTC"
# The public address; set it before publishing (canonical links, sitemaps and feeds need it).
# base_url = "https://example.org/"

[[sections]]
name = "News"
'''

SITE_README = '''# {title}

A news site built with sitegen.

```sh
sitegen new article "A headline" --section News   # a new story in seeds/
sitegen serve                                      # preview at http://localhost:8000/, rebuilt as you save
sitegen check                                      # every error and broken link, without touching build/
sitegen build                                      # the site, in build/, for any static host
```

- `seeds/`: the stories (Markdown with front matter, or wire copy with a `.yaml` sidecar).
- `templates/`: your own versions of the theme's templates (`sitegen theme copy article.html`).
- `static/`: files published under `/static/` (a logo, your stylesheet).
- `published-urls.txt`: every URL the site has published; commit it with the stories.
'''

GITIGNORE = "build/\n.sitegen-cache/\n"


def new_site(folder: Path, now: datetime) -> list[Path]:
    """A working site in `folder` (which must be empty or missing): config, one story, theme folders, a README."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise SitegenError(f"{folder} is not an empty folder", folder, None,
                           "choose a new folder name; sitegen new site never writes over anything")
    title = folder.resolve().name.replace("-", " ").replace("_", " ").title() or "News"
    written = [
        _write(folder / CONFIG_NAME, SITE_CONFIG.format(title=title.replace('"', "'"))),
        _write(folder / "README.md", SITE_README.format(title=title)),
        _write(folder / ".gitignore", GITIGNORE),
        # Empty, but kept by git: where the site's own templates and static files go.
        _write(folder / "templates" / ".gitkeep", ""),
        _write(folder / "static" / ".gitkeep", ""),
    ]
    written.append(new_article(folder, "Welcome to your news site", now, section="News", tags=("sitegen",),
                               authors=("The Editors",),
                               body="This is the first story. Edit it, or add another with "
                                    "`sitegen new article \"Headline\"`.\n\nEvery story is a file in `seeds/`."))
    return written


def new_article(site: Path, headline: str, now: datetime, section: str | None = None, tags: tuple[str, ...] = (),
                authors: tuple[str, ...] = (), wire: bool = False, body: str = "") -> Path:
    """A new story at `seeds/<slug>.md` (or `.txt` wire copy with a `.yaml` sidecar), dated `now` in the site's zone."""
    config, _ = load_config(site)
    headline = " ".join(headline.split())
    slug = slugify(headline)
    if not slug:
        raise SitegenError(f"the headline {headline!r} has no letters or digits to name a file after", None, None,
                           "give the story a headline in words")
    meta: dict[str, object] = {"date": now.astimezone(config.tz).replace(microsecond=0).isoformat()}
    if section:
        meta["section"] = section
    if tags:
        meta["tags"] = list(tags)
    if authors:
        meta["authors"] = list(authors)
    content = site / CONTENT_DIR
    if wire:
        path = content / f"{slug}.txt"
        sidecar = path.with_suffix(".yaml")
        _refuse_existing(path, sidecar)
        text = body or "One paragraph a line."
        _write(path, f"{headline}\nThe standfirst: one sentence that sums the story up.\n{text}\n./.\n")
        _write(sidecar, _yaml(meta))
        return path
    path = content / f"{slug}.md"
    _refuse_existing(path)
    front = _yaml({"title": headline, **meta})
    _write(path, f"---\n{front}---\n{body or 'The story, in Markdown.'}\n")
    return path


def copy_theme(site: Path, names: list[str]) -> tuple[list[Path], list[Path]]:
    """The default theme's templates (all, or those `names`) copied into the site's templates/; (copied, kept)."""
    source = theme_dir() / "templates"
    available = sorted(path.relative_to(source).as_posix() for path in source.rglob("*.html"))
    unknown = [name for name in names if name not in available]
    if unknown:
        raise SitegenError(f"the default theme has no template {', '.join(map(repr, unknown))}", None, None,
                           "its templates are: " + ", ".join(available))
    copied, kept = [], []
    for name in names or available:
        target = site / "templates" / name
        if target.exists():
            kept.append(target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, target)
        copied.append(target)
    return copied, kept


def _refuse_existing(*paths: Path) -> None:
    for path in paths:
        if path.exists():
            raise SitegenError(f"{path} already exists", path, None,
                               "give the story another headline, or edit that file; sitegen never writes over one")


def _yaml(values: dict[str, object]) -> str:
    return yaml.safe_dump(values, allow_unicode=True, sort_keys=False, default_flow_style=None, width=1000)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as stream:
        stream.write(text)
    return path
