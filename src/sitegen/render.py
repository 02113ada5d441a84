"""Rendering: one Jinja2 environment (autoescape, strict undefined) turns a planned page into text."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import traceback
import weakref
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import jinja2.bccache
import jinja2.compiler
import jinja2.meta
import jinja2.nodes
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_timezone_gmt
from markupsafe import Markup, escape

try:
    # MarkupSafe 3's escape() wraps this in Python and makes a Markup of every value a page prints.
    from markupsafe import _escape_inner as _escape_str
except ImportError:  # pragma: no cover - MarkupSafe 2, whose escape() is all C
    _escape_str = escape

from sitegen import code_identity
from sitegen.assets.markup import picture_html
from sitegen.bodies import BodyLookup
from sitegen.config import Config
from sitegen.errors import TemplateError
from sitegen.feeds import RENDERERS as FEED_RENDERERS
from sitegen.feeds import FeedEntries
from sitegen.labels import label
from sitegen.model import Body, Figure, text_direction
from sitegen.plan import Page
from sitegen.redirects import host_redirects, redirect_page
from sitegen.seo import METADATA, page_metadata
from sitegen.sitemaps import news_sitemap, robots, sitemap_index, urlset
from sitegen.urls import Links, absolute_url, relative_url, rooted_url

# Moments each environment keeps converted to the site's zone and written out. A render worker's
# environment lives as long as the worker: 65,536 of them took 27 MB in each, at 100,000 articles;
# as many as a 10,000-article site's stories keep rendering as fast.
MOMENT_MEMORY = 16384


@lru_cache(maxsize=64)
def _locale(language: str) -> Locale:
    try:
        return Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


@lru_cache(maxsize=8192)
def _long_date(day: date, language: str) -> str:
    # Every card shows one; a day's stories share it, and Babel's formatting is slow enough to matter.
    return format_date(day, "long", locale=_locale(language))


@jinja2.pass_context
def _url(context: jinja2.runtime.Context, target: str) -> str:
    """A link to site path `target` from the page being rendered."""
    page_url: str = context["page_url"]
    if context.get("rooted_links"):
        return rooted_url(target, context["config"].base_path)
    return relative_url(target, page_url)


@jinja2.pass_context
def _picture(context: jinja2.runtime.Context, figure: Figure, sizes: str = "100vw", lead: bool = False,
             css_class: str = "", limit: int = 0) -> Markup:
    """A figure's image for the page being rendered: responsive when it is a published local photo."""
    def url(target: str) -> str:
        return _url(context, target)

    if figure.image is not None:
        return Markup(picture_html(figure.image, figure.alt, sizes, url, lead=lead, css_class=css_class, limit=limit))
    css = f' class="{escape(css_class)}"' if css_class else ""
    size = f' width="{figure.width}" height="{figure.height}"' if figure.width and figure.height else ""
    loading = ' fetchpriority="high"' if lead else ' loading="lazy"'
    return Markup(f'<img{css} src="{escape(url(figure.src or ""))}" alt="{escape(figure.alt)}"{size}{loading} decoding="async">')


def escape_output(value: object) -> str:
    """What `{{ value }}` prints under autoescape: markupsafe.escape's text, as a plain str."""
    if type(value) is str:
        return _escape_str(value)
    html = getattr(value, "__html__", None)
    if html is not None:
        return str(html())
    return _escape_str(str(value))


class _CodeGenerator(jinja2.compiler.CodeGenerator):
    """Jinja's compiler, printing values with `escape_output`.

    A printed value is only ever joined into the page or into a block that is made Markup whole,
    so it need not be a Markup itself: making one for each of the 2.8 million values printed in a
    10,000-article build took about 4% of its time. Should Jinja stop calling the hook, its own
    escape is used, with the same output.
    """

    def visit_Template(self, node: jinja2.nodes.Template, frame: Any = None) -> None:
        self.writeline(f"from {__name__} import escape_output")
        super().visit_Template(node, frame)

    def _output_child_pre(self, node: jinja2.nodes.Expr, frame: Any, finalize: Any) -> None:
        if frame.eval_ctx.autoescape and not frame.eval_ctx.volatile and finalize.src is None:
            self.write("escape_output(")
        else:
            super()._output_child_pre(node, frame, finalize)


