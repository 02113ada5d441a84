"""The build: config -> load -> model -> plan -> render -> write, with errors collected, not fatal."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2

from sitegen import code_identity
from sitegen.cache import CACHE_DIR, Cache, Fingerprinter
from sitegen.config import CONFIG_NAME, Config, load_config
from sitegen.errors import ContentError, SitegenError
from sitegen.load import LoadResult, LoadSettings, collect, source_digest, sources
from sitegen.model import Article, Site, Term, build_site
from sitegen.parallel import Progress, Workers
from sitegen.plan import Page, plan_site
from sitegen.render import make_environment, template_closure
from sitegen.sitemaps import NEWS_WINDOW
from sitegen.theme import theme_dir
from sitegen.urls import output_path
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
    workers: int = 0
    cache: bool = True


@dataclass
class BuildReport:
    articles: int = 0
    pages: int = 0
    files: int = 0
    skipped: int = 0
    seconds: float = 0.0
    reused: int = 0
    cache_hits: int = 0
    unchanged: bool = False
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
    # The first moment the same inputs would give a different site: an embargo lifts, or a story
    # leaves the news sitemap's two-day window.
    valid_until: datetime | None


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
    moments = [a.published for a in loaded.articles if a.published and a.published > now]
    moments += [a.published + NEWS_WINDOW for a in site.articles if a.published and a.published <= now]
    valid_until = min((m for m in moments if m > now), default=None)
    return Plan(site, plan_site(site, config, now), errors, len(loaded.articles) - len(chosen), warnings,
                valid_until)


def input_signature(source: Path, options: BuildOptions, output: Path) -> str:
    """A hash of every input's name and file status: equal signatures mean nothing was touched.

    ctime is in it because no tool can set it back, so a rewrite that keeps mtime still shows.
    """
    digest = hashlib.sha256(f"{code_identity()}\0{options!r}\0{output}\0".encode())
    roots = [source / CONFIG_NAME, source / CONTENT_DIR, *template_dirs(source), *static_dirs(source)]
    for root in roots:
        digest.update(f"root\0{root}\n".encode())
        if root.is_file():
            found = [str(root)]
        else:
            found = [os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names]
        for name in sorted(found):
            status = os.stat(name)
            digest.update(f"{name}\0{status.st_size}\0{status.st_mtime_ns}\0{status.st_ctime_ns}\0"
                          f"{status.st_ino}\n".encode())
    return digest.hexdigest()


def template_dirs(source: Path) -> list[Path]:
    """The site's own templates first, then the default theme's."""
    return [source / "templates", theme_dir() / "templates"]


def static_dirs(source: Path) -> list[Path]:
    """The theme's static files first, so the site's own override them."""
    return [theme_dir() / "static", source / "static"]


def _load(source: Path, settings: LoadSettings, cache: Cache | None, workers: Workers,
          report: BuildReport, progress: Progress | None) -> LoadResult:
    """Every article: from the cache when its digest is known, parsed (in parallel) when not."""
    paths = list(sources(source / CONTENT_DIR))
    results: dict[Path, Article | SitegenError] = {}
    digests: dict[Path, str] = {}
    for path in paths:
        try:
            digests[path] = source_digest(path, settings)
        except OSError as error:
            results[path] = ContentError(f"cannot be read: {error.strerror}", path)
    cached = cache.articles(digests.values()) if cache else {}
    misses = [(path, digest) for path, digest in digests.items() if digest not in cached]
    for path, digest in digests.items():
        if digest in cached:
            results[path] = replace(cached[digest], source_path=path)
    report.cache_hits = len(digests) - len(misses)
    if progress:
        progress(report.cache_hits)
    fresh = workers.load(misses, settings, progress)
    for (path, _), loaded in zip(misses, fresh, strict=True):
        results[path] = loaded
    if cache:
        cache.store_articles(a for a in fresh if isinstance(a, Article))
        cache.prune_articles(set(digests.values()))
    return collect([results[path] for path in paths])


def _fingerprints(pages: list[Page], config: Config, env: jinja2.Environment) -> dict[str, str]:
    """Each page's fingerprint: what it renders from, so an unchanged page need not be rendered."""
    templates: dict[str, str] = {}
    for name in {p.template for p in pages}:
        sources_hash = hashlib.sha256(code_identity().encode())
        if name.endswith(".html"):
            for used in sorted(template_closure(env, name)):
                try:
                    sources_hash.update(used.encode() + b"\0" + env.loader.get_source(env, used)[0].encode())  # type: ignore[union-attr]
                except jinja2.TemplateNotFound:
                    sources_hash.update(used.encode() + b"\0missing")
        templates[name] = sources_hash.hexdigest()
    fingerprint = Fingerprinter()
    return {p.url: fingerprint((config, templates[p.template], p.url, p.template, p.language, p.context))
            for p in pages}


