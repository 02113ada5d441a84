"""Running per-article and per-page work on every core, or on any `concurrent.futures.Executor`.

Locally the work runs in forked processes that inherit the planned pages, so nothing large is
pickled. Any other executor (a Dask cluster's `Client.get_executor()`) gets self-contained chunks
and sends rendered bytes back. Output is byte-identical whatever runs it.
"""

from __future__ import annotations

import copyreg
import io
import multiprocessing
import os
import pickle
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import jinja2

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
RENDER_CHUNK = 64

# What forked render workers inherit: (environment, pages, output folder). Set just before forking.
_RENDER_JOB: tuple[jinja2.Environment, Sequence[Page], Path] | None = None


def chunked(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def load_chunk(items: Sequence[tuple[Path, str]], settings: LoadSettings) -> list[Loaded | SitegenError]:
    """Read a chunk of articles; runs in a worker."""
    return [load_or_error(path, settings, digest) for path, digest in items]


def _render_forked(indices: Sequence[int]) -> list[tuple[str, frozenset[str]]]:
    assert _RENDER_JOB is not None, "render workers must be forked after the job is set"
    env, pages, folder = _RENDER_JOB
    output = Output(folder)
    used = []
    for index in indices:
        text, bodies = render_noting_bodies(env, pages[index])
        output.write(pages[index].url, text)
        used.append((pages[index].url, bodies))
    return used


@lru_cache(maxsize=4)
def _remote_environment(config: Config, template_dirs: tuple[Path, ...]) -> jinja2.Environment:
    return make_environment(config, list(template_dirs), {})


def render_chunk(pages: Sequence[Page], config: Config, template_dirs: tuple[Path, ...],
                 bodies: dict[str, Body]) -> list[tuple[str, bytes, frozenset[str]]]:
    """Render a chunk of self-contained pages (`bodies` holds every body they may show); runs anywhere."""
    # Dask may hand a tuple argument over as a list; the environment cache needs it hashable.
    env = _remote_environment(config, tuple(template_dirs))
    env.globals["body"].store = bodies  # type: ignore[union-attr]
    rendered = []
    for page in pages:
        text, used = render_noting_bodies(env, page)
        rendered.append((page.url, text.encode("utf-8"), used))
    return rendered


def articles_in(pages: Iterable[Page]) -> set[str]:
    """Digests of every article the pages' contexts refer to, however deeply."""
    found: set[str] = set()

    def note(article: Article) -> tuple[Any, ...]:
        found.add(article.digest)
        return (str, ("",))

    pickler = pickle.Pickler(io.BytesIO(), protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, Article: note}
    for page in pages:
        pickler.dump(page.context)
    return found


class Workers:
    """Where per-item work runs: in this process, in forked processes, or on a given executor."""

    def __init__(self, count: int = 0, executor: Executor | None = None) -> None:
        self.count = count or default_workers()
        self.executor = executor

    @property
    def local_processes(self) -> bool:
        return self.executor is None and self.count > 1

    def _pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.count, mp_context=multiprocessing.get_context("fork"))

    def _map(self, executor: Executor, function: Callable[..., T], chunks: list[Any], *extra: Any,
             progress: Progress | None = None) -> Iterator[T]:
        futures = [executor.submit(function, chunk, *extra) for chunk in chunks]
        for future, chunk in zip(futures, chunks, strict=True):
            yield future.result()
            if progress:
                progress(len(chunk))

    def load(self, items: list[tuple[Path, str]], settings: LoadSettings,
             progress: Progress | None = None) -> Iterator[list[Loaded | SitegenError]]:
        """Load articles (path, digest) in order, a chunk at a time, so that bodies can be put away as they come."""
        if not items:
            return
        chunks = chunked(items, LOAD_CHUNK)
        if self.executor is None and self.count <= 1:
            for chunk in chunks:
                yield load_chunk(chunk, settings)
                if progress:
                    progress(len(chunk))
            return
        if self.executor is not None:
            yield from self._map(self.executor, load_chunk, chunks, settings, progress=progress)
            return
        with self._pool() as pool:
            yield from self._map(pool, load_chunk, chunks, settings, progress=progress)

    @staticmethod
    def _collect(item: tuple[Sequence[Page], Future[list[tuple[str, bytes, frozenset[str]]]]], output: Output,
                 used: dict[str, frozenset[str]], progress: Progress | None) -> None:
        chunk, future = item
        for url, data, shown in future.result():
            output.write(url, data)
            used[url] = shown
        if progress:
            progress(len(chunk))

    def render(self, env: jinja2.Environment, config: Config, template_dirs: list[Path], pages: Sequence[Page],
               output: Output, progress: Progress | None = None) -> dict[str, frozenset[str]]:
        """Render `pages` into `output`; returns the bodies each page showed. A worker's TemplateError is raised here."""
        global _RENDER_JOB
        used: dict[str, frozenset[str]] = {}
        if not pages:
            return used
        if self.executor is not None:
            bodies: Mapping[str, Body] = env.globals["body"].store  # type: ignore[union-attr]
            executor = self.executor

            def submit(chunk: Sequence[Page]) -> Future[list[tuple[str, bytes, frozenset[str]]]]:
                wanted = {digest: bodies[digest] for digest in sorted(articles_in(chunk))}
                return executor.submit(render_chunk, chunk, config, tuple(template_dirs), wanted)

            # A bounded window of chunks in flight: the cluster stays busy, the bodies sent stay few.
            waiting: deque[tuple[Sequence[Page], Future[list[tuple[str, bytes, frozenset[str]]]]]] = deque()
            for chunk in chunked(pages, RENDER_CHUNK):
                waiting.append((chunk, submit(chunk)))
                if len(waiting) >= 4 * self.count:
                    self._collect(waiting.popleft(), output, used, progress)
            while waiting:
                self._collect(waiting.popleft(), output, used, progress)
            return used
        if self.count <= 1:
            for page in pages:
                text, used[page.url] = render_noting_bodies(env, page)
                output.write(page.url, text)
                if progress:
                    progress(1)
            return used
        # Compile every template once here, so forked workers inherit them instead of each compiling.
        for name in sorted({p.template for p in pages if p.template.endswith(".html")}):
            try:
                env.get_template(name)
            except jinja2.TemplateError:
                pass  # the worker that renders it reports it, with file and line
        _RENDER_JOB = (env, pages, output.path)
        try:
            indices = list(range(len(pages)))
            with self._pool() as pool:
                for part in self._map(pool, _render_forked, chunked(indices, RENDER_CHUNK), progress=progress):
                    used.update(part)
        finally:
            _RENDER_JOB = None
        return used
