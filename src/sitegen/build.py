"""The build: config -> load -> model -> plan -> render -> write, with errors collected, not fatal."""

from __future__ import annotations

import hashlib
import os
import pickle
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2

from sitegen import code_identity
from sitegen.cache import CACHE_DIR, Cache, CachedBodies, Fingerprinter, PageRecord, card_key, fingerprint
from sitegen.config import CONFIG_NAME, Config, load_config
from sitegen.errors import BuildError, ContentError, SitegenError
from sitegen.load import SIDECAR_SUFFIXES, LoadResult, LoadSettings, collect, load_or_error, source_digest, sources
from sitegen.model import Article, Body, Site, Term, build_site
from sitegen.parallel import Progress, Workers
from sitegen.plan import Page, plan_site
from sitegen.render import make_environment, render_noting_bodies, template_closure
from sitegen.sitemaps import NEWS_WINDOW
from sitegen.theme import theme_dir
from sitegen.urls import output_path
from sitegen.write import Patch, Staging, static_files

CONTENT_DIR = "seeds"
# A build that changes at most this many pages (or a tenth of the site) patches them into the
# output instead of assembling a whole new copy of it.
PATCH_LIMIT = 200


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


def _status_lines(roots: list[Path]) -> Iterator[str]:
    """Name and file status of everything under `roots`, in a stable order.

    ctime is in it because no tool can set it back, so a rewrite that keeps mtime still shows.
    """
    for root in roots:
        yield f"root\0{root}\n"
        if root.is_file():
            found = [str(root)]
        else:
            found = [os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names]
        for name in sorted(found):
            status = os.stat(name)
            yield f"{name}\0{status.st_size}\0{status.st_mtime_ns}\0{status.st_ctime_ns}\0{status.st_ino}\n"


def theme_signature(source: Path, options: BuildOptions, output: Path) -> str:
    """A hash of everything but the articles: sitegen itself, options, config, templates and static files."""
    digest = hashlib.sha256(f"{code_identity()}\0{options!r}\0{output}\0".encode())
    for line in _status_lines([source / CONFIG_NAME, *template_dirs(source), *static_dirs(source)]):
        digest.update(line.encode())
    return digest.hexdigest()


def input_signature(source: Path, options: BuildOptions, output: Path) -> str:
    """A hash of every input's name and file status: equal signatures mean nothing was touched."""
    digest = hashlib.sha256(theme_signature(source, options, output).encode())
    for line in _status_lines([source / CONTENT_DIR]):
        digest.update(line.encode())
    return digest.hexdigest()


def template_dirs(source: Path) -> list[Path]:
    """The site's own templates first, then the default theme's."""
    return [source / "templates", theme_dir() / "templates"]


def static_dirs(source: Path) -> list[Path]:
    """The theme's static files first, so the site's own override them."""
    return [theme_dir() / "static", source / "static"]


def file_status(path: Path, settings_key: str) -> str:
    """What must stay the same for a file's digest to be reused: settings, size, times, inode, sidecar."""
    parts = [settings_key]
    for candidate in (path, *((path.with_suffix(s) for s in SIDECAR_SUFFIXES) if path.suffix.lower() == ".txt" else ())):
        try:
            status = os.stat(candidate)
        except FileNotFoundError:
            parts.append("-")
            continue
        parts.append(f"{status.st_size}:{status.st_mtime_ns}:{status.st_ctime_ns}:{status.st_ino}")
    return "|".join(parts)


@dataclass
class LoadedSite:
    """The articles of a build, with each one's card key and the status and digest of every file read."""

    result: LoadResult
    cards: dict[str, str]
    files: dict[str, tuple[str, str]]


def _load(source: Path, settings: LoadSettings, cache: Cache | None, workers: Workers,
          report: BuildReport, progress: Progress | None) -> LoadedSite:
    """Every article: from the cache when its digest is known, parsed (in parallel) when not.

    A file whose status is as the last build saw it keeps its digest unread. Bodies of newly parsed
    articles go to the cache as they arrive, so they never all sit in memory.
    """
    paths = list(sources(source / CONTENT_DIR))
    known = cache.file_digests() if cache else {}
    settings_key = hashlib.sha256(repr(settings).encode()).hexdigest()[:16]
    results: dict[Path, Article | SitegenError] = {}
    files: dict[str, tuple[str, str]] = {}
    for path in paths:
        try:
            status = file_status(path, settings_key)
            before = known.get(str(path))
            digest = before[1] if before and before[0] == status else source_digest(path, settings)
            files[str(path)] = (status, digest)
        except OSError as error:
            results[path] = ContentError(f"cannot be read: {error.strerror}", path)
    cached = cache.articles(digest for _, digest in files.values()) if cache else {}
    cards = {digest: card for digest, (_, card) in cached.items()}
    misses = []
    for path in paths:
        if str(path) in files:
            digest = files[str(path)][1]
            if digest in cached:
                results[path] = cached[digest][0]
            else:
                misses.append((path, digest))
    report.cache_hits = len(files) - len(misses)
    if progress:
        progress(report.cache_hits)
    bodies: dict[str, Body] = {}
    done = 0
    for chunk in workers.load(misses, settings, progress):
        fresh = [r for r in chunk if not isinstance(r, SitegenError)]
        if cache:
            cards.update(cache.store_articles(fresh))
        else:
            bodies.update((article.digest, body) for article, body in fresh)
        for loaded in chunk:
            results[misses[done][0]] = loaded if isinstance(loaded, SitegenError) else loaded[0]
            done += 1
    if cache:
        cache.prune_articles({digest for _, digest in files.values()})
    result = collect([results[path] for path in paths])
    return LoadedSite(replace(result, bodies=bodies), cards, files)


