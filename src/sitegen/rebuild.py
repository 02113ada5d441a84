"""Incremental rebuilds: given the files that changed, redo only the pages whose result can differ."""

from __future__ import annotations

import copyreg
import io
import pickle
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sitegen.assets.store import MediaStore
from sitegen.build import (
    CONTENT_DIR,
    BuildOptions,
    cache_folder,
    load_settings,
    media_folder,
    place_media,
    plan,
    static_dirs,
    template_dirs,
)
from sitegen.config import CONFIG_NAME, Config, load_config
from sitegen.errors import SitegenError, TemplateError
from sitegen.load import LoadResult, LoadSettings, collect, load_or_error, source_key, sources
from sitegen.model import Article, Body
from sitegen.parallel import RENDER_CHUNK, RenderChunk, RenderSettings, Workers, articles_in, chunked
from sitegen.plan import Page
from sitegen.published import RECORD_NAME, first_urls, read_record
from sitegen.render import make_environment, render_noting_bodies, template_closure
from sitegen.write import Output


def pages_to_render(old: Mapping[str, Page], new: Iterable[Page], changed_templates: frozenset[str],
                    uses: Mapping[str, frozenset[str]]) -> list[Page]:
    """Pages that are new, whose context changed, or whose template (or one it uses) changed."""
    result = []
    for page in new:
        before = old.get(page.url)
        if (before is None or before.template != page.template or before.context != page.context
                or changed_templates & uses.get(page.template, frozenset({page.template}))):
            result.append(page)
    return result


def pages_to_remove(old: Mapping[str, Page], new: Iterable[Page]) -> list[str]:
    """URLs that existed and exist no more (a deleted or renamed article, an emptied tag)."""
    remaining = {page.url for page in new}
    return sorted(url for url in old if url not in remaining)


@dataclass
class RebuildResult:
    rendered: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    static: list[str] = field(default_factory=list)
    errors: list[SitegenError] = field(default_factory=list)
    applied: bool = True

    @property
    def styles_only(self) -> bool:
        """Only stylesheets changed, so a browser can swap them without reloading the page."""
        return bool(self.static) and not self.rendered and not self.removed and all(
            s.endswith(".css") for s in self.static)


