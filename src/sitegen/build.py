"""The build: config -> load -> model -> plan -> render -> write, with errors collected, not fatal."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sitegen.config import Config, load_config
from sitegen.errors import ContentError, SitegenError
from sitegen.load import LoadResult, LoadSettings, load_content
from sitegen.model import Article, Site, Term, build_site
from sitegen.plan import Page, plan_site
from sitegen.render import make_environment, render_page
from sitegen.theme import theme_dir
from sitegen.write import Staging

CONTENT_DIR = "seeds"


@dataclass(frozen=True)
class BuildOptions:
    source: Path
    output: Path | None = None
    base_url: str | None = None
    drafts: bool = False
    future: bool = False
    strict: bool = False


@dataclass
class BuildReport:
    articles: int = 0
    pages: int = 0
    files: int = 0
    skipped: int = 0
    seconds: float = 0.0
    errors: list[SitegenError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    written: bool = False


def build_time() -> datetime:
    """Now, or SOURCE_DATE_EPOCH when set, so embargo decisions are reproducible."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    return datetime.now(tz=timezone.utc)


def load_settings(config: Config) -> LoadSettings:
    sections = tuple(Term(s.name, s.url_slug) for s in config.sections)
    return LoadSettings(config.language, config.tz, config.default_section, sections)


def select_articles(articles: tuple[Article, ...], options: BuildOptions, now: datetime) -> list[Article]:
    """Drop drafts and embargoed (future-dated) articles unless asked for."""
    return [
        a for a in articles
        if (options.drafts or not a.draft) and (options.future or a.published is None or a.published <= now)
    ]


def remove_duplicate_slugs(articles: list[Article]) -> tuple[list[Article], list[SitegenError]]:
    """Keep the first article of each slug (by path); report every later one, naming both files."""
    kept: dict[str, Article] = {}
    errors: list[SitegenError] = []
    for article in sorted(articles, key=lambda a: str(a.source_path)):
        first = kept.get(article.slug)
        if first is None:
            kept[article.slug] = article
        else:
            errors.append(ContentError(
                f"has the slug '{article.slug}', already used by {first.source_path}",
                article.source_path, 1, "give one of them a different 'slug:' in its metadata",
            ))
    return list(kept.values()), errors


@dataclass(frozen=True)
class Plan:
    site: Site
    pages: list[Page]
    errors: list[SitegenError]
    skipped: int
    warnings: list[str]


def plan(config: Config, options: BuildOptions, loaded: LoadResult) -> Plan:
    """From loaded articles to every page: drafts, embargoes and duplicate slugs are settled here."""
    errors: list[SitegenError] = list(loaded.errors)
    now = build_time()
    chosen = select_articles(loaded.articles, options, now)
    unique, duplicates = remove_duplicate_slugs(chosen)
    errors += duplicates
    site = build_site(unique, config.tz, tuple(s.url_slug for s in config.sections))
    warnings = []
    if not config.base_url:
        warnings.append(
            "base_url is not set, so sitemap.xml, news-sitemap.xml, canonical links and og:url were left out "
            "and feeds use relative links; set base_url in sitegen.toml or pass --base-url"
        )
    return Plan(site, plan_site(site, config, now), errors, len(loaded.articles) - len(chosen), warnings)


def template_dirs(source: Path) -> list[Path]:
    """The site's own templates first, then the default theme's."""
    return [source / "templates", theme_dir() / "templates"]


def static_dirs(source: Path) -> list[Path]:
    """The theme's static files first, so the site's own override them."""
    return [theme_dir() / "static", source / "static"]


def build(options: BuildOptions, on_page: Callable[[str], None] | None = None) -> BuildReport:
    """Build the whole site into a staging folder and swap it in; `--strict` keeps the old site on error."""
    started = time.perf_counter()
    report = BuildReport()
    config, _ = load_config(options.source, options.base_url)
    output = options.output or options.source / "build"
    planned = plan(config, options, load_content(options.source / CONTENT_DIR, load_settings(config)))
    pages = planned.pages
    report.errors += planned.errors
    report.warnings += planned.warnings
    report.articles, report.skipped = len(planned.site.articles), planned.skipped
    env = make_environment(config, template_dirs(options.source))
    staging = Staging(output)
    try:
        for page in pages:
            staging.write(page.url, render_page(env, page))
            if on_page:
                on_page(page.url)
        report.pages = len(pages)
        report.files = report.pages
        for static in static_dirs(options.source):
            if static.is_dir():
                report.files += staging.copy_tree(static, "static")
        if options.strict and report.errors:
            staging.discard()
        else:
            staging.commit()
            report.written = True
    except BaseException:
        # A template error or Ctrl-C leaves the previous site exactly as it was.
        staging.discard()
        raise
    report.seconds = time.perf_counter() - started
    return report