def _template_hashes(pages: list[Page], config: Config, env: jinja2.Environment) -> dict[str, str]:
    """For each template in use: a hash of sitegen, the config and every template file it uses."""
    hashes: dict[str, str] = {}
    for name in {p.template for p in pages}:
        sources_hash = hashlib.sha256(code_identity().encode() + pickle.dumps(config))
        if name.endswith(".html"):
            for used in sorted(template_closure(env, name)):
                try:
                    sources_hash.update(used.encode() + b"\0" + env.loader.get_source(env, used)[0].encode())  # type: ignore[union-attr]
                except jinja2.TemplateNotFound:
                    sources_hash.update(used.encode() + b"\0missing")
        hashes[name] = sources_hash.hexdigest()
    return hashes


def _fingerprints(pages: list[Page], config: Config, env: jinja2.Environment,
                  cards: dict[str, str]) -> dict[str, tuple[str, bytes]]:
    """Each page's fingerprint, and the page pickled with articles as references to re-render it later.

    A page is not rendered again while its fingerprint and the bodies it showed are unchanged.
    """
    templates = _template_hashes(pages, config, env)
    pickler = Fingerprinter(cards)
    result = {}
    for page in pages:
        data = pickler.dumps(replace(page, inputs=frozenset()))
        result[page.url] = (fingerprint(templates[page.template], data), data)
    return result


