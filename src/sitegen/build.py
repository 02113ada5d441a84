"""The build: config -> load -> model -> plan -> render -> write, with errors collected, not fatal."""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

from sitegen import code_identity
from sitegen.assets.photos import MEDIA_URL, Encoding
from sitegen.assets.publish import MediaSettings
from sitegen.assets.store import MediaStore
from sitegen.cache import (
    CACHE_DIR,
    Cache,
    CachedBodies,
    Fingerprinter,
    Prepared,
    Remembered,
    filing_row,
    fingerprint,
    remember_filings,
    store_filings_of,
)
from sitegen.config import CONFIG_NAME, Config, load_config
from sitegen.crosslinks import Reachable, check_links, left_out, link_targets, near_names, near_pages, theme_ids
from sitegen.edits import Patched, Unreadable, patch_edits
from sitegen.errors import BuildError, ConfigError, ContentError, SitegenError, TemplateError
from sitegen.load import (
    SIDECAR_SUFFIXES,
    FileRecord,
    LoadResult,
    LoadSettings,
    collect,
    file_record,
    folder_of,
    rescanned,
    source_digest,
    source_statuses,
)
from sitegen.load.article import CONTENT_DIR
from sitegen.model import Article, Selection, Site, Term, build_site
from sitegen.parallel import (
    RENDER_CHUNK,
    Progress,
    RenderChunk,
    Rendered,
    RenderSettings,
    Workers,
    articles_in,
    chunked,
    chunked_iter,
    load_chunk_for_cache,
    may_share,
    sharing,
)
from sitegen.plan import Page, plan_site, redirect_pages, redirects_file
from sitegen.published import (
    RECORD_NAME,
    Record,
    RecordText,
    Settled,
    UrlRecord,
    first_urls,
    read_record,
    settle,
    write_record,
)
from sitegen.render import make_environment, template_hashes
from sitegen.search import FOLDER as SEARCH_FOLDER
from sitegen.search import Ahead, Story, update_search
from sitegen.search import record as search_record
from sitegen.sitemaps import next_change
from sitegen.theme import theme_dir
from sitegen.urls import Links, output_path
from sitegen.write import Output, Staging, static_files, temporary_cache_name

# A build that changes at most this many pages (or a tenth of the site) patches them into the
# output instead of assembling a whole new copy of it; an edit that reaches more than that is
# left to the full build, which reads and renders in parallel.
PATCH_LIMIT = 200
# Files whose digests are taken, and looked up in the cache, at a time while workers read the misses.
DIGEST_BLOCK = 512
# Parsed articles stored in one transaction.
STORE_BLOCK = 512


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
    # Any URL change the record of published URLs does not hold yet is an error (for CI).
    frozen_urls: bool = False
    # Where the kept cache lives; None: $SITEGEN_CACHE_DIR, else .sitegen-cache/ in the site folder.
    cache_dir: Path | None = None
    # A preview (`sitegen serve`): the same site, but the record of published URLs is read, never written.
    preview: bool = False
    # Errors that do not stop a --strict build from replacing the output (by message): those a preview
    # already showed, which must not hold back every other change until they are fixed.
    tolerated: frozenset[str] = frozenset()
    # Whether the build brings the search index up to date itself; a preview does it after the reload.
    search: bool = True


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
    # When the output stops being the site of the moment (an embargo lifts, a story leaves the news
    # sitemap's window), in UTC ISO 8601; None when no moment will change it.
    valid_until: str | None = None


# Objects allocated between the collector's youngest passes while a build scans and tries the edit
# path (Python's default is 700). Such a build holds the archive's file statuses, filings and
# record of URLs, 100,000 rows each at archive scale, in small objects that live until it ends;
# with the default, the collector walked them again and again: a text edit at 100,000 articles
# took 1.07-1.12 s against 0.97-1.00 s. Not past that: with it, a cold build's workers left the
# garbage of rendered pages lying longer, and peaked at 2,096 MB against 991 MB at 100,000.
GC_YOUNG = 100_000


def build_time() -> datetime:
    """Now, or SOURCE_DATE_EPOCH when set, so embargo decisions are reproducible."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    return datetime.now(tz=timezone.utc)


def cache_folder(options: BuildOptions) -> Path:
    """The kept cache's folder: `--cache-dir`, else $SITEGEN_CACHE_DIR, else .sitegen-cache/ in the site folder."""
    if options.cache_dir is not None:
        return options.cache_dir
    named = os.environ.get("SITEGEN_CACHE_DIR")
    return Path(named) if named else options.source / CACHE_DIR


def media_folder(cache: Path) -> Path:
    """Where published photos and files are kept, inside a cache folder."""
    return cache / "media"


def load_settings(config: Config, root: Path | None = None, store: Path | None = None) -> LoadSettings:
    """What readers need of the config; local files are found from the site folder `root` and kept in `store`."""
    sections = tuple(Term(s.name, s.url_slug) for s in config.sections)
    images = config.images
    media = MediaSettings(root.resolve(), Encoding(tuple(sorted(set(images.widths))), images.quality, images.avif),
                          images.sizes, store) if root is not None else None
    return LoadSettings(config.language, config.tz, config.default_section, sections, media)