def build(options: BuildOptions, on_page: Callable[[str], None] | None = None,
          progress: Callable[[str, int, int], None] | None = None, executor: Executor | None = None) -> BuildReport:
    """Build the whole site into a staging folder and swap it in; `--strict` keeps the old site on error.

    Pages whose fingerprint matches the last build's are linked from it instead of rendered.
    """
    started = time.perf_counter()
    report = BuildReport()
    config, _ = load_config(options.source, options.base_url)
    output = (options.output or options.source / "build").resolve()
    settings = load_settings(config)
    workers = Workers(options.workers, executor)
    cache = Cache(options.source / CACHE_DIR) if options.cache else None
    signature = input_signature(options.source, options, output) if cache else ""
    if cache and output.is_dir():
        last = cache.last_build()
        until = last.get("valid_until") if last else None
        if last and last.get("signature") == signature and (until is None or build_time().isoformat() < until):
            cache.close()
            return _unchanged(last, started)
    try:
        count = sum(1 for _ in sources(options.source / CONTENT_DIR))
        tick = _ticker(progress, "reading", count)
        planned = plan(config, options, _load(options.source, settings, cache, workers, report, tick))
        pages = planned.pages
        report.errors += planned.errors
        report.warnings += planned.warnings
        report.articles, report.skipped = len(planned.site.articles), planned.skipped
        dirs = template_dirs(options.source)
        env = make_environment(config, dirs)
        prints = _fingerprints(pages, config, env) if cache else {}
        previous = cache.fingerprints(output) if cache else {}
        staging = Staging(output)
        try:
            todo = []
            for page in pages:
                old = output / output_path(page.url)
                if previous.get(page.url) == prints.get(page.url) and page.url in previous and old.is_file():
                    staging.link(page.url, old)
                    report.reused += 1
                else:
                    todo.append(page)
            workers.render(env, config, dirs, todo, staging, _ticker(progress, "rendering", len(todo)))
            if on_page:
                for page in todo:
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
                if cache:
                    cache.store_fingerprints(output, prints)
                    if not report.errors:
                        until = planned.valid_until.astimezone(timezone.utc).isoformat() if planned.valid_until else None
                        cache.store_last_build({"signature": signature, "valid_until": until,
                                                **_counts(report)})
        except BaseException:
            # A template error or Ctrl-C leaves the previous site exactly as it was.
            staging.discard()
            raise
    finally:
        if cache:
            cache.close()
    report.seconds = time.perf_counter() - started
    return report


def _counts(report: BuildReport) -> dict[str, Any]:
    return {"articles": report.articles, "pages": report.pages, "files": report.files, "skipped": report.skipped,
            "warnings": report.warnings}


def _unchanged(last: dict[str, Any], started: float) -> BuildReport:
    """The report of a build that found nothing to do: the last build's output stands."""
    report = BuildReport(articles=last["articles"], pages=last["pages"], files=last["files"],
                         skipped=last["skipped"], warnings=list(last["warnings"]), reused=last["pages"],
                         unchanged=True, written=True)
    report.seconds = time.perf_counter() - started
    return report


def _ticker(progress: Callable[[str, int, int], None] | None, phase: str, total: int) -> Progress | None:
    """A per-item callback that reports (phase, done, total) to `progress`."""
    if progress is None:
        return None
    done = 0

    def tick(count: int) -> None:
        nonlocal done
        done += count
        progress(phase, done, total)

    return tick