def build(options: BuildOptions, on_page: Callable[[str], None] | None = None,
          progress: Callable[[str, int, int], None] | None = None, executor: Executor | None = None) -> BuildReport:
    """Build the whole site and put it in place of the output in one step; `--strict` keeps the old site on error.

    Pages whose fingerprint and bodies match the last build's are kept from it instead of rendered.
    When only article bodies changed, only the pages that show them are rendered, and patched in.
    """
    started = time.perf_counter()
    report = BuildReport()
    config, _ = load_config(options.source, options.base_url)
    output = (options.output or options.source / "build").resolve()
    settings = load_settings(config)
    workers = Workers(options.workers, executor)
    cache = Cache(options.source / CACHE_DIR) if options.cache else None
    signature = input_signature(options.source, options, output) if cache else ""
    theme = theme_signature(options.source, options, output) if cache else ""
    try:
        if cache and output.is_dir() and (last := cache.last_build()):
            until = last.get("valid_until")
            if last.get("signature") == signature and (until is None or build_time().isoformat() < until):
                return _unchanged(last, started)
            if last.get("theme") == theme and (until is None or build_time().isoformat() < until):
                edited = _update_bodies(options, config, settings, cache, output, last, on_page)
                if edited is not None:
                    edited.seconds = time.perf_counter() - started
                    cache.store_last_build({**last, "signature": signature})
                    return edited
        count = sum(1 for _ in sources(options.source / CONTENT_DIR))
        loaded = _load(options.source, settings, cache, workers, report, _ticker(progress, "reading", count))
        planned = plan(config, options, loaded.result)
        pages = planned.pages
        report.errors += planned.errors
        report.warnings += planned.warnings
        report.articles, report.skipped = len(planned.site.articles), planned.skipped
        dirs = template_dirs(options.source)
        bodies = CachedBodies(cache.path) if cache else loaded.result.bodies
        env = make_environment(config, dirs, bodies)
        prints = _fingerprints(pages, config, env, loaded.cards) if cache else {}
        records = cache.pages(output) if cache else {}
        digests = {article.digest for article in planned.site.articles}
        kept = {page.url for page in pages if _still_good(page.url, prints, records, digests, output)}
        todo = [page for page in pages if page.url not in kept]
        removed = sorted(set(records) - {page.url for page in pages})
        patching = bool(kept) and len(todo) + len(removed) <= max(PATCH_LIMIT, len(pages) // 10)
        writer: Staging | Patch = Patch(output) if patching else Staging(output)
        try:
            if isinstance(writer, Staging):
                for url in sorted(kept):
                    writer.link(url, output / output_path(url))
            report.reused = len(kept)
            used = workers.render(env, config, dirs, todo, writer, _ticker(progress, "rendering", len(todo)))
            if on_page:
                for page in todo:
                    on_page(page.url)
            report.pages = len(pages)
            report.files = report.pages + _copy_static(options.source, writer)
            if isinstance(writer, Patch):
                for url in removed:
                    writer.remove(url)
            if options.strict and report.errors:
                writer.discard()
            else:
                writer.commit()
                report.written = True
                if cache:
                    changed = {url: (prints[url][0], prints[url][1] if used[url] else None, used[url]) for url in used}
                    cache.store_pages(output, changed, removed, replace_all=not records)
                    cache.store_file_digests(loaded.files, replace_all=True)
                    if not report.errors:
                        until = planned.valid_until.astimezone(timezone.utc).isoformat() if planned.valid_until else None
                        cache.store_last_build({"signature": signature, "theme": theme, "valid_until": until,
                                                **_counts(report)})
        except BaseException:
            # A template error or Ctrl-C leaves the previous site exactly as it was.
            writer.discard()
            raise
    finally:
        if cache:
            cache.close()
    report.seconds = time.perf_counter() - started
    return report


def _still_good(url: str, prints: dict[str, tuple[str, bytes]], records: dict[str, PageRecord], digests: set[str],
                output: Path) -> bool:
    """The last build's file for `url` can stand: same fingerprint, same bodies shown, file present."""
    record = records.get(url)
    return (record is not None and url in prints and prints[url][0] == record.fingerprint
            and record.bodies <= digests and os.path.isfile(os.path.join(output, output_path(url))))


def _copy_static(source: Path, writer: Staging | Patch) -> int:
    """Static files into the output; when patching, files no longer in any static folder go."""
    count = 0
    wanted: set[str] = set()
    for folder in static_dirs(source):
        if folder.is_dir():
            for path in static_files(folder):
                wanted.add("static/" + path.relative_to(folder).as_posix())
            count += writer.copy_tree(folder, "static")
    if isinstance(writer, Patch) and (writer.output / "static").is_dir():
        for path in static_files(writer.output / "static"):
            relative = "static/" + path.relative_to(writer.output / "static").as_posix()
            if relative not in wanted:
                writer.remove("/" + relative)
    return count


def _update_bodies(options: BuildOptions, config: Config, settings: LoadSettings, cache: Cache, output: Path,
                   last: dict[str, Any], on_page: Callable[[str], None] | None) -> BuildReport | None:
    """The build after only article bodies changed: the pages that show them, rendered and patched in.

    None when anything else may have changed (a file added or removed, a headline, tag or date
    edited, an error): then the full build decides.
    """
    settings_key = hashlib.sha256(repr(settings).encode()).hexdigest()[:16]
    known = cache.file_digests()
    present = {str(path): path for path in sources(options.source / CONTENT_DIR)}
    if set(present) != set(known):
        return None
    files = dict(known)
    edited: dict[str, tuple[Article, Body]] = {}
    for name, path in present.items():
        status = file_status(path, settings_key)
        if status == known[name][0]:
            continue
        digest = source_digest(path, settings)
        files[name] = (status, digest)
        if digest == known[name][1]:
            continue
        loaded = load_or_error(path, settings, digest)
        before = cache.articles([known[name][1]]).get(known[name][1])
        if isinstance(loaded, SitegenError) or before is None or card_key(loaded[0]) != before[1]:
            return None
        edited[name] = loaded
    report = BuildReport(articles=last["articles"], pages=last["pages"], files=last["files"],
                         skipped=last["skipped"], warnings=list(last["warnings"]), written=True)
    stored = cache.pages_showing(known[name][1] for name in edited)
    if any(data is None for _, data in stored.values()):
        return None
    cache.store_articles(edited.values())
    current = {name: article for name, (article, _) in edited.items()}

    def article(path: str, card: str) -> Article:
        if path not in current:
            found = cache.articles([files[path][1]]).get(files[path][1]) if path in files else None
            if found is None or found[1] != card:
                raise BuildError(f"the cached article {path} is stale", path, None, "delete .sitegen-cache/")
            current[path] = found[0]
        return current[path]

    try:
        pages = {url: Fingerprinter.load(data, article) for url, (_, data) in stored.items() if data is not None}
    except (BuildError, pickle.UnpicklingError, AttributeError, ImportError, EOFError):
        return None
    env = make_environment(config, template_dirs(options.source), CachedBodies(cache.path))
    patch = Patch(output)
    try:
        used = {}
        for url in sorted(pages):
            text, used[url] = render_noting_bodies(env, pages[url])
            patch.write(url, text)
        patch.commit()
    except BaseException:
        patch.discard()
        raise
    cache.store_pages(output, {url: (stored[url][0], stored[url][1], used[url]) for url in pages}, [])
    cache.store_file_digests(files, replace_all=False)
    cache.prune_articles({digest for _, digest in files.values()})
    if on_page:
        for url in sorted(pages):
            on_page(url)
    report.cache_hits = len(files) - len(edited)
    report.reused = report.pages - len(pages)
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
