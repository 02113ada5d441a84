"""The command line: parses arguments, calls the build, prints errors as `path:line: message`."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import NoReturn, TextIO

from sitegen import __version__
from sitegen.build import BuildOptions, BuildReport, build
from sitegen.errors import SitegenError
from sitegen.scaffold import copy_theme, new_article, new_site


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sitegen", description="Build a static news site from articles.")
    parser.add_argument("--version", action="version", version=f"sitegen {__version__}")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks for errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    build_cmd = commands.add_parser("build", help="build the site into the output folder",
                                    description="Build the site into the output folder (default: build/).")
    build_cmd.add_argument("--source", type=Path, default=Path("."), metavar="DIR",
                           help="the site folder holding sitegen.toml, seeds/, templates/ and static/ (default: .)")
    build_cmd.add_argument("--output", type=Path, default=None, metavar="DIR",
                           help="where the site is written (default: SOURCE/build)")
    build_cmd.add_argument("--base-url", default=None, metavar="URL",
                           help="the public URL of the site, e.g. https://example.org/news/ (overrides sitegen.toml)")
    build_cmd.add_argument("--drafts", action="store_true", help="include articles marked draft")
    build_cmd.add_argument("--future", action="store_true", help="include articles dated in the future (embargoed)")
    build_cmd.add_argument("--strict", action="store_true", help="on any error, leave the previous build untouched")
    build_cmd.add_argument("--frozen-urls", action="store_true",
                           help="fail on any URL change published-urls.txt does not hold yet (for CI)")
    serve_cmd = commands.add_parser("serve", help="preview the site locally, rebuilding as files change",
                                    description="Build the site, serve it on this machine and rebuild on change.")
    serve_cmd.add_argument("--source", type=Path, default=Path("."), metavar="DIR", help="the site folder (default: .)")
    serve_cmd.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve_cmd.add_argument("--port", type=int, default=8000, help="port; the next free one if taken, 0 for any")
    serve_cmd.add_argument("--drafts", action="store_true", help="include articles marked draft")
    serve_cmd.add_argument("--future", action="store_true", help="include articles dated in the future")
    serve_cmd.add_argument("--open", action="store_true", help="open the site in a browser")
    build_cmd.add_argument("--workers", type=int, default=0, metavar="N",
                           help="processes for reading and rendering (default: one per core; 1: no subprocesses)")
    build_cmd.add_argument("--no-cache", action="store_true", help="ignore and do not update .sitegen-cache/")
    for command in (build_cmd, serve_cmd):
        command.add_argument("--cache-dir", type=Path, default=None, metavar="DIR",
                             help="keep the cache (parsed articles, processed photos) here "
                                  "(default: $SITEGEN_CACHE_DIR, else SOURCE/.sitegen-cache)")
    build_cmd.add_argument("--dask", metavar="ADDRESS",
                           help="run per-article work on a Dask cluster (scheduler address, or 'local' for a "
                                "LocalCluster); needs the 'dask' extra")
    loudness = build_cmd.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    loudness.add_argument("-v", "--verbose", action="store_true", help="print every page written")
    check_cmd = commands.add_parser("check", help="find every error and broken link, without touching build/",
                                    description="Check content, config and templates as a build does, then the "
                                                "built site's links, anchors and images. Exits 1 on any error.")
    check_cmd.add_argument("--source", type=Path, default=Path("."), metavar="DIR", help="the site folder (default: .)")
    check_cmd.add_argument("--drafts", action="store_true", help="check articles marked draft too")
    check_cmd.add_argument("--future", action="store_true", help="check articles dated in the future too")
    check_cmd.add_argument("--format", choices=("text", "json", "github"), default=None,
                           help="text, json, or GitHub Actions annotations (default: github in GitHub Actions, else text)")
    check_cmd.add_argument("--external", action="store_true", help="check outbound links too, many at a time")
    check_cmd.add_argument("--skip", action="append", default=[], metavar="PREFIX",
                           help="with --external, leave out links starting with PREFIX (repeatable)")
    check_cmd.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                           help="with --external, how long to wait for each host (default: 10)")
    check_cmd.add_argument("--cache-dir", type=Path, default=None, metavar="DIR", help="as for build")
    new_cmd = commands.add_parser("new", help="start a site, or a story in one", description="Start a site or a story.")
    new_what = new_cmd.add_subparsers(dest="what", required=True, metavar="WHAT")
    new_site_cmd = new_what.add_parser("site", help="a working site in a new folder")
    new_site_cmd.add_argument("folder", type=Path, metavar="DIR")
    new_article_cmd = new_what.add_parser("article", help="a story at a slugged path in seeds/")
    new_article_cmd.add_argument("headline")
    new_article_cmd.add_argument("--source", type=Path, default=Path("."), metavar="DIR", help="the site folder (default: .)")
    new_article_cmd.add_argument("--section", default=None)
    new_article_cmd.add_argument("--tag", action="append", default=[], metavar="TAG", help="a tag (repeatable)")
    new_article_cmd.add_argument("--author", action="append", default=[], metavar="NAME", help="an author (repeatable)")
    new_article_cmd.add_argument("--wire", action="store_true", help="wire copy (.txt) with a .yaml sidecar")
    theme_cmd = commands.add_parser("theme", help="copy the default theme's templates to edit",
                                    description="Work with the default theme.")
    theme_what = theme_cmd.add_subparsers(dest="what", required=True, metavar="WHAT")
    copy_cmd = theme_what.add_parser("copy", help="copy templates (all, or those named) into templates/")
    copy_cmd.add_argument("templates", nargs="*", metavar="TEMPLATE", help="e.g. article.html partials/card.html")
    copy_cmd.add_argument("--source", type=Path, default=Path("."), metavar="DIR", help="the site folder (default: .)")
    return parser


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _summary(report: BuildReport, output: Path) -> str:
    if report.unchanged:
        return (f"nothing changed: {_plural(report.articles, 'article')}, {_plural(report.pages, 'page')} "
                f"in {output} are up to date ({report.seconds:.2f}s)")
    text = (f"built {_plural(report.articles, 'article')}, {_plural(report.pages, 'page')} "
            f"({report.pages - report.reused} rendered, {report.reused} unchanged) into {output} "
            f"in {report.seconds:.2f}s; cache hits {report.cache_hits}/{report.articles + report.skipped}")
    if report.skipped:
        text += f"; {report.skipped} draft or embargoed left out"
    return text


class ProgressBar:
    """One self-rewriting line on a terminal, at most ten updates a second."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.last = 0.0
        self.shown = False

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        width = 30
        filled = width * done // total if total else width
        self.stream.write(f"\r{phase:<9} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}\033[K")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()