def select_articles(articles: tuple[Article, ...], options: BuildOptions, now: datetime) -> list[Article]:
    """Drop drafts and embargoed (future-dated) articles unless asked for."""
    return list(filter(Selection(options.drafts, options.future, now).keeps_article, articles))


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
    # leaves the news sitemap's two-day window (a timestamp).
    valid_until: float | None
    # The record of published URLs after this build, and the redirects it implies.
    settled: Settled | None = None
    # The site path of each story some body links to by its source file, by that file.
    targets: dict[str, str] = field(default_factory=dict)


def plan(config: Config, options: BuildOptions, loaded: LoadResult, record: Record | None = None,
         now: datetime | None = None) -> Plan:
    """From loaded articles to every page as of `now` (default: `build_time`): drafts, embargoes and duplicate
    slugs are settled here.

    With the `record` of published URLs, the pages also redirect every URL an article moved away from.
    """
    errors: list[SitegenError] = list(loaded.errors)
    now = now or build_time()
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
    valid_until = next_change(now.timestamp(), (a.published.timestamp() for a in loaded.articles if a.published),
                              (a.published.timestamp() for a in site.articles if a.published))
    pages = plan_site(site, config, now)
    settled = None
    if record is not None:
        links = Links(config)
        settled = settle(record, site.articles, {page.url for page in pages},
                         {str(a.source_path): links.article(a) for a in site.articles}, options.source / CONTENT_DIR)
        pages += redirect_pages(settled.moves) + redirects_file([(m.old, m.new) for m in settled.moves])
        warnings += settled.warnings
        if options.frozen_urls:
            errors += [BuildError(f"{what}, which {RECORD_NAME} does not hold", article.source_path, None,
                                  f"build without --frozen-urls and commit {RECORD_NAME}")
                       for article, what in settled.changed]
    targets: dict[str, str] = {}
    if any(article.links for article in site.articles):
        link_errors, targets = _check_links(site, loaded, pages, config, options, now)
        errors += link_errors
    return Plan(site, pages, errors, len(loaded.articles) - len(chosen), warnings, valid_until, settled, targets)


def _check_links(site: Site, loaded: LoadResult, pages: list[Page], config: Config, options: BuildOptions,
                 now: datetime) -> tuple[list[SitegenError], dict[str, str]]:
    """Errors for body links that name no story, page or id of this build; and where linked stories are."""
    links, selection = Links(config), Selection(options.drafts, options.future, now)
    read = {str(article.source_path): article for article in loaded.articles}
    published = {str(article.source_path): article for article in site.articles}
    at_url = {links.article(article): article for article in site.articles}
    written = {page.url for page in pages}
    written.update(f"/static/{path.relative_to(folder).as_posix()}" for folder in static_dirs(options.source)
                   if folder.is_dir() for path in static_files(folder))
    written.update(f"/media/{name}" for article in site.articles for name in article.media)
    reach = Reachable(
        article=read.get,
        left_out=lambda article: "" if str(article.source_path) in published else left_out(article, selection),
        url=links.article,
        page=written.__contains__,
        article_at=at_url.get,
        theme_ids=theme_ids(template_dirs(options.source)),
        near_files=lambda path: near_names(path, read),
        near_pages=lambda path: near_pages(path, written),
    )
    content = options.source / CONTENT_DIR
    errors: list[SitegenError] = [error for article in site.articles if article.links
                                  for error in check_links(article, reach, content)]
    return errors, link_targets(site.articles, links.article)


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
    """A hash of everything but the articles: sitegen itself, options, config, templates and static files.

    Of the options, only those that change the output count: a preview of the site and its build share the cache.
    """
    wanted = (options.base_url, options.drafts, options.future, options.frozen_urls)
    digest = hashlib.sha256(f"{code_identity()}\0{wanted!r}\0{output}\0".encode())
    for line in _status_lines([source / CONFIG_NAME, source / RECORD_NAME, *template_dirs(source), *static_dirs(source)]):
        digest.update(line.encode())
    return digest.hexdigest()


def folder_digests(scanned: Mapping[str, str]) -> dict[str, str]:
    """A hash of each folder's article files, their names and statuses (see `scan`), by folder (`folder_of`).

    A build after an edit compares the statuses of the folders whose hash changed alone: reading
    every status the last build kept took a tenth of a second at 100,000 articles.
    """
    hashes: dict[str, Any] = {}
    for name, status in scanned.items():
        folder = folder_of(name)
        digest = hashes.get(folder)
        if digest is None:
            digest = hashes[folder] = hashlib.sha256()
        digest.update(f"{name}\0{status}\n".encode())
    return {folder: digest.hexdigest()[:32] for folder, digest in hashes.items()}


def sources_signature(folders: Mapping[str, str]) -> str:
    """A hash of every article file's name and status, from `folder_digests`."""
    return hashlib.sha256("".join(f"{folder}\0{digest}\n" for folder, digest in sorted(folders.items())).encode()
                          ).hexdigest()


