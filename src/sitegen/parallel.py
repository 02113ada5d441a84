"""Running per-article and per-page work on every core, or on any `concurrent.futures.Executor`.

Locally the work runs in forked processes that inherit the planned pages, so nothing large is
pickled. Any other executor (a Dask cluster's `Client.get_executor()`) gets self-contained chunks
and sends rendered bytes back. Output is byte-identical whatever runs it.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import jinja2

from sitegen.config import Config
from sitegen.errors import SitegenError
from sitegen.load import LoadSettings, load_or_error
from sitegen.model import Article
from sitegen.plan import Page
from sitegen.render import make_environment, render_page
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


def load_chunk(items: Sequence[tuple[Path, str]], settings: LoadSettings) -> list[Article | SitegenError]:
    """Read a chunk of articles; runs in a worker."""
    return [load_or_error(path, settings, digest) for path, digest in items]


def _render_forked(indices: Sequence[int]) -> int:
    assert _RENDER_JOB is not None, "render workers must be forked after the job is set"
    env, pages, folder = _RENDER_JOB
    output = Output(folder)
    for index in indices:
        output.write(pages[index].url, render_page(env, pages[index]))
    return len(indices)


@lru_cache(maxsize=4)
def _remote_environment(config: Config, template_dirs: tuple[Path, ...]) -> jinja2.Environment:
    return make_environment(config, list(template_dirs))


def render_chunk(pages: Sequence[Page], config: Config, template_dirs: tuple[Path, ...]) -> list[tuple[str, bytes]]:
    """Render a chunk of self-contained pages; runs on any executor, local or remote."""
    # Dask may hand a tuple argument over as a list; the environment cache needs it hashable.
    env = _remote_environment(config, tuple(template_dirs))
    return [(page.url, render_page(env, page).encode("utf-8")) for page in pages]


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
             progress: Progress | None = None) -> list[Article | SitegenError]:
        """Load articles (path, digest) in order."""
        if not items:
            return []
        if self.executor is None and self.count <= 1:
            results = load_chunk(items, settings)
            if progress:
                progress(len(items))
            return results
        chunks = chunked(items, LOAD_CHUNK)
        if self.executor is not None:
            return [r for part in self._map(self.executor, load_chunk, chunks, settings, progress=progress)
                    for r in part]
        with self._pool() as pool:
            return [r for part in self._map(pool, load_chunk, chunks, settings, progress=progress) for r in part]

    def render(self, env: jinja2.Environment, config: Config, template_dirs: list[Path], pages: Sequence[Page],
               output: Output, progress: Progress | None = None) -> None:
        """Render `pages` into `output`; a TemplateError from any worker is raised here."""
        global _RENDER_JOB
        if not pages:
            return
        if self.executor is not None:
            chunks = chunked(pages, RENDER_CHUNK)
            for rendered in self._map(self.executor, render_chunk, chunks, config, tuple(template_dirs),
                                      progress=progress):
                for url, data in rendered:
                    output.write(url, data)
            return
        if self.count <= 1:
            for page in pages:
                output.write(page.url, render_page(env, page))
                if progress:
                    progress(1)
            return
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
                for _ in self._map(pool, _render_forked, chunked(indices, RENDER_CHUNK), progress=progress):
                    pass
        finally:
            _RENDER_JOB = None