def run_build(args: argparse.Namespace) -> int:
    options = BuildOptions(source=args.source, output=args.output, base_url=args.base_url, drafts=args.drafts,
                           future=args.future, strict=args.strict, workers=args.workers, cache=not args.no_cache,
                           cache_dir=args.cache_dir, frozen_urls=args.frozen_urls)
    bar = ProgressBar(sys.stderr) if sys.stderr.isatty() and not args.quiet and not args.verbose else None
    try:
        with _dask_executor(args.dask) as executor:
            report = build(options, progress=bar, executor=executor,
                           on_page=(lambda url: print(f"wrote {url}", file=sys.stderr)) if args.verbose else None)
    finally:
        if bar:
            bar.clear()
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    if not args.quiet:
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    output = args.output or args.source / "build"
    if report.errors:
        state = "nothing was replaced (--strict)" if not report.written else "the rest of the site was built"
        print(f"sitegen: {_plural(len(report.errors), 'error')}; {state}", file=sys.stderr)
        if report.written and not args.quiet:
            print(_summary(report, output), file=sys.stderr)
        return 1
    if not args.quiet:
        print(_summary(report, output), file=sys.stderr)
    return 0


def run_check(args: argparse.Namespace) -> int:
    from sitegen.check import check, default_format, render

    options = BuildOptions(source=args.source, drafts=args.drafts, future=args.future, cache_dir=args.cache_dir)
    findings = check(options, external=args.external, skip=args.skip, timeout=args.timeout)
    form = args.format or default_format()
    if findings or form == "json":
        print(render(findings, form), file=sys.stdout if form != "text" else sys.stderr)
    errors = sum(f.level == "error" for f in findings)
    if form == "text":
        print(f"sitegen check: {_plural(errors, 'error')}, {_plural(len(findings) - errors, 'warning')}",
              file=sys.stderr)
    return 1 if errors else 0


def run_new(args: argparse.Namespace) -> int:
    now = datetime.now(timezone.utc)
    if args.what == "site":
        written = new_site(args.folder, now)
        print(f"made a site in {args.folder}: {len(written)} files. Next: cd {args.folder} && sitegen serve")
        return 0
    path = new_article(args.source, args.headline, now, section=args.section, tags=tuple(args.tag),
                       authors=tuple(args.author), wire=args.wire)
    print(path)
    return 0


@contextmanager
def _dask_executor(address: str | None) -> Iterator[Executor | None]:
    """An executor on a Dask cluster (`distributed.Client(...).get_executor()`), or None without one."""
    if not address:
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SitegenError("--dask needs the 'distributed' package", hint="pip install 'sitegen[dask]'") from None
    cluster = LocalCluster(processes=True, dashboard_address=None) if address == "local" else None
    client = Client(cluster) if cluster else Client(address)
    try:
        yield client.get_executor()
    finally:
        client.close()
        if cluster:
            cluster.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "build":
            return run_build(args)
        if args.command == "check":
            return run_check(args)
        if args.command == "new":
            return run_new(args)
        if args.command == "theme":
            copied, kept = copy_theme(args.source, args.templates)
            for path in copied:
                print(f"copied {path}")
            for path in kept:
                print(f"kept {path}: it is yours already (delete it to copy the theme's again)", file=sys.stderr)
            return 0
        if args.command == "serve":
            # Imported here: the server and file watcher cost every `sitegen build` startup time otherwise.
            from sitegen.serve import ServeOptions, serve

            return serve(ServeOptions(BuildOptions(source=args.source, drafts=args.drafts, future=args.future,
                                                   cache_dir=args.cache_dir),
                                      host=args.host, port=args.port, open_browser=args.open))
    except SitegenError as error:
        if args.debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sitegen: interrupted; the previous build was left in place", file=sys.stderr)
        return 130
    return 2


def run(argv: list[str] | None = None) -> NoReturn:
    """The `sitegen` command: `main`, then an exit that skips tearing the interpreter down."""
    code = main(argv)
    # Freeing a build's objects one by one and unloading its modules costs an edit's build 50 to
    # 70 ms at 10,000 articles and does nothing: what needed closing (cache, workers, files, the
    # server's folder) was closed as main returned, so only Python's own buffers are left to flush.
    for stream in (sys.stdout, sys.stderr):
        # As Python's own exit does: a stream closed or never opened is passed over, and one that
        # cannot be written (a reader gone) makes a clean run exit 120.
        try:
            if stream is not None:
                stream.flush()
        except ValueError:
            pass
        except OSError:
            code = code or 120
    os._exit(code)


if __name__ == "__main__":
    run()
