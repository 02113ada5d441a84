"""Running per-article and per-page work on every core, or on any `concurrent.futures.Executor`.

Local workers are forked when the build starts, while the parent is still small, and are sent
chunks of work: a worker forked late would share, and soon copy, every article and page of the
parent. Pages go to them in the form the cache stores them, with articles as references the
worker resolves from the cache: pickling whole articles into every listing that shows them
cost as much as rendering. Any other executor (a Dask cluster's `Client.get_executor()`)
cannot read the cache, so it gets whole pages with the bodies they need, and sends rendered
bytes back. Output is byte-identical whatever runs it.
"""

from __future__ import annotations

import copyreg
import gc
import io
import multiprocessing
import os
import pickle
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import jinja2

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

from sitegen.cache import CachedArticles, CachedBodies, Fingerprinter, PageReader, Prepared, fingerprint, prepare
from sitegen.config import Config
from sitegen.errors import SitegenError
from sitegen.load import Loaded, LoadSettings, load_or_error
from sitegen.model import Article, Body
from sitegen.plan import Page
from sitegen.render import make_environment, render_noting_bodies
from sitegen.write import Output

T = TypeVar("T")
Progress = Callable[[int], None]
LOAD_CHUNK = 32
RENDER_CHUNK = 48
# Articles a local worker keeps resolved while rendering, at about 2 KB each: a 10,000-article site's
# listings and feeds name each article about eight times.
ARTICLE_MEMORY = 16384


