"""`sitegen check`: everything a build validates, then the built site's links, anchors and images, and
optionally its outbound links; the output folder is never touched.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import jinja2

from sitegen.build import BuildOptions, build, cache_folder, template_dirs
from sitegen.config import Config, load_config
from sitegen.errors import SitegenError
from sitegen.load.links import is_source_link
from sitegen.render import make_environment

USER_AGENT = "sitegen-check (a static news site's link checker)"
_ORIGIN = "http://site.invalid"


@dataclass(frozen=True)
class Finding:
    """One thing `check` found: an error (exit 1) or a warning, where it is, and what to do."""

    level: str
    message: str
    file: str | None = None
    line: int | None = None
    hint: str | None = None

    def text(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file and self.line else f"{self.file}: " if self.file else ""
        return f"{self.level}: {where}{self.message}" + (f"\n  hint: {self.hint}" if self.hint else "")

    def annotation(self) -> str:
        """A GitHub Actions workflow command: the finding shows on the file and line in the pull request."""
        properties = ",".join(f"{key}={_escape(str(value), True)}" for key, value in
                              (("file", self.file), ("line", self.line)) if value)
        message = self.message + (f" (hint: {self.hint})" if self.hint else "")
        return f"::{self.level}{' ' + properties if properties else ''}::{_escape(message, False)}"


def _escape(value: str, property_value: bool) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if property_value else value


def from_error(error: SitegenError) -> Finding:
    return Finding("error", error.message, str(error.path) if error.path else None, error.line, error.hint)


def check(options: BuildOptions, external: bool = False, skip: Iterable[str] = (), timeout: float = 10.0,
          ) -> list[Finding]:
    """Every problem with the site: content, config and templates (as the build sees them), then the built pages."""
    try:
        config, _ = load_config(options.source, options.base_url)
    except SitegenError as error:
        return [from_error(error)]
    findings = _templates(options.source, config)
    # Built beside the cache, with a cache of its own: the output folder and the build's cache stay as they are.
    own = cache_folder(options) / "check"
    site = own / "site"
    report = build(replace(options, output=site, cache_dir=own / "cache", preview=True, strict=False))
    findings += [from_error(error) for error in report.errors]
    findings += [Finding("warning", warning) for warning in report.warnings]
    if not report.written:
        return findings
    findings += internal_links(site, config.base_path)
    if external:
        findings += external_links(site, tuple(skip), timeout)
    return findings


def _templates(source: Path, config: Config) -> list[Finding]:
    """Every template that does not compile, used by a page or not."""
    env = make_environment(config, template_dirs(source), {})
    findings = []
    assert env.loader is not None
    for name in sorted(set(env.loader.list_templates())):
        if not name.endswith(".html"):
            continue
        try:
            env.get_template(name)
        except jinja2.TemplateSyntaxError as error:
            findings.append(Finding("error", error.message or "syntax error", error.filename or name, error.lineno,
                                    "check the tag or expression on that line"))
    return findings


class _Page(HTMLParser):
    """A page's ids and every URL it refers to (links, images and their srcset, stylesheets, scripts)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if values.get("id"):
            self.ids.add(values["id"])
        if tag == "a" and values.get("name"):
            self.ids.add(values["name"])
        for name in ("href", "src"):
            if values.get(name) and not (tag == "link" and values.get("rel") in ("canonical", "alternate")):
                self.urls.append((tag, values[name]))
        for candidate in values.get("srcset", "").split(","):
            if candidate.strip():
                self.urls.append(("img", candidate.split()[0]))


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def internal_links(site: Path, base_path: str = "/") -> list[Finding]:
    """Links, anchors and images of the built pages that lead nowhere inside the site, served at `base_path`."""
    parsed = {path: _parse(path) for path in sorted(site.rglob("*.html"))}
    base = base_path.rstrip("/") + "/"
    findings: list[Finding] = []
    for path, page in parsed.items():
        here = base + path.relative_to(site).as_posix()
        for tag, url in page.urls:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc:
                continue
            target = unquote(urlsplit(urljoin(_ORIGIN + here, url)).path)
            what = "image" if tag in ("img", "source") else "link"
            if not target.startswith(base):
                findings.append(Finding("error", f"{here} has a {what} to {url}, outside the site's base path {base}"))
                continue
            file = site / target[len(base):]
            if target.endswith("/") or file.is_dir():
                file = file / "index.html"
            if not file.is_file():
                # A link to a story's file that names none stays as written; the build said so at its line.
                if is_source_link(url):
                    continue
                findings.append(Finding("error", f"{here} has a {what} to {url}, which the site does not have"))
            elif parts.fragment and file.suffix == ".html":
                ids = (parsed.get(file) or _parse(file)).ids
                if unquote(parts.fragment) not in ids:
                    findings.append(Finding("error", f"{here} links to {url}, but that page has no id "
                                                     f"'{unquote(parts.fragment)}'"))
    return findings


def external_links(site: Path, skip: tuple[str, ...], timeout: float) -> list[Finding]:
    """Outbound links, each checked once, many at a time: one that is broken is an error, a host that does not
    answer a warning."""
    where: dict[str, str] = {}
    for path in sorted(site.rglob("*.html")):
        for _, url in _parse(path).urls:
            if urlsplit(url).scheme in ("http", "https") and not url.startswith(skip):
                where.setdefault(url.split("#")[0], "/" + path.relative_to(site).as_posix())
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda url: (url, _status(url, timeout)), sorted(where)))
    findings = []
    for url, (status, reason) in results:
        if status is None:
            findings.append(Finding("warning", f"{where[url]} links to {url}, whose host did not answer ({reason})",
                                    hint="check it later, or add its prefix to --skip"))
        elif status >= 400:
            findings.append(Finding("error", f"{where[url]} links to {url}, which answers {status}",
                                    hint="correct or remove the link, or add its prefix to --skip"))
    return findings


def _status(url: str, timeout: float) -> tuple[int | None, str]:
    for method in ("HEAD", "GET"):
        request = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, ""
        except urllib.error.HTTPError as error:
            # Some servers refuse HEAD; ask again with GET before calling the link broken.
            if method == "HEAD" and error.code in (403, 405, 501):
                continue
            return error.code, error.reason if isinstance(error.reason, str) else ""
        except (urllib.error.URLError, OSError, ValueError) as error:
            return None, str(getattr(error, "reason", error))
    return None, "no answer"


def render(findings: list[Finding], form: str) -> str:
    """The findings as text, as JSON, or as GitHub Actions annotations."""
    if form == "json":
        counts = {level: sum(f.level == level for f in findings) for level in ("error", "warning")}
        return json.dumps({"findings": [asdict(f) for f in findings], "errors": counts["error"],
                           "warnings": counts["warning"]}, ensure_ascii=False, indent=2)
    if form == "github":
        return "\n".join(f.annotation() for f in findings)
    return "\n".join(f.text() for f in findings)


def default_format() -> str:
    """Annotations in GitHub Actions, text elsewhere."""
    return "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"