def changed_folders(last: Mapping[str, Any], folders: Mapping[str, str]) -> set[str] | None:
    """The folders whose files are not as the last build kept them (`folder_digests` of either); None when
    its record does not say."""
    before = last.get("folders")
    if not isinstance(before, dict):
        return None
    return {folder for folder in before.keys() | folders.keys() if before.get(folder) != folders.get(folder)}


def input_signature(theme: str, sources: str) -> str:
    """A hash of every input: `theme` covers all but the articles, `sources` (`sources_signature`) those."""
    return hashlib.sha256(f"{theme}\0{sources}".encode()).hexdigest()


def template_dirs(source: Path) -> list[Path]:
    """The site's own templates first, then the default theme's."""
    return [source / "templates", theme_dir() / "templates"]


def static_dirs(source: Path) -> list[Path]:
    """The theme's static files first, so the site's own override them."""
    return [theme_dir() / "static", source / "static"]


def scan(source: Path, settings: LoadSettings, assets: dict[str, tuple[str, ...]] | None = None) -> dict[str, str]:
    """Every article file's name, in order, with its status and the settings (see `source_statuses`).

    A file whose status is as the last build saw it keeps its digest unread. `assets` are the local
    files each article used last time, whose statuses count too.
    """
    # Names, not Paths: a build that reads few files need not make 100,000 Path objects.
    return source_statuses(source / CONTENT_DIR, scan_prefix(settings), assets)


def scan_prefix(settings: LoadSettings) -> str:
    """What every file's status starts with: the settings it is read with."""
    return hashlib.sha256(repr(settings).encode()).hexdigest()[:16]


@dataclass
class KeptScan:
    """A long-running caller's memory of the last scan (the preview server's), with the paths its watcher
    saw change since: the next build restats those alone. `changed` None: not known, scan everything."""

    prefix: str = ""
    statuses: dict[str, str] | None = None
    changed: set[Path] | None = None
    # Articles read from the cache, by digest (see `Cache.remembered`).
    articles: Remembered = field(default_factory=Remembered)

    def note(self, paths: Iterable[Path]) -> None:
        if self.changed is not None:
            self.changed.update(paths)


def _scan(options: BuildOptions, settings: LoadSettings, assets: dict[str, tuple[str, ...]],
          kept: KeptScan | None) -> dict[str, str]:
    """`scan`, or the kept scan brought up to date with the files changed since, when that can be told."""
    prefix = scan_prefix(settings)
    scanned = None
    if kept is not None and kept.statuses is not None and kept.changed is not None and kept.prefix == prefix:
        scanned = rescanned(kept.statuses, kept.changed, options.source / CONTENT_DIR, prefix, assets)
    if scanned is None:
        scanned = scan(options.source, settings, assets)
    if kept is not None:
        kept.prefix, kept.statuses, kept.changed = prefix, scanned, set()
    return scanned


@dataclass
class LoadedSite:
    """The articles of a build, with each one's card key and the status and digest of every file read."""

    result: LoadResult
    cards: dict[str, str]
    files: dict[str, FileRecord] = field(default_factory=dict)


def _load(scanned: dict[str, str], settings: LoadSettings, cache: Cache, workers: Workers,
          report: BuildReport, progress: Progress | None) -> LoadedSite:
    """Every article: from the cache when its digest is known, parsed (in parallel) when not.

    A file whose status is as the last build saw it keeps its digest unread. Digests and cache
    look-ups go a block of files at a time, so workers start on the first misses at once. Bodies
    of newly parsed articles go to the cache as they arrive, so they never all sit in memory.
    """
    known = cache.file_digests()
    used = cache.file_assets()
    results: dict[str, Article | SitegenError] = {}
    files: dict[str, FileRecord] = {}
    cards: dict[str, str] = {}
    # Each file's source key, which workers are sent; "" when a worker takes it.
    keys: dict[str, str] = {}

    def misses() -> Iterator[tuple[Path, str]]:
        if not known and cache.holds_no_articles():
            # Nothing can be found in an empty cache: the workers take each key of the bytes
            # they read, rather than this process reading every file once more for it.
            yield from ((Path(name), "") for name in scanned)
            return
        for block in chunked(list(scanned.items()), DIGEST_BLOCK):
            digests: dict[str, str] = {}
            for name, status in block:
                try:
                    before = known.get(name)
                    if before and before[0] == status:
                        digests[name], keys[name] = before[1], used[name][0] if name in used else before[1]
                    else:
                        keys[name], digests[name] = source_digest(Path(name), settings, used.get(name))
                    # Kept for a file that fails to load too: unchanged, it is not read again for a digest.
                    files[name] = (status, digests[name])
                except OSError as error:
                    results[name] = ContentError(f"cannot be read: {error.strerror}", Path(name))
            cached = cache.articles(digests.values())
            hits = 0
            for name, digest in digests.items():
                if digest in cached:
                    results[name], cards[digest] = cached[digest]
                    files[name] = file_record(scanned[name], cached[digest][0], keys[name], settings)
                    hits += 1
                else:
                    yield Path(name), keys[name]
            report.cache_hits += hits
            if progress:
                progress(hits)

    # Stored a few hundred at a time: each transaction rewrites the index pages it touches, and
    # one per worker's chunk wrote four times as many pages to the log.
    pending: list[Prepared] = []
    for items, chunk in workers.load(misses(), settings, progress, reader=load_chunk_for_cache, total=len(scanned)):
        pending += (r for r in chunk if not isinstance(r, SitegenError))
        if len(pending) >= STORE_BLOCK:
            cards.update(cache.store_articles(pending))
            pending = []
        for (path, key), loaded in zip(items, chunk, strict=True):
            name = str(path)
            if isinstance(loaded, SitegenError):
                results[name] = loaded
                continue
            results[name] = loaded.article
            files[name] = file_record(scanned[name], loaded.article, key, settings)
    cards.update(cache.store_articles(pending))
    cache.prune_articles({record[1] for record in files.values()})
    return LoadedSite(collect([results[name] for name in scanned]), cards, files)