def chunked(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def chunked_iter(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size`, taken as they come."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def guided_chunks(items: Iterable[T], total: int, workers: int, most: int) -> Iterator[list[T]]:
    """`items` (about `total` of them) in lists of `most`, shrinking to one as the end nears.

    A photo takes a worker half a second: 32 stories with photos in the last chunk left the other
    core idle for 20 s, and a dozen new ones all went to one worker.
    """
    chunk: list[T] = []
    remaining = total
    size = max(1, min(most, remaining // (4 * workers)))
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            remaining -= len(chunk)
            chunk = []
            size = max(1, min(most, remaining // (4 * workers)))
    if chunk:
        yield chunk


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def load_chunk(items: Sequence[tuple[Path, str]], settings: LoadSettings) -> list[Loaded | SitegenError]:
    """Read a chunk of articles; runs in a worker."""
    return [load_or_error(path, settings, digest) for path, digest in items]


def load_chunk_for_cache(items: Sequence[tuple[Path, str]], settings: LoadSettings) -> list[Prepared | SitegenError]:
    """Read a chunk of articles and pickle them for the cache; runs in a worker."""
    return [r if isinstance(r, SitegenError) else prepare(*r) for r in load_chunk(items, settings)]


@dataclass(frozen=True)
class RenderSettings:
    """What every render chunk shares: the site, its templates, where bodies are, where files go."""

    config: Config
    template_dirs: tuple[Path, ...]
    # Hash of each template (and what it uses): part of every page's fingerprint.
    templates: Mapping[str, str]
    # Written here by the worker; None: rendered bytes are sent back instead (a remote executor).
    folder: Path | None
    fingerprints: bool = True
    # The folder is a new staging folder, not a served one: files go straight in.
    fresh: bool = False
    # The cache that stored pages' articles are read from, and a name for this build: see _page_reader.
    cache: Path | None = None
    run: str = ""
    # Where compiled templates are kept between builds.
    compiled: Path | None = None
    # Where moved articles were first published, for their feed ids (see `Links.first`).
    first_urls: tuple[tuple[str, str], ...] = ()
    content_dir: Path | None = None
    # Where the stories bodies link to by source file are (see `Links.targets`).
    targets: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RenderChunk:
    pages: Sequence[Page]
    bodies: Mapping[str, Body]
    # Card key of every article the pages name, for fingerprints.
    cards: Mapping[str, str]
    # Fingerprints the sender took already, by URL.
    prints: Mapping[str, str] = field(default_factory=dict)
    # Pages as `Fingerprinter` pickled them, with their fingerprints ("" when not yet taken), instead of `pages`.
    stored: Sequence[tuple[str, bytes]] = ()


@dataclass(frozen=True)
class Rendered:
    """One rendered page: its fingerprint and the article bodies it showed."""

    url: str
    fingerprint: str
    bodies: frozenset[str] = frozenset()
    # The page pickled with articles as references, and the articles it names (by source path), when
    # the worker pickled it; None when the sender did, and so has them already.
    page: bytes | None = None
    data: bytes | None = None
    named: tuple[str, ...] | None = None


@lru_cache(maxsize=4)
def _environment(config: Config, template_dirs: tuple[Path, ...], templates: tuple[tuple[str, str], ...],
                 compiled: Path | None, first_urls: tuple[tuple[str, str], ...] = (),
                 content_dir: Path | None = None, targets: tuple[tuple[str, str], ...] = ()) -> jinja2.Environment:
    # Keyed on the templates' hashes too: the environment does not look at the files again.
    return make_environment(config, list(template_dirs), {}, auto_reload=not templates, compiled=compiled,
                            first_urls=dict(first_urls), content_dir=content_dir, targets=dict(targets))


@lru_cache(maxsize=4)
def _targets(targets: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return dict(targets)


@lru_cache(maxsize=1)
def _bodies(cache: Path, run: str) -> CachedBodies:
    # One per build (`run`) and worker, not one per chunk: each new connection starts with an empty
    # page cache, and a chunk's 48 bodies cost a third more read through one. Kept by build, as the
    # bodies it remembers may be edited by the next.
    return CachedBodies(cache)


@lru_cache(maxsize=1)
def _page_reader(cache: Path, run: str) -> PageReader:
    # One per build: a reference names an article's path and card, not its digest, so a reader kept
    # from an earlier build in the same process could hand out an article with an older body.
    return PageReader(CachedArticles(cache), ARTICLE_MEMORY)


def _chunk_pages(chunk: RenderChunk, settings: RenderSettings,
                 ) -> Iterator[tuple[Page, str, tuple[bytes, tuple[str, ...]] | None]]:
    """Each page of the chunk with its fingerprint, taken here when the sender did not take it.

    Also the page pickled, and the articles it names, when pickled here (None when the sender did).
    """
    if chunk.stored:
        assert settings.cache is not None, "stored pages need the cache their articles are in"
        reader = _page_reader(settings.cache, settings.run)
        for print_, data in chunk.stored:
            page: Page = reader.load(data)
            if not print_ and settings.fingerprints:
                print_ = fingerprint(settings.templates[page.template], data)
            yield page, print_, None
        return
    pickler = _fingerprinter(chunk.cards, settings)
    for page in chunk.pages:
        if page.url in chunk.prints:
            yield page, chunk.prints[page.url], None
        elif settings.fingerprints:
            data = pickler.dumps(page)
            yield page, fingerprint(settings.templates[page.template], data), (data, tuple(sorted(pickler.named)))
        else:
            yield page, "", None


# The last build's fingerprinter in this worker, with what it was made for (see `_fingerprinter`).
_last_fingerprinter: tuple[str, Mapping[str, str], tuple[tuple[str, str], ...], Fingerprinter] | None = None


def _fingerprinter(cards: Mapping[str, str], settings: RenderSettings) -> Fingerprinter:
    """One fingerprinter for all of a build's chunks in this worker, while they share their cards.

    It remembers each article's reference: made afresh for every chunk of 48 pages, it made one for
    nearly every card of every listing (3.1 s of a 48 s profile of a first build with the cache).
    """
    global _last_fingerprinter
    last = _last_fingerprinter
    if last is not None and settings.run and last[0] == settings.run and last[1] is cards \
            and last[2] == settings.targets:
        return last[3]
    pickler = Fingerprinter(cards, _targets(tuple(map(tuple, settings.targets))))  # type: ignore[arg-type]
    _last_fingerprinter = (settings.run, cards, settings.targets, pickler)
    return pickler


def render_chunk(chunk: RenderChunk, settings: RenderSettings) -> list[Rendered]:
    """Render a chunk of pages, fingerprinting those the sender did not; runs in any worker, local or remote."""
    # Dask may hand a tuple over as a list; the environment cache needs it hashable.
    env = _environment(settings.config, tuple(settings.template_dirs), tuple(sorted(settings.templates.items())),
                       settings.compiled, tuple(settings.first_urls), settings.content_dir,
                       tuple(map(tuple, settings.targets)))  # type: ignore[arg-type]
    env.globals["body"].store = chunk.bodies  # type: ignore[attr-defined]
    if isinstance(chunk.bodies, CachedBodies):
        # A story's page shows its body; a listing's cards show none.
        chunk.bodies.read_ahead(article.digest for page in chunk.pages
                                if isinstance(article := page.context.get("article"), Article))
    output = Output(settings.folder) if settings.folder else None
    write: Callable[[str, bytes], object] | None = None
    if output is not None:
        write = output.write_new if settings.fresh else output.write
    results = []
    # Files are written by a thread while the next page renders: creating files and folders
    # waits on the file system, which would otherwise leave the core idle.
    with ThreadPoolExecutor(1) if write else nullcontext() as writer:
        written = []
        for page, print_, stored in _chunk_pages(chunk, settings):
            text, used = render_noting_bodies(env, page)
            encoded = text.encode("utf-8")
            if writer is not None and write is not None:
                written.append(writer.submit(write, page.url, encoded))
            results.append(Rendered(page.url, print_, used, stored[0] if stored else None, None if write else encoded,
                                    stored[1] if stored else None))
        for done in written:
            done.result()
    return results


def peak_memory() -> int | None:
    """The most memory this process has held at once so far, in bytes; None where the OS does not say."""
    # Linux's own high-water mark of this process's memory. getrusage's ru_maxrss survives exec: a
    # sitegen started by a process that had held 400 MB said 400 MB, and would not share its pages.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if resource is None:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


# Forked workers copy what they touch of the pages and articles they share with this process:
# between them, about as much again as it holds. Past this much a build does not share its pages,
# so that memory stays within its budget at archive scale (publishing at 100,000 articles held
# 1.16 GB with workers, 0.58 GB without; a 10,000-article site holds about 0.1 GB here).
SHARE_LIMIT = 256 * 2**20

# Pages that workers forked by `sharing` hold from the moment they were forked, by URL, and the
# card key of every article, by digest, for the fingerprints they take.
_shared: Mapping[str, Page] = {}
_shared_cards: Mapping[str, str] = {}


def may_share() -> bool:
    """Whether this process holds little enough for workers forked now to share it (see SHARE_LIMIT)."""
    held = peak_memory()
    return held is not None and held <= SHARE_LIMIT


def render_shared(items: Sequence[tuple[str, str]], settings: RenderSettings) -> list[Rendered]:
    """Render shared pages, given by URL with their fingerprints; runs in a worker forked by `sharing`.

    A page whose fingerprint is "" is fingerprinted (and pickled) here, when the settings ask for it.
    """
    assert settings.cache is not None, "shared pages show bodies from the cache"
    bodies = _bodies(settings.cache, settings.run) if settings.run else CachedBodies(settings.cache)
    chunk = RenderChunk([_shared[url] for url, _ in items], bodies, _shared_cards,
                        {url: print_ for url, print_ in items if print_})
    return render_chunk(chunk, settings)


@contextmanager
def sharing(pages: Mapping[str, Page], cards: Mapping[str, str] | None = None, count: int = 0) -> Iterator[Workers]:
    """`count` local workers forked now, holding `pages`, which `Workers.render_shared` has them render by URL.

    They render from the memory they share with this process, rather than unpickle each page and
    read its articles back from the cache (2-3 s of CPU for each worker at 10,000 articles).
    `cards` are needed only for pages sent without a fingerprint.
    """
    global _shared, _shared_cards
    _shared, _shared_cards = pages, cards or {}
    # Frozen, a worker's collections leave alone what it shares, rather than touch and so copy it.
    gc.freeze()
    try:
        with Workers(count) as workers:
            yield workers
    finally:
        _shared, _shared_cards = {}, {}
        gc.unfreeze()


def articles_in(pages: Iterable[Page]) -> dict[str, Article]:
    """Every article the pages' contexts refer to, however deeply, by digest."""
    found: dict[str, Article] = {}

    def note(article: Article) -> tuple[Any, ...]:
        found[article.digest] = article
        return (str, ("",))

    pickler = pickle.Pickler(io.BytesIO(), protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, Article: note}
    for page in pages:
        pickler.dump(page.context)
    return found


# The collector's pace as Python sets it, for workers: a build may have quickened it (see build.GC_YOUNG).
_COLLECTOR = gc.get_threshold()


def _started() -> int:
    return os.getpid()


def _pace_collector() -> None:
    gc.set_threshold(*_COLLECTOR)


class Workers:
    """Where per-item work runs: in this process, in processes forked at the start, or on a given executor.

    Use as a context manager: local workers are forked on entry, before the build grows.
    """

    def __init__(self, count: int = 0, executor: Executor | None = None) -> None:
        self.count = count or default_workers()
        self.executor = executor
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Workers:
        if self.executor is None and self.count > 1:
            self._pool = ProcessPoolExecutor(self.count, mp_context=multiprocessing.get_context("fork"),
                                             initializer=_pace_collector)
            # Fork them all now: a process pool forks lazily, and later the parent holds the whole site.
            for future in [self._pool.submit(_started) for _ in range(self.count)]:
                future.result()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the local workers, if any; this object does its work in this process from then on."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def beside(self, function: Callable[..., T], *args: Any) -> Future[T] | None:
        """`function(*args)` in one of the local workers, while this process goes on; None without them."""
        return self._pool.submit(function, *args) if self._pool is not None else None

    @property
    def _executor(self) -> Executor | None:
        return self.executor if self.executor is not None else self._pool

    @property
    def forked(self) -> bool:
        """Work is done by this machine's worker processes, which can read the cache."""
        return self._pool is not None

    @property
    def remote(self) -> bool:
        """Work is done by an outside executor, which cannot see this machine's files."""
        return self.executor is not None

    def _stream(self, function: Callable[..., T], chunks: Iterable[Any], *extra: Any) -> Iterator[tuple[Any, T]]:
        """(chunk, result) in order, with a bounded number of chunks in flight."""
        executor = self._executor
        if executor is None:
            for chunk in chunks:
                yield chunk, function(chunk, *extra)
            return
        waiting: deque[tuple[Any, Future[T]]] = deque()
        for chunk in chunks:
            waiting.append((chunk, executor.submit(function, chunk, *extra)))
            if len(waiting) >= 4 * self.count:
                chunk, future = waiting.popleft()
                yield chunk, future.result()
        while waiting:
            chunk, future = waiting.popleft()
            yield chunk, future.result()

    def load(self, items: Iterable[tuple[Path, str]], settings: LoadSettings, progress: Progress | None = None,
             reader: Callable[..., list[Any]] = load_chunk, total: int = 0,
             ) -> Iterator[tuple[list[tuple[Path, str]], list[Any]]]:
        """Load articles (path, source key) in order, a chunk at a time: (the chunk, what was read of each).

        `items` is taken as it comes; `total` says about how many there are, so the last chunks can
        be small. `reader` is `load_chunk` (articles and bodies) or `load_chunk_for_cache` (pickled for the cache).
        """
        chunks = guided_chunks(items, total, self.count, LOAD_CHUNK) if total else chunked_iter(items, LOAD_CHUNK)
        for chunk, results in self._stream(reader, chunks, settings):
            yield chunk, results
            if progress:
                progress(len(chunk))

    def render_shared(self, chunks: Iterable[Sequence[tuple[str, str]]], settings: RenderSettings,
                      progress: Progress | None = None) -> Iterator[Rendered]:
        """Render pages these workers share with this process (see `sharing`), by URL and fingerprint."""
        for chunk, results in self._stream(render_shared, chunks, settings):
            yield from results
            if progress:
                progress(len(chunk))

    def render(self, chunks: Iterable[RenderChunk], settings: RenderSettings,
               progress: Progress | None = None) -> Iterator[Rendered]:
        """Render chunks of pages; a worker's TemplateError is raised here."""
        for chunk, results in self._stream(render_chunk, chunks, settings):
            yield from results
            if progress:
                # A chunk of pickled pages has them in `stored`: counting `pages` left the bar at 0.
                progress(len(chunk.pages) or len(chunk.stored))