class Rebuilder:
    """Keeps the last applied plan and parsed articles, so a change costs only what it touches."""

    def __init__(self, options: BuildOptions, output: Path) -> None:
        # Watchers report absolute paths; with `--source .` the cache keys must be absolute too.
        self.options = replace(options, source=options.source.resolve())
        self.output = Output(output)
        self.articles: dict[Path, Article | SitegenError] = {}
        # Served sites are previews: their bodies stay in memory, found by digest.
        self.bodies: dict[str, Body] = {}
        self.pages: dict[str, Page] = {}
        # The article bodies (by digest) each written page showed.
        self.shown: dict[str, frozenset[str]] = {}
        self.accepted_errors: set[str] = set()
        self.errors: list[SitegenError] = []
        # Photos are published into the site's kept cache, which `sitegen build` shares.
        self.store = MediaStore(media_folder(cache_folder(self.options)))
        self._configure()

    def _configure(self) -> None:
        self.config: Config = load_config(self.options.source, self.options.base_url)[0]
        self._new_environment()
        self.articles.clear()

    def _new_environment(self, first: dict[str, str] | None = None, targets: dict[str, str] | None = None) -> None:
        self.first: dict[str, str] = first if first is not None else getattr(self, "first", {})
        self.targets: dict[str, str] = targets if targets is not None else getattr(self, "targets", {})
        self.env = make_environment(self.config, template_dirs(self.options.source), self.bodies,
                                    first_urls=self.first, content_dir=self.options.source / CONTENT_DIR,
                                    targets=self.targets)
        self.uses: dict[str, frozenset[str]] = {}

    def _settings(self) -> LoadSettings:
        return load_settings(self.config, self.options.source, self.store.folder)

    def _load(self, workers: Workers | None = None) -> LoadResult:
        """Every article, parsing only files that are new or changed since the last rebuild."""
        settings = self._settings()
        present = list(sources(self.options.source / CONTENT_DIR))
        missing = [path for path in present if path not in self.articles]
        if workers is not None:
            items = [(path, source_key(path, settings)) for path in missing]
            loaded = [result for _, chunk in workers.load(items, settings, total=len(items)) for result in chunk]
        else:
            loaded = [load_or_error(path, settings) for path in missing]
        for path, result in zip(missing, loaded, strict=True):
            if isinstance(result, SitegenError):
                self.articles[path] = result
            else:
                self.articles[path] = result[0]
                self.bodies[result[0].digest] = result[1]
        for gone in set(self.articles) - set(present):
            del self.articles[gone]
        live = {a.digest for a in self.articles.values() if isinstance(a, Article)}
        for digest in set(self.bodies) - live:
            del self.bodies[digest]
        return collect([self.articles[path] for path in present])

    def full(self) -> RebuildResult:
        """The first build: every page and static file, written even with content errors."""
        result = self._apply(force=True, first=True)
        for folder in static_dirs(self.options.source):
            if folder.is_dir():
                self.output.copy_tree(folder, "static")
        return result

    def update(self, changed: Iterable[Path]) -> RebuildResult:
        """Rebuild after `changed` files were created, modified or deleted."""
        source = self.options.source.resolve()
        changed_templates: set[str] = set()
        static: list[Path] = []
        content: list[Path] = []
        force = False
        for path in sorted({Path(p).resolve() for p in changed}):
            relative = path.relative_to(source) if path.is_relative_to(source) else None
            if relative is None:
                continue
            top = relative.parts[0] if relative.parts else ""
            if relative == Path(CONFIG_NAME):
                force = True
            elif top == "templates":
                changed_templates.add(Path(*relative.parts[1:]).as_posix())
            elif top == "static" and not path.is_dir():
                static.append(path)
            elif top == CONTENT_DIR and not path.is_dir():
                # A folder's own event (its listing changed) comes with its files' events; a moved
                # folder is found when the articles are listed again.
                content.append(path)
        if content and not (force or changed_templates or static):
            quick = self._update_bodies(content)
            if quick is not None:
                return quick
        for path in content:
            self.articles.pop(path, None)
            # A sidecar's change is its article's change.
            self.articles.pop(path.with_suffix(".txt"), None)
        # So is a change to a photo or file it uses, wherever in the site folder that is.
        changed_files = {str(Path(p).resolve()) for p in changed}
        for path, article in list(self.articles.items()):
            if isinstance(article, Article) and changed_files.intersection(article.assets):
                del self.articles[path]
        if force:
            try:
                self._configure()
            except SitegenError as error:
                return RebuildResult(errors=[error], applied=False)
        elif changed_templates:
            self._new_environment()
        result = self._apply(force=force, changed_templates=frozenset(changed_templates))
        if result.applied:
            result.static = self._copy_static(static)
        return result

    def _update_bodies(self, paths: list[Path]) -> RebuildResult | None:
        """When edits changed only articles' text, render just the pages that showed it; else None."""
        settings = self._settings()
        fresh: dict[Path, tuple[Article, Body]] = {}
        for path in paths:
            before = self.articles.get(path)
            if not isinstance(before, Article) or not path.is_file():
                return None
            loaded = load_or_error(path, settings)
            if isinstance(loaded, SitegenError) or replace(loaded[0], digest="") != replace(before, digest=""):
                return None
            if loaded[0].digest != before.digest:
                fresh[path] = loaded
        old = {self.articles[path].digest for path in fresh}  # type: ignore[union-attr]
        urls = sorted(url for url, shown in self.shown.items() if shown & old)
        for article, body in fresh.values():
            self.bodies[article.digest] = body
        pages = {url: _with_articles(self.pages[url], {p: a for p, (a, _) in fresh.items()}) for url in urls}
        try:
            texts = {url: render_noting_bodies(self.env, page) for url, page in pages.items()}
        except TemplateError as error:
            return RebuildResult(errors=[error], applied=False)
        for url, (text, shown) in texts.items():
            self.output.write(url, text)
            self.pages[url], self.shown[url] = pages[url], shown
        for path, (article, _) in fresh.items():
            self.articles[path] = article
        for digest in old - {article.digest for article, _ in fresh.values()}:
            self.bodies.pop(digest, None)
        return RebuildResult(rendered=urls, errors=list(self.errors))

    def _copy_static(self, changed: list[Path]) -> list[str]:
        done = []
        for path in sorted(changed):
            relative = path.relative_to(self.options.source.resolve() / "static").as_posix()
            url = f"/static/{relative}"
            # The site's file wins; when it is deleted, the theme's file of the same name shows again.
            candidates = [folder / relative for folder in reversed(static_dirs(self.options.source))]
            present = next((c for c in candidates if c.is_file()), None)
            if present is not None:
                self.output.copy_file(present, url.lstrip("/"))
            else:
                self.output.remove(url)
            done.append(url)
        return done

    def _apply(self, force: bool = False, first: bool = False,
               changed_templates: frozenset[str] = frozenset()) -> RebuildResult:
        if first:
            # Only the first build uses worker processes: later ones run beside the server's threads.
            with Workers() as workers:
                return self._apply_with(workers, force, first, changed_templates)
        return self._apply_with(None, force, first, changed_templates)

    def _apply_with(self, workers: Workers | None, force: bool, first: bool,
                    changed_templates: frozenset[str]) -> RebuildResult:
        # The record of published URLs is read, never written: a preview publishes nothing.
        planned = plan(self.config, self.options, self._load(workers), read_record(self.options.source / RECORD_NAME))
        moved_from = first_urls(planned.settled.record) if planned.settled else {}
        if moved_from != self.first:
            # Feed ids of stories that moved since the server started.
            self._new_environment(moved_from, planned.targets)
            force = True
        # Pages showing a body that links to a story that moved.
        relinked: set[str] = set()
        if planned.targets != self.targets:
            moved = {path for path in planned.targets.keys() | self.targets.keys()
                     if planned.targets.get(path) != self.targets.get(path)}
            linkers = {article.digest for article in planned.site.articles
                       if any(link.source and link.target in moved for link in article.links)}
            relinked = {url for url, shown in self.shown.items() if shown & linkers}
            self._new_environment(targets=planned.targets)
        errors = list(planned.errors)
        messages = {str(e) for e in errors}
        # Errors already there when the site was last applied do not hold back other changes.
        if errors and not first and not messages <= self.accepted_errors:
            return RebuildResult(errors=errors, applied=False)
        for page in planned.pages:
            if page.template not in self.uses and page.template.endswith(".html"):
                self.uses[page.template] = template_closure(self.env, page.template)
        todo = planned.pages if force else pages_to_render(self.pages, planned.pages, changed_templates, self.uses)
        if relinked and not force:
            chosen = {page.url for page in todo}
            todo = [*todo, *(page for page in planned.pages if page.url in relinked and page.url not in chosen)]
        # Photos go in before the pages that show them, so a reader never meets a page whose photo is missing.
        stale_media = place_media(planned.site.articles, self.store, self.output, self.output.path)[1]
        try:
            if workers is not None:
                # Nothing is served yet, so pages go out as they render rather than piling up in memory.
                settings = RenderSettings(self.config, tuple(template_dirs(self.options.source)), {},
                                          self.output.path, fingerprints=False, first_urls=tuple(sorted(moved_from.items())),
                                          content_dir=self.options.source / CONTENT_DIR,
                                          targets=tuple(sorted(planned.targets.items())))
                chunks = (RenderChunk(chunk, {d: self.bodies[d] for d in sorted(articles_in(chunk))}, {})
                          for chunk in chunked(todo, RENDER_CHUNK))
                for rendered in workers.render(chunks, settings):
                    self.shown[rendered.url] = rendered.bodies
            else:
                # Render everything before writing anything: a template error keeps the last good site.
                texts = [render_noting_bodies(self.env, page) for page in todo]
                for page, (text, shown) in zip(todo, texts, strict=True):
                    self.output.write(page.url, text)
                    self.shown[page.url] = shown
        except TemplateError as error:
            return RebuildResult(errors=[error], applied=False)
        removed = pages_to_remove(self.pages, planned.pages)
        for url in removed:
            self.output.remove(url)
            self.shown.pop(url, None)
        for url in stale_media:
            self.output.remove(url)
        self.pages = {page.url: page for page in planned.pages}
        self.accepted_errors = messages
        self.errors = errors
        return RebuildResult(rendered=[p.url for p in todo], removed=removed, errors=errors)


def _with_articles(page: Page, new: Mapping[Path, Article]) -> Page:
    """`page` with every article whose file is in `new` swapped for its new version, filed terms kept."""
    found: list[Article] = []

    def reference(article: Article) -> tuple[Any, ...]:
        found.append(article)
        return (_swapped, (len(found) - 1,))

    def swap(index: int) -> Article:
        article = found[index]
        replacement = new.get(article.source_path)
        if replacement is None:
            return article
        return replace(replacement, section=article.section, tags=article.tags, authors=article.authors)

    class Swapper(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            return swap if (module, name) == (__name__, "_swapped") else super().find_class(module, name)

    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, Article: reference}
    pickler.dump(page)
    buffer.seek(0)
    result: Page = Swapper(buffer).load()
    return result


def _swapped(index: int) -> Article:
    raise pickle.UnpicklingError("only _with_articles reads these")