def build(options: BuildOptions, on_page: Callable[[str], None] | None = None,
          progress: Callable[[str, int, int], None] | None = None, executor: Executor | None = None,
          memo: KeptScan | None = None) -> BuildReport:
    """Build the whole site and put it in place of the output in one step; `--strict` keeps the old site on error.

    A caller that watches the files keeps their last scan in `memo` (see `KeptScan`).

    Pages whose fingerprint and bodies match the last build's are kept from it instead of rendered.
    When only article bodies changed, only the pages that show them are rendered, and patched in.
    """
    started = time.perf_counter()
    # One moment for the whole build: what it publishes, and what the search index holds, are of it.
    now = build_time()
    report = BuildReport()
    config, _ = load_config(options.source, options.base_url)
    output = (options.output or options.source / "build").resolve()
    with ExitStack() as stack:
        # Until workers are forked, the collector's youngest generation may grow to GC_YOUNG objects.
        paced = gc.get_threshold()
        gc.set_threshold(GC_YOUNG, *paced[1:])
        stack.callback(gc.set_threshold, *paced)
        if options.cache:
            folder = cache_folder(options)
            cache = Cache(folder, remembered=memo.articles if memo is not None else None)
        else:
            # Without the cache, bodies still go to disk, to a throwaway one, rather than all into memory.
            output.parent.mkdir(parents=True, exist_ok=True)
            folder = output.parent / temporary_cache_name(output)
            stack.callback(shutil.rmtree, folder, ignore_errors=True)
            cache = Cache(folder, throwaway=True)
        stack.callback(cache.close)
        store = MediaStore(media_folder(folder))
        record_file = record_path(options, folder)
        settings = load_settings(config, options.source, store.folder)
        scanned = _scan(options, settings, {path: used for path, (_, _, used) in cache.file_assets().items()}, memo)
        theme = theme_signature(options.source, options, output) if options.cache else ""
        folders = folder_digests(scanned) if options.cache else {}
        sources = sources_signature(folders) if options.cache else ""
        signature = input_signature(theme, sources) if options.cache else ""
        last = cache.last_build() if options.cache and output.is_dir() else None
        current = last is not None and shows_moment(last, now)
        # Time has passed since the last build, and its site changed by itself (an embargo lifted): the
        # edit path takes that as edits, from the moment its output is of.
        since = None if current or last is None else moved_on(last, now)
        # A preview leaves the record of published URLs as it was: the next build that keeps it plans
        # the whole site, so that every story the preview showed first is recorded.
        behind = bool(last and last.get("record_behind")) and not options.preview
        if last and current and last.get("signature") == signature and not behind:
            return _unchanged(last, started)
        # --frozen-urls is for CI, which checks every URL against the record in a full build.
        if last and (current or since) and last.get("theme") == theme and not options.frozen_urls and not behind:
            content = options.source / CONTENT_DIR
            unreadable = last.get("unreadable") or []
            # A build with errors leaves the record as it was (see `keeps_record`), and so do the edits after it.
            urls = UrlRecord(RecordText.read(record_file), content,
                             None if options.drafts or options.future or options.frozen_urls or unreadable
                             else record_file)
            # Pagefind indexes an edited story's shard while its pages render; not for a lifted embargo,
            # whose stories come in from the log the build writes last.
            ahead = search_ahead(options, config, cache, now) \
                if options.search and config.search.enabled and since is None else None
            if ahead is not None:
                stack.callback(ahead.close)
            patched = patch_edits(config, settings, scanned, cache, output, template_dirs(options.source),
                                  max(PATCH_LIMIT, last["pages"] // 10),
                                  Selection(options.drafts, options.future, now), urls,
                                  {entry[0]: entry[1] for entry in unreadable}, since, changed_folders(last, folders),
                                  partial(ahead.begin, cache) if ahead is not None else None)
            if ahead is not None and not isinstance(patched, Patched):
                # Waited for before the full build, whose own update indexes into the same store.
                ahead.close()
            if isinstance(patched, Unreadable):
                if options.strict and any(str(error) not in options.tolerated for error in patched.errors):
                    # What a strict full build would end in, the site left as it was, but without
                    # the time (seconds at 100,000 articles) and with the last build's record kept:
                    # the save that mends the file takes this path again.
                    report.errors += [*_stored_errors(unreadable), *patched.errors]
                    return _finish(report, started)
                patched = None
            if patched is not None:
                report = _patched(last, patched, len(scanned))
                report.errors += _stored_errors(unreadable)
                # A new story's line in the record of URLs changes what the next build compares.
                theme = theme_signature(options.source, options, output)
                record = {**last, "theme": theme, "signature": input_signature(theme, sources), "folders": folders,
                          **_counts(report),
                          "record_behind": options.preview or bool(last.get("record_behind"))}
                if patched.retimed or since:
                    record["valid_from"], record["valid_until"] = now.isoformat(), _instant(patched.valid_until)
                report.valid_until = record.get("valid_until")
                cache.store_last_build(record)
                if options.search:
                    report.errors += update_site_search(options, config, cache, output, now, ahead)
                # Told once, by this build, not kept for the builds after it.
                report.warnings += patched.warnings
                for url in sorted(patched.rendered):
                    if on_page:
                        on_page(url)
                return _finish(report, started)
        gc.set_threshold(*paced)
        # Forked now, while this process holds little: see parallel.py.
        workers = stack.enter_context(Workers(options.workers, executor))
        loaded = _load(scanned, settings, cache, workers, report, _ticker(progress, "reading", len(scanned)))
        # What was read lives until the build ends: the collector's full passes need not walk it
        # again while the build plans (three passes of 0.04-0.11 s each at 10,000 articles, none
        # finding anything).
        gc.freeze()
        stack.callback(gc.unfreeze)
        # File digests are facts about the sources, not the output, so they are kept now and not held
        # through rendering; the last build's record goes first, so a failed build is never taken
        # for an up-to-date one.
        cache.forget_last_build()
        cache.store_file_digests(loaded.files, replace_all=True)
        cache.settle()
        # Filings are for the edit builds that follow, which a throwaway cache never sees. A worker,
        # idle now, stores them from the cache while this process plans.
        filings = workers.beside(store_filings_of, cache.path, [(str(a.source_path), a.digest)
                                                                for a in loaded.result.articles]) \
            if options.cache else None
        # A first build's articles and bodies are all stored now: to disk while it plans and renders.
        cache.write_out_early()
        load_errors = list(loaded.result.errors)
        unreadable = _unreadable_files(load_errors, scanned)
        del scanned
        loaded.files = {}
        planned = plan(config, options, loaded.result, read_record(record_file), now)
        if options.cache and not _stored(filings):
            cache.store_filings(filing_row(a, loaded.cards[a.digest]) for a in loaded.result.articles)
        report.errors += planned.errors
        report.warnings += planned.warnings
        moved = planned.settled.warnings if planned.settled else []
        report.articles, report.skipped, report.pages = len(planned.site.articles), planned.skipped, len(planned.pages)
        report.valid_until = _instant(planned.valid_until)
        records = cache.pages(output, {a.digest for a in planned.site.articles}) if options.cache else {}
        removed = sorted(set(records) - {page.url for page in planned.pages})
        # A page's last file may stand if it is there and every body it showed is still current.
        previous = {url: fingerprint for url, fingerprint in records.items()
                    if fingerprint and os.path.isfile(os.path.join(output, output_path(url)))}
        had_records = bool(records)
        del records
        staging = Staging(output)
        try:
            cache.start_staging(replace_all=not had_records)
            kept = _render(planned.pages, config, options, cache, loaded.cards, previous, workers, staging, report,
                           on_page, _ticker(progress, "rendering", len(planned.pages)),
                           first_urls(planned.settled.record) if planned.settled else {}, planned.targets)
            cache.write_out_early()
            static = _copy_static(options.source, staging)
            patch = bool(kept) and report.pages - len(kept) + len(removed) <= max(PATCH_LIMIT, report.pages // 10)
            media, stale_media = place_media(planned.site.articles, store, staging, output if patch else None)
            report.files = report.pages + static + media
            if options.strict and any(str(error) not in options.tolerated for error in report.errors):
                staging.discard()
                return _finish(report, started)
            if patch:
                staging.commit_patch(removed + _stale_static(output, staging) + stale_media)
            else:
                for url in kept:
                    staging.link(url, output / output_path(url))
                staging.commit()
            report.written = True
        except BaseException:
            # A template error or Ctrl-C leaves the previous site exactly as it was.
            staging.discard()
            cache.discard_staged_pages()
            raise
        if planned.settled and keeps_record(options, report) and \
                write_record(record_file, planned.settled.record) and options.cache:
            theme = theme_signature(options.source, options, output)
            signature = input_signature(theme, sources)
        if options.cache:
            # Photos no article uses any more go; those of drafts and embargoed stories stay for later.
            store.prune({name for article in loaded.result.articles for name in article.media})
            cache.commit_staged_pages(output, removed, replace_all=not had_records)
            # Kept too when the only errors are files that do not load: each holds while its file is
            # unchanged, so the builds after it can say them again without reading the whole site.
            only_unreadable = unreadable is not None and len(report.errors) == len(load_errors) and \
                all(given is found for given, found in zip(report.errors, load_errors, strict=True))
            if not report.errors or only_unreadable:
                # Moves are told once, by the build that records them, not by every build after it.
                counts = {**_counts(report), "warnings": [w for w in report.warnings if w not in moved]}
                cache.store_last_build({"signature": signature, "folders": folders, "theme": theme,
                                        "valid_from": now.isoformat(),
                                        "valid_until": report.valid_until, **counts,
                                        "record_behind": options.preview or bool(report.errors),
                                        "unreadable": unreadable if report.errors else []})
        if options.search and report.written:
            # What the workers and the plan held is not needed to index: at 100,000 articles they
            # were gigabytes beside Pagefind's.
            workers.close()
            del planned, loaded
            report.errors += update_site_search(options, config, cache, output, now)
    return _finish(report, started)


def refresh_search(options: BuildOptions) -> list[SitegenError]:
    """`update_site_search` on its own, after a build that left it out (a preview's, not to hold back its reload)."""
    try:
        config, _ = load_config(options.source, options.base_url)
    except SitegenError as error:
        return [error]
    cache = Cache(cache_folder(options))
    try:
        return update_site_search(options, config, cache, (options.output or options.source / "build").resolve())
    finally:
        cache.close()


def update_site_search(options: BuildOptions, config: Config, cache: Cache, output: Path,
                       now: datetime | None = None, ahead: Ahead | None = None) -> list[SitegenError]:
    """The output's search index made to match the stories the cache says the site publishes at `now` (default:
    `build_time`; see search.py); by `ahead` (see `search_ahead`) when it has begun it."""
    bundle = output / SEARCH_FOLDER
    if not config.search.enabled:
        shutil.rmtree(bundle, ignore_errors=True)
        return []
    try:
        if ahead is not None and ahead.begun:
            ahead.finish(cache, output)
        else:
            job = search_ahead(options, config, cache, now)
            update_search(cache, job.selection, job.settings, job.content, job.store, output, job.read)
    except SitegenError as error:
        return [error]
    except OSError as error:
        return [BuildError(f"could not write the search index: {error}", bundle, None, "check the output folder")]
    return []


def search_ahead(options: BuildOptions, config: Config, cache: Cache, now: datetime | None = None) -> Ahead:
    """The site's search update, to begin beside an edit's rendering (see `search.Ahead`) or run after it."""
    links = Links(config)
    bodies = CachedBodies(cache.path)

    def read(members: list[Story]) -> Iterator[dict[str, Any]]:
        # From the cache here, in this thread, which has its connections; the records are made where
        # they are taken, each while Pagefind reads the one before.
        found = cache.articles(story.digest for story in members)
        articles = [found[story.digest][0] for story in members if story.digest in found]
        shown = bodies.many(article.digest for article in articles)
        return (search_record(article, shown[article.digest], links.article(article)) for article in articles)

    return Ahead(Selection(options.drafts, options.future, now or build_time()),
                 repr((config.permalinks, config.default_section)), options.source / CONTENT_DIR,
                 cache.path.parent / "search", read)


PREVIEW_RECORD = "preview-urls.txt"


def record_path(options: BuildOptions, cache: Path) -> Path:
    """The record of published URLs a build reads and writes: the site's, or for a preview its own copy.

    A preview records what it shows as a build would, so that its builds after edits take the same
    path, but in the cache folder: nothing a preview shows is published. Its copy starts afresh from
    the site's record whenever that changes.
    """
    site = options.source / RECORD_NAME
    if not options.preview:
        return site
    own, seed = cache / PREVIEW_RECORD, cache / "preview-urls.seed"
    try:
        current = site.read_bytes()
    except FileNotFoundError:
        current = b""
    try:
        seeded = seed.read_bytes()
    except FileNotFoundError:
        seeded = None
    if seeded != current:
        cache.mkdir(parents=True, exist_ok=True)
        own.unlink(missing_ok=True)
        if current:
            own.write_bytes(current)
        seed.write_bytes(current)
    return own


def warm(options: BuildOptions, memo: KeptScan) -> None:
    """Read into a long-running caller's memory what an edit build reads whole: the last full build's
    filings (for a new story) and the record of published URLs parsed (for a moved one). The
    preview's first such save then costs what later ones do.

    Safe beside a build: it writes nothing, and what it keeps is checked against the cache when used.
    """
    folder = cache_folder(options)
    if not options.cache or not (folder / "cache.sqlite3").is_file():
        return
    remember_filings(folder / "cache.sqlite3", memo.articles)
    # The preview's own copy of the record as the last build left it (`record_path` would renew it).
    read_record(folder / PREVIEW_RECORD if options.preview else options.source / RECORD_NAME)


def _stored(filings: Future[None] | None) -> bool:
    """Whether a worker stored the filings (see `store_filings_of`); if not, this process stores them."""
    if filings is None:
        return False
    try:
        filings.result()
    except Exception:  # noqa: BLE001 - whatever stopped the worker, this process stores them
        return False
    return True


def keeps_record(options: BuildOptions, report: BuildReport) -> bool:
    """Whether this build updates the record of published URLs: not a preview with drafts or embargoed
    stories, not one that failed (a broken story is not taken down), and not with --frozen-urls."""
    return not (options.drafts or options.future or options.frozen_urls or report.errors)


def shows_moment(last: dict[str, Any], now: datetime) -> bool:
    """Whether the last build's output is the site as of `now`: no earlier than the moment it was made for
    (a clock set back, as SOURCE_DATE_EPOCH set for one build and not the next, holds back stories again),
    and before the next moment the same inputs give another site."""
    since, until, moment = last.get("valid_from"), last.get("valid_until"), now.isoformat()
    return since is not None and since <= moment and (until is None or moment < until)


def moved_on(last: dict[str, Any], now: datetime) -> datetime | None:
    """The moment the last build's output is of, when `now` is past the moment its site changed by itself;
    None when it is not, or the clock is earlier than the last build's."""
    since, until = last.get("valid_from"), last.get("valid_until")
    if since is None or until is None or not since <= until <= now.isoformat():
        return None
    return datetime.fromisoformat(since)


def _instant(timestamp: float | None) -> str | None:
    """A moment as the last build's record keeps it: ISO 8601 in UTC, which sorts as it compares."""
    return None if timestamp is None else datetime.fromtimestamp(timestamp, timezone.utc).isoformat()


def _finish(report: BuildReport, started: float) -> BuildReport:
    report.seconds = time.perf_counter() - started
    return report


def _render(pages: list[Page], config: Config, options: BuildOptions, cache: Cache, cards: dict[str, str],
            previous: dict[str, str], workers: Workers, staging: Staging, report: BuildReport,
            on_page: Callable[[str], None] | None, progress: Progress | None,
            first: dict[str, str] | None = None, targets: dict[str, str] | None = None) -> list[str]:
    """Fingerprint every page and render those that changed into `staging`; returns the URLs kept as they were.

    Workers forked once the pages are planned share them, unless this process holds too much to
    fork (see SHARE_LIMIT). Otherwise this process pickles each page once with its articles as
    references, which is both what its fingerprint is taken of and what the forked workers are
    sent; they read the articles from the cache. A remote worker, which cannot, is sent whole pages
    and the bodies they show. On a first build, a worker fingerprints pages as it renders them.
    What each rendered page showed goes to the cache as it comes, not into memory.
    """
    dirs = template_dirs(options.source)
    env = make_environment(config, dirs, {})
    templates = template_hashes(pages, config, env)
    # Workers forked now share the planned pages with this process: they need not be pickled for
    # them, nor their articles read back from the cache. Those that read the articles are idle now.
    shared = workers.forked and may_share()
    # Pages sent to forked workers that do not share them go pickled, articles as references.
    pickled, count = workers.forked and not shared, workers.count
    if shared:
        workers.close()
    settings = RenderSettings(config, tuple(dirs), templates, None if workers.remote else staging.path,
                              fingerprints=options.cache, fresh=True, cache=None if workers.remote else cache.path,
                              run=uuid.uuid4().hex, compiled=None if workers.remote else cache.templates,
                              first_urls=tuple(sorted((first or {}).items())), content_dir=options.source / CONTENT_DIR,
                              targets=tuple(sorted((targets or {}).items())))
    bodies = CachedBodies(cache.path)
    kept: list[str] = []
    # The pickled form of each page sent to a worker, and the articles it names, until it comes back rendered.
    sent: dict[str, tuple[bytes, tuple[str, ...]]] = {}

    def changed() -> Iterator[tuple[Page, str, bytes]]:
        """Every page whose fingerprint differs from the last build's, with its fingerprint ("" when not taken)."""
        pickler = Fingerprinter(cards, targets)
        for page in pages:
            if not (pickled or previous):
                yield page, "", b""
                continue
            data = pickler.dumps(page)
            print_ = fingerprint(templates[page.template], data) if previous else ""
            if print_ and previous.get(page.url) == print_:
                kept.append(page.url)
                if progress:
                    progress(1)
            else:
                sent[page.url] = (data, tuple(sorted(pickler.named)))
                yield page, print_, data

    def chunks() -> Iterator[RenderChunk]:
        for chunk in chunked_iter(changed(), RENDER_CHUNK):
            if pickled:
                yield RenderChunk((), bodies, {}, stored=[(print_, data) for _, print_, data in chunk])
                continue
            todo = [page for page, _, _ in chunk]
            prints = {page.url: print_ for page, print_, _ in chunk if print_}
            if workers.remote:
                named = articles_in(todo)
                yield RenderChunk(todo, {d: bodies[d] for d in sorted(named)}, {d: cards[d] for d in named}, prints)
            else:
                # In this process nothing is pickled on the way, so pages go as they are.
                yield RenderChunk(todo, bodies, cards, prints)

    def shared_chunks() -> Iterator[list[tuple[str, str]]]:
        for chunk in chunked_iter(changed(), RENDER_CHUNK):
            yield [(page.url, print_) for page, print_, _ in chunk]

    with sharing({page.url: page for page in pages}, cards, count) if shared else nullcontext(workers) as pool:
        results = pool.render_shared(shared_chunks(), settings, progress) if shared else \
            pool.render(chunks(), settings, progress)
        _take_rendered(results, sent, staging, cache if options.cache else None, on_page)
    report.reused = len(kept)
    return kept


def _take_rendered(results: Iterable[Rendered], sent: dict[str, tuple[bytes, tuple[str, ...]]], staging: Staging,
                   cache: Cache | None, on_page: Callable[[str], None] | None) -> None:
    """Put what workers rendered in place, and note each page in the cache (if any) as it comes."""
    for result in results:
        if result.data is not None:
            staging.write(result.url, result.data)
        data, named = sent.pop(result.url, (result.page, result.named or ()))
        if cache is not None:
            cache.stage_page(result.url, result.fingerprint, data, result.bodies, named)
        if on_page:
            on_page(result.url)


def place_media(articles: Iterable[Article], store: MediaStore, staging: Output, live: Path | None,
                ) -> tuple[int, list[str]]:
    """Every published file the articles need, linked from the store into `staging`: (how many, stale URLs).

    With `live`, the output a patch goes into, only files it lacks are staged (a name always means the
    same bytes), and its files no article needs are the stale ones.
    """
    names = sorted({name for article in articles for name in article.media})
    present = set(os.listdir(live / "media")) if live is not None and (live / "media").is_dir() else set()
    for name in names:
        if name not in present:
            staging.link(MEDIA_URL + name, store.path(name))
    return len(names), [MEDIA_URL + name for name in sorted(present - set(names))]


def _copy_static(source: Path, staging: Staging) -> int:
    """The theme's and the site's static files into the staging folder; returns how many were copied."""
    return sum(staging.copy_tree(folder, "static") for folder in static_dirs(source) if folder.is_dir())


def _stale_static(output: Path, staging: Staging) -> list[str]:
    """Static files in the output that no static folder has any more."""
    live = output / "static"
    if not live.is_dir():
        return []
    return ["/static/" + path.relative_to(live).as_posix() for path in static_files(live)
            if not (staging.path / "static" / path.relative_to(live)).is_file()]


def _patched(last: dict[str, Any], patched: Patched, scanned: int) -> BuildReport:
    """The report of a build that patched edited articles' pages into the last build's output."""
    return BuildReport(articles=last["articles"] + patched.articles, pages=last["pages"] + patched.added,
                       files=last["files"] + patched.added, skipped=last["skipped"] + patched.skipped,
                       warnings=list(last["warnings"]),
                       reused=last["pages"] + patched.added - len(patched.rendered),
                       cache_hits=scanned - patched.read, written=True)


def _counts(report: BuildReport) -> dict[str, Any]:
    return {"articles": report.articles, "pages": report.pages, "files": report.files, "skipped": report.skipped,
            "warnings": report.warnings}


def _unchanged(last: dict[str, Any], started: float) -> BuildReport:
    """The report of a build that found nothing to do: the last build's output stands."""
    report = BuildReport(articles=last["articles"], pages=last["pages"], files=last["files"],
                         skipped=last["skipped"], warnings=list(last["warnings"]), reused=last["pages"],
                         unchanged=True, written=True, errors=_stored_errors(last.get("unreadable") or []),
                         valid_until=last.get("valid_until"))
    report.seconds = time.perf_counter() - started
    return report


_ERROR_KINDS: dict[str, type[SitegenError]] = {kind.__name__: kind for kind in (SitegenError, ContentError, ConfigError,
                                                                                 BuildError, TemplateError)}


def _unreadable_files(errors: list[SitegenError], scanned: dict[str, str]) -> list[list[Any]] | None:
    """Each error as [article file, its status, kind, message, file named, line, hint], for a build's
    record; None unless each names an article file the scan found, or its sidecar (only then does it
    hold while that file, whose status is its sidecar's too, is unchanged)."""
    found = []
    for error in errors:
        named = str(error.path) if error.path is not None else ""
        article = str(Path(named).with_suffix(".txt")) if Path(named).suffix.lower() in SIDECAR_SUFFIXES else named
        if article not in scanned or type(error).__name__ not in _ERROR_KINDS:
            return None
        found.append([article, scanned[article], type(error).__name__, error.message, named, error.line, error.hint])
    return found


def _stored_errors(unreadable: list[list[Any]]) -> list[SitegenError]:
    return [_ERROR_KINDS[kind](message, named, line, hint) for _, _, kind, message, named, line, hint in unreadable]


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