def make_environment(config: Config, template_dirs: list[Path], bodies: Mapping[str, Body],
                     auto_reload: bool = True, compiled: Path | None = None,
                     first_urls: Mapping[str, str] | None = None, content_dir: Path | None = None,
                     targets: Mapping[str, str] | None = None) -> jinja2.Environment:
    """The environment: the site's templates first, then the default theme's; `bodies` by article digest.

    Without `auto_reload` a template is read once, not checked on disk at every use (an include per card).
    Templates compiled once are kept in `compiled`, checked against their source, for the next build.
    `first_urls` and `content_dir` say where moved articles were first published (see `Links.first`);
    `targets` where the stories bodies link to by source file are (see `Links.targets`).
    """
    bytecode = None
    if compiled is not None:
        compiled.mkdir(parents=True, exist_ok=True)
        bytecode = _CompiledTemplates(str(compiled))
    env = jinja2.Environment(
        bytecode_cache=bytecode,
        auto_reload=auto_reload,
        loader=jinja2.FileSystemLoader([str(d) for d in template_dirs if d.is_dir()]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.code_generator_class = _CodeGenerator
    tz = config.tz

    # Each card shows its story's time twice (datetime= and the date read): converted and written
    # out anew, a profile put that at 4% of rendering; kept, rendering took about 1% less CPU.
    # Equal instants convert alike, whatever zone they came in. Bounded by MOMENT_MEMORY.
    @lru_cache(maxsize=MOMENT_MEMORY)
    def local(moment: datetime) -> datetime:
        return moment.astimezone(tz)

    @lru_cache(maxsize=MOMENT_MEMORY)
    def isoformat(moment: datetime) -> str:
        return local(moment).isoformat()

    def date_filter(moment: datetime, language: str, with_time: bool = False) -> str:
        """A date (and optionally time and UTC offset) in the page's language and the site's zone."""
        locale, when = _locale(language), local(moment)
        text = _long_date(when.date(), language)
        if with_time:
            text += f", {format_time(when, 'short', locale=locale)} {get_timezone_gmt(when, 'long', locale=locale)}"
        return text

    def month_name(key: tuple[int, int], language: str) -> str:
        return format_date(date(key[0], key[1], 1), "LLLL y", locale=_locale(language))

    env.filters.update(
        url=_url,
        absolute=lambda target: absolute_url(target, config.base_url),
        isoformat=isoformat,
        date=date_filter,
        month_name=month_name,
        direction=text_direction,
        picture=_picture,
    )
    links = Links(config, first_urls=first_urls or {}, content_dir=content_dir, targets={} if targets is None else targets)
    lookup = BodyLookup(bodies, config.words_per_minute, links)
    env.globals.update(
        feed_entries=FeedEntries(config, links, lookup),
        body=lookup,
        reading_minutes=lookup.reading_minutes,
        config=config,
        links=links,
        label=label,
        section_descriptions={s.url_slug: s.description for s in config.sections if s.description},
    )
    if compiled is not None:
        _FACTS_FILES[env] = compiled / "facts.json"
    return env


class _CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """Jinja's cache of compiled templates, in which a damaged file is compiled again, never an error."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # noqa: BLE001 - Jinja reads a truncated file's header with pickle, unguarded
            bucket.reset()


def _render_data(page: Page, config: Config, links: Links, entries: FeedEntries) -> str:
    """Feeds, sitemaps and robots.txt are serialised by code, not templates, so they are always well-formed."""
    kind, _, variant = page.template.partition(":")
    context = page.context
    if kind == "feed":
        return FEED_RENDERERS[variant](context["feed"], config, entries)
    if page.template == "sitemap:urlset":
        return urlset(context["entries"], config)
    if page.template == "sitemap:index":
        return sitemap_index(context["parts"], config)
    if page.template == "sitemap:news":
        return news_sitemap(context["articles"], config, links)
    if page.template == "robots":
        return robots(context["sitemaps"], config)
    if page.template == "redirect":
        return redirect_page(page.url, context, config)
    if page.template == "redirects":
        return host_redirects(context["moves"], config)
    raise TemplateError(f"no renderer for {page.template!r}", page.template)


def render_page(env: jinja2.Environment, page: Page) -> str:
    """Render one planned page; template mistakes become a TemplateError naming template and line."""
    if not page.template.endswith(".html"):
        return _render_data(page, env.globals["config"], env.globals["links"], env.globals["feed_entries"])  # type: ignore[arg-type]
    try:
        template = env.get_template(page.template)
        config: Config = env.globals["config"]  # type: ignore[assignment]
        language = page.language or config.language
        context: dict[str, Any] = {
            **page.context,
            **page_metadata(page.url, page.template, page.context, language, config, env.globals["links"],  # type: ignore[arg-type]
                            _used_metadata(env, page.template)),
            "page_url": page.url,
            "page_language": language,
            "page_direction": text_direction(language),
            "rooted_links": page.template == "404.html",
        }
        return template.render(context)
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(error.message or "syntax error", error.filename or error.name or page.template,
                            error.lineno, "check the tag or expression on that line") from None
    except jinja2.TemplateNotFound as error:
        raise TemplateError(f"template {error.name!r} not found", page.template, None,
                            "add it to the site's templates/ folder or fix the name") from None
    except Exception as error:  # noqa: BLE001 - any failure inside a template is the template's
        filename, line = _template_frame(error)
        raise TemplateError(f"{type(error).__name__}: {error}", filename or page.template, line,
                            f"while rendering {page.url}") from None


def page_linker(page: Page, config: Config) -> Callable[[str], str]:
    """How `page` links to a site path: relatively from a page, from the base path on the 404 page
    (served at any URL), and absolutely from feeds, which are read anywhere."""
    if not page.template.endswith(".html"):
        return lambda target: absolute_url(target, config.base_url) if config.base_url else rooted_url(
            target, config.base_path)
    if page.template == "404.html":
        return lambda target: rooted_url(target, config.base_path)
    return lambda target: relative_url(target, page.url)


def render_noting_bodies(env: jinja2.Environment, page: Page) -> tuple[str, frozenset[str]]:
    """Render one page, and say which article bodies (by digest) it showed."""
    lookup: BodyLookup = env.globals["body"]  # type: ignore[assignment]
    lookup.start_page(page_linker(page, env.globals["config"]))  # type: ignore[arg-type]
    text = render_page(env, page)
    return text, frozenset(lookup.used)


_USED: weakref.WeakKeyDictionary[jinja2.Environment, dict[str, frozenset[str]]] = weakref.WeakKeyDictionary()


def _used_metadata(env: jinja2.Environment, name: str) -> frozenset[str]:
    """The page metadata (see seo.METADATA) that template `name`, or anything it uses, refers to."""
    known = _USED.setdefault(env, {})
    if name not in known:
        known[name] = _free_variables(env, name) & METADATA
    return known[name]


def _free_variables(env: jinja2.Environment, name: str) -> frozenset[str]:
    """Every variable the template and those it extends, includes or imports read from the context.

    All of the metadata when that cannot be known: a template named by a variable, or one that is
    missing or broken (rendering will say so).
    """
    names: set[str] = set()
    todo, seen = [name], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        facts = _facts(env, current)
        if facts is None or None in facts[0]:
            return METADATA
        names |= facts[1]
        todo += [other for other in facts[0] if other is not None]
    return frozenset(names)


# What one template refers to: the templates it extends, includes or imports (None for one named by
# a variable), and the variables it reads from the context.
_Facts = tuple[tuple[str | None, ...], frozenset[str]]
_FACTS: weakref.WeakKeyDictionary[jinja2.Environment, dict[str, _Facts | None]] = weakref.WeakKeyDictionary()
# Facts kept between builds, by a hash of each template's source: parsing every template again cost
# an edit build a tenth of a second. In a file beside the compiled templates, when there are any.
_FACTS_FILES: weakref.WeakKeyDictionary[jinja2.Environment, Path] = weakref.WeakKeyDictionary()
_STORED: weakref.WeakKeyDictionary[jinja2.Environment, dict[str, _Facts]] = weakref.WeakKeyDictionary()


def _facts(env: jinja2.Environment, name: str) -> _Facts | None:
    """Template `name`'s facts, worked out once per source; None if it is missing or broken."""
    known = _FACTS.setdefault(env, {})
    if name in known:
        return known[name]
    try:
        source, _, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
    except jinja2.TemplateNotFound:
        known[name] = None
        return None
    key = hashlib.sha256(f"{jinja2.__version__}\0{name}\0{source}".encode()).hexdigest()
    stored = _stored_facts(env)
    found = stored.get(key)
    if found is None:
        try:
            tree = env.parse(source)
        except jinja2.TemplateSyntaxError:
            known[name] = None
            return None
        found = (tuple(jinja2.meta.find_referenced_templates(tree)),
                 frozenset(jinja2.meta.find_undeclared_variables(tree)))
        stored[key] = found
        _keep_facts(env, stored)
    known[name] = found
    return found


def _stored_facts(env: jinja2.Environment) -> dict[str, _Facts]:
    """The facts kept for this environment's templates; none if the file is unreadable."""
    known = _STORED.get(env)
    if known is None:
        known = {}
        path = _FACTS_FILES.get(env)
        try:
            raw = json.loads(path.read_text(encoding="utf-8")) if path and path.is_file() else {}
            for key, (refs, free) in raw.items():
                if all(r is None or isinstance(r, str) for r in refs) and all(isinstance(v, str) for v in free):
                    known[key] = (tuple(refs), frozenset(free))
        except (OSError, ValueError, TypeError, AttributeError):
            known = {}
        _STORED[env] = known
    return known


def _keep_facts(env: jinja2.Environment, facts: dict[str, _Facts]) -> None:
    path = _FACTS_FILES.get(env)
    if path is None:
        return
    # A whole new file moved into place: forked workers may write it at the same time.
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps({k: [list(r), sorted(f)] for k, (r, f) in sorted(facts.items())}),
                             encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)


def template_closure(env: jinja2.Environment, name: str, seen: set[str] | None = None) -> frozenset[str]:
    """`name` and every template it extends, includes or imports, transitively."""
    seen = set() if seen is None else seen
    if name in seen:
        return frozenset(seen)
    seen.add(name)
    facts = _facts(env, name)
    if facts is None:
        return frozenset(seen)
    for other in facts[0]:
        if other is not None:
            template_closure(env, other, seen)
    return frozenset(seen)


def _template_frame(error: BaseException) -> tuple[str | None, int | None]:
    """The innermost template file and line in a Jinja traceback (Jinja rewrites frames to them)."""
    found: tuple[str | None, int | None] = (None, None)
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename.endswith((".html", ".xml", ".txt", ".json")):
            found = (frame.filename, frame.lineno)
    return found


def template_hashes(pages: Iterable[Page], config: Config, env: jinja2.Environment) -> dict[str, str]:
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
