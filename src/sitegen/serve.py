"""`sitegen serve`: a local preview that rebuilds on change and reloads open browser tabs."""

from __future__ import annotations

import errno
import ipaddress
import json
import mimetypes
import multiprocessing
import os
import posixpath
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from sitegen import code_identity
from sitegen.build import BuildOptions, KeptScan, build, build_time, cache_folder, refresh_search, warm
from sitegen.config import load_config
from sitegen.errors import SitegenError
from sitegen.watch import SiteWatches, Watcher, own_output

EVENTS_PATH = "/__sitegen__/events"
# How long the site must go without a build before the search index is refreshed beside the server.
SEARCH_QUIET_SECONDS = 1.0
# How often the server looks at the clock for the moment its site changes by itself (see `Server.watch_clock`).
CLOCK_SECONDS = 5.0
TYPES = {
    ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".xml": "application/xml; charset=utf-8", ".json": "application/json; charset=utf-8",
    ".txt": "text/plain; charset=utf-8", ".svg": "image/svg+xml", ".webmanifest": "application/manifest+json",
}

# Injected into served HTML only; the files in the output folder never contain it.
RELOAD_SCRIPT = """<script>
(() => {
  let epoch = %d;
  const events = new EventSource("%s");
  const overlayId = "sitegen-error-overlay";
  function showErrors(errors) {
    let box = document.getElementById(overlayId);
    if (!errors.length) { if (box) box.remove(); return; }
    if (!box) {
      box = document.createElement("div");
      box.id = overlayId;
      box.setAttribute("role", "alert");
      box.style.cssText = "position:fixed;inset:auto 0 0 0;max-height:60vh;overflow:auto;z-index:2147483647;" +
        "background:#2b0b0b;color:#ffe9e9;font:14px/1.5 ui-monospace,monospace;padding:1rem 1.25rem;" +
        "border-top:4px solid #ff5252;white-space:pre-wrap";
      document.body.appendChild(box);
    }
    box.textContent = "sitegen: the last change did not build, so this is the last good version.\\n\\n" + errors.join("\\n\\n");
  }
  events.addEventListener("state", (event) => {
    const state = JSON.parse(event.data);
    showErrors(state.errors);
    if (state.epoch === epoch || !state.applied) return;
    if (state.styles_only) {
      for (const link of document.querySelectorAll('link[rel="stylesheet"]')) {
        const url = new URL(link.href);
        url.searchParams.set("sitegen", String(state.epoch));
        link.href = url.href;
      }
      // This page shows that build now: a later event of the same build must not reload it.
      epoch = state.epoch;
      return;
    }
    location.reload();
  });
})();
</script>
"""


@dataclass(frozen=True)
class State:
    """What the browser is told after each rebuild; `epoch` counts the builds that were applied."""

    epoch: int
    errors: tuple[str, ...]
    applied: bool = True
    styles_only: bool = False
    version: int = 0

    def event(self) -> bytes:
        data = json.dumps({"epoch": self.epoch, "errors": list(self.errors), "applied": self.applied,
                           "styles_only": self.styles_only})
        return f"event: state\ndata: {data}\n\n".encode()


class Broadcast:
    """The latest build state, and a way for event streams to wait for the next one."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.state = State(epoch=0, errors=())
        self.closed = False

    def publish(self, epoch: int, errors: tuple[str, ...], applied: bool, styles_only: bool) -> None:
        with self.condition:
            # Every publish is news, even one that keeps the epoch (a failed build's errors).
            self.state = State(epoch, errors, applied, styles_only, self.state.version + 1)
            self.condition.notify_all()

    def wait(self, version: int, timeout: float) -> State:
        with self.condition:
            self.condition.wait_for(lambda: self.state.version != version or self.closed, timeout)
            return self.state

    def close(self) -> None:
        with self.condition:
            self.closed = True
            self.condition.notify_all()


def resolve_request(root: Path, raw_path: str) -> Path | None:
    """The file a request path names inside `root`, or None if it is not a file there."""
    path = unquote(urlsplit(raw_path).path)
    if "\x00" in path or "\\" in path or not path.startswith("/"):
        return None
    normal = posixpath.normpath(path)
    if normal.startswith("/.."):
        return None
    candidate = (root / normal.lstrip("/")).resolve()
    # resolve() follows symlinks, so a link pointing out of the output folder is refused too.
    if not candidate.is_relative_to(root):
        return None
    if candidate.is_dir():
        candidate = candidate / "index.html"
    return candidate if candidate.is_file() else None


def make_handler(root: Path, broadcast: Broadcast, prefix: str = "") -> type[BaseHTTPRequestHandler]:
    """A request handler serving `root` read-only under the path `prefix` ('' or '/news'), with live reload
    injected into HTML."""
    root = root.resolve()

    class Handler(BaseHTTPRequestHandler):
        def version_string(self) -> str:
            return "sitegen"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
            pass

        def do_HEAD(self) -> None:  # noqa: N802 - the stdlib's name
            self._serve(body=False)

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            if urlsplit(self.path).path == EVENTS_PATH:
                self._events()
            else:
                self._serve(body=True)

        def _refuse(self) -> None:
            self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

        do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse  # noqa: N815

        def _serve(self, body: bool) -> None:
            path = urlsplit(self.path).path
            if prefix and path in ("/", prefix):
                self._redirect(prefix + "/")
                return
            inside = path.startswith(prefix + "/")
            file = resolve_request(root, self.path[len(prefix):]) if inside else None
            if file is not None and file.name == "index.html" and not path.endswith("/") \
                    and not unquote(path).endswith("index.html"):
                # /world -> /world/, so the page's relative links resolve as they will on a host.
                self._redirect(path + "/")
                return
            status = HTTPStatus.OK
            if file is None:
                status, file = HTTPStatus.NOT_FOUND, root / "404.html"
                if not file.is_file():
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
            data = file.read_bytes()
            content_type = TYPES.get(file.suffix.lower()) or mimetypes.guess_type(file.name)[0] \
                or "application/octet-stream"
            if file.suffix.lower() == ".html":
                data = inject(data, broadcast.state.epoch)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if body:
                self.wfile.write(data)

        def _redirect(self, location: str) -> None:
            self.send_response(HTTPStatus.MOVED_PERMANENTLY)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _events(self) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            state = broadcast.state
            try:
                self.wfile.write(b"retry: 500\n\n" + state.event())
                self.wfile.flush()
                while not broadcast.closed:
                    next_state = broadcast.wait(state.version, timeout=15)
                    if next_state.version == state.version:
                        self.wfile.write(b": keep-alive\n\n")
                    else:
                        state = next_state
                        self.wfile.write(state.event())
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


def inject(page: bytes, epoch: int) -> bytes:
    """The page with the live-reload script before </body> (or at the end)."""
    script = (RELOAD_SCRIPT % (epoch, EVENTS_PATH)).encode()
    index = page.rfind(b"</body>")
    return page + script if index < 0 else page[:index] + script + page[index:]


def bind(host: str, port: int, handler: type[BaseHTTPRequestHandler], tries: int = 10) -> ThreadingHTTPServer:
    """A server on `port`, or the next free one; raises SitegenError if none of `tries` is free."""
    last: OSError | None = None
    for candidate in range(port, port + tries) if port else [0]:
        try:
            server = ThreadingHTTPServer((host, candidate), handler)
            server.daemon_threads = True
            return server
        except OSError as error:
            if error.errno not in (errno.EADDRINUSE, errno.EACCES):
                raise SitegenError(f"cannot listen on {host}:{candidate}: {error.strerror}",
                                   hint="check --host") from None
            last = error
    raise SitegenError(f"ports {port} to {port + tries - 1} on {host} are all in use",
                       hint="pass a free --port, or --port 0 for any free port") from last


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def describe(result: RebuildResult, seconds: float) -> str:
    if not result.applied:
        return f"rebuild failed ({len(result.errors)} error(s)); still serving the last good site"
    parts = [f"{len(result.rendered)} page(s)"]
    if result.static:
        parts.append(f"{len(result.static)} static file(s)")
    return f"rebuilt {', '.join(parts)} in {seconds * 1000:.0f} ms"


@dataclass
class ServeOptions:
    build: BuildOptions
    host: str = "127.0.0.1"
    port: int = 8000
    open_browser: bool = False


@dataclass
class RebuildResult:
    """What one build of the preview did: pages rendered, static files changed, and its errors."""

    rendered: list[str] = field(default_factory=list)
    static: list[str] = field(default_factory=list)
    errors: list[SitegenError] = field(default_factory=list)
    # Whether the output now shows it; a change with a new error is not applied (the last good site stays).
    applied: bool = True

    @property
    def styles_only(self) -> bool:
        """Only stylesheets changed, so a browser can swap them without reloading the page."""
        return bool(self.static) and not self.rendered and all(s.endswith(".css") for s in self.static)


def _start_searching(server: int) -> None:
    """The search process: behind the server's builds, left to finish a refresh on Ctrl-C, and gone with the
    `server` process however that ends (it leaves with `os._exit`, and may be killed)."""
    os.nice(10)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == server:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="sitegen-server-watch", daemon=True).start()


def _refresh_in_search_process(options: BuildOptions, identity: str, folder: str,
                               environment: dict[str, str]) -> list[str]:
    """`refresh_search` as the server would run it now: with its code, in its folder and environment (the
    build's clock, the cache's place); what went wrong, as the log says it."""
    # Other code would take the cache for another's and empty it, and the server's next build would again.
    if code_identity() != identity:
        return ["sitegen changed since the server started; restart `sitegen serve` to keep search up to date"]
    os.chdir(folder)
    os.environ.clear()
    os.environ.update(environment)
    return [str(error) for error in refresh_search(options)]


# The process previews refresh their search indexes in, started for the first refresh and stopped
# when this one exits; one for every preview in this process.
_searcher: ProcessPoolExecutor | None = None
_searcher_lock = threading.Lock()


def refresh_search_apart(options: BuildOptions) -> list[str]:
    """`refresh_search` in the search process, never in this one.

    A preview's builds fork workers that read the cache, and a worker forked while a thread here
    was inside SQLite would inherit SQLite's locks held, and wait on them forever.
    """
    global _searcher
    with _searcher_lock:
        if _searcher is None:
            # Started afresh, not forked: it must hold nothing of this process's threads.
            _searcher = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_start_searching, initargs=(os.getpid(),))
        searcher = _searcher
    try:
        return searcher.submit(_refresh_in_search_process, options, code_identity(), os.getcwd(),
                               dict(os.environ)).result()
    except BrokenProcessPool:
        with _searcher_lock:
            if _searcher is searcher:
                _searcher = None
        return ["the search process stopped; the next save starts another"]


def stop_searching() -> None:
    """Stop the search process, once the refreshes under way are done."""
    global _searcher
    with _searcher_lock:
        searcher, _searcher = _searcher, None
    if searcher is not None:
        searcher.shutdown(wait=True)


class Preview:
    """The site as the server shows it: built by `build`, the very engine of `sitegen build`, into its output.

    So it starts from the same cache (a warm start costs what a build with nothing to do costs) and
    leaves `build/` exactly as `sitegen build` would, but for the record of published URLs: a preview
    keeps its own copy in the cache and never writes the site's. With drafts or embargoed stories, the output and cache are the
    preview's own, inside the cache folder, so that `build/` never holds them.
    """

    # Seconds without a build before the search index is refreshed (see SEARCH_QUIET_SECONDS).
    search_quiet: float = SEARCH_QUIET_SECONDS

    def __init__(self, options: BuildOptions, log: Callable[[str], None] = lambda message: None) -> None:
        # The search index is brought up to date after each build, beside the server, not before the reload.
        options = replace(options, preview=True, strict=False, search=False)
        if options.drafts or options.future:
            own = cache_folder(options) / "preview"
            options = replace(options, output=own / "site", cache_dir=own / "cache")
        self.options = options
        self.output = (options.output or options.source / "build").resolve()
        # A build that shows errors is applied at first, and later when it shows no error it did not show.
        self.tolerated: frozenset[str] | None = None
        # The files as last scanned: the watcher says which changed since, so a build restats those alone.
        self.kept = KeptScan()
        self.log = log
        self._search = threading.Condition()
        self._search_wanted = False
        self._search_running = False
        self._last_build = 0.0
        # Set while no warming reads the cache (see `start_warming`).
        self._warmed = threading.Event()
        self._warmed.set()
        # When the output stops being the site of the moment (see `BuildReport.valid_until`).
        self.valid_until: str | None = None

    def build(self, changed: Iterable[Path] = ()) -> RebuildResult:
        """Build after `changed` files: the watcher's paths, which spare the build a full scan of the files
        and tell the browser whether only stylesheets changed; what to redo, the engine decides."""
        rendered: list[str] = []
        strict = self.tolerated is not None
        options = replace(self.options, strict=strict, tolerated=self.tolerated or frozenset())
        changed = [Path(path).resolve() for path in changed]
        # A build forks workers that read the cache: none may be forked while the warming thread is in
        # SQLite, whose locks it would inherit held. A save in the server's first second waits for it.
        self._warmed.wait()
        self.kept.note(changed)
        try:
            report = build(options, on_page=rendered.append, memo=self.kept)
        except SitegenError as error:
            return RebuildResult(errors=[error], applied=False)
        if not report.written:
            return RebuildResult(errors=report.errors, applied=False)
        self.tolerated = frozenset(str(error) for error in report.errors)
        self.valid_until = report.valid_until
        self.refresh_search()
        return RebuildResult(sorted(rendered), self._static(changed), report.errors)

    def start_warming(self) -> None:
        """Read what a save's build reads first (see `build.warm`) in the background, so that the first save is
        as quick as the next; a build waits for it."""
        self._warmed.clear()
        threading.Thread(target=self.warm, name="sitegen-warm", daemon=True).start()

    def warm(self) -> None:
        """Read what a save's build reads first (see `build.warm`)."""
        # Only a head start: a build reads them itself, and says what is wrong with them.
        try:
            with suppress(SitegenError, OSError, sqlite3.Error):
                warm(self.options, self.kept)
        finally:
            self._warmed.set()

    def wait_until_warm(self, timeout: float = 60) -> bool:
        """Wait until no warming reads the cache (for a caller that builds in this process, as tests do)."""
        return self._warmed.wait(timeout)

    def refresh_search(self) -> None:
        """Bring the search index up to date in the background; saves during it make one more refresh, not many."""
        with self._search:
            self._search_wanted = True
            self._last_build = time.monotonic()
            self._search.notify_all()
            if self._search_running:
                return
            self._search_running = True
        threading.Thread(target=self._refresh, name="sitegen-search", daemon=True).start()

    def _refresh(self) -> None:
        while True:
            with self._search:
                # While saves keep coming, wait: indexing beside a build slows the reload it must not delay.
                while self._search_wanted and time.monotonic() - self._last_build < self.search_quiet:
                    self._search.wait(self.search_quiet)
                if not self._search_wanted:
                    self._search_running = False
                    self._search.notify_all()
                    return
                self._search_wanted = False
            for error in refresh_search_apart(self.options):
                self.log(f"search: {error}")

    def wait_for_search(self, timeout: float = 60) -> bool:
        """Wait until no search refresh is running or wanted (for tests and a clean stop)."""
        with self._search:
            return self._search.wait_for(lambda: not self._search_running and not self._search_wanted, timeout)

    def _static(self, changed: Iterable[Path]) -> list[str]:
        """The changed paths that are static files, as URLs."""
        folder = (self.options.source / "static").resolve()
        return sorted(f"/static/{path.relative_to(folder).as_posix()}" for path in map(Path, changed)
                      if path.resolve().is_relative_to(folder) and not path.is_dir())


class Server:
    """Ties the preview's builds, the watcher, the broadcast and the HTTP server together."""

    def __init__(self, options: ServeOptions, log: Callable[[str], None]) -> None:
        self.options = options
        self.log = log
        self.broadcast = Broadcast()
        self.preview = Preview(options.build, log)
        self.output = self.preview.output
        # Served where its base URL puts it, as a host would: a site for https://example.org/news/ under /news/.
        config, _ = load_config(options.build.source, options.build.base_url)
        self.prefix = config.base_path.rstrip("/")
        self.httpd = bind(options.host, options.port, make_handler(self.output, self.broadcast, self.prefix))
        self.port = self.httpd.server_address[1]
        self.url = f"http://{'localhost' if is_loopback(options.host) else options.host}:{self.port}{self.prefix}/"
        self.observer: BaseObserver | None = None
        self.watches: SiteWatches | None = None
        self.lock = threading.Lock()
        self._stopping = threading.Event()

    def start(self) -> None:
        started = time.perf_counter()
        result = self.preview.build()
        self._report(result, time.perf_counter() - started)
        self.observer = Observer()
        source = self.options.build.source
        # A `sitegen build` running beside the server must not make it rebuild or reload.
        # Nor must a build's own folders beside its output (staged, replaced, its journal).
        beside = tuple(str(folder.parent.resolve() / f".{folder.name}.") for folder in (self.output, source / "build"))
        outputs = [self.output, source / "build", cache_folder(self.options.build)]
        watcher = Watcher(outputs, self.rebuild, beside, own_output())
        self.watcher = watcher
        self.watches = SiteWatches(self.observer, watcher, source, outputs, self.log)
        self.watches.sync()
        self.observer.start()
        threading.Thread(target=self.httpd.serve_forever, name="sitegen-http", daemon=True).start()
        # Beside the first requests rather than in the first save's build (a second at 100,000 articles).
        self.preview.start_warming()
        threading.Thread(target=self.watch_clock, name="sitegen-clock", daemon=True).start()

    def watch_clock(self) -> None:
        """Build again when the site changes by itself: an embargo lifts, or a story leaves the news sitemap's
        window; the preview shows what `sitegen build` would publish now, not when the last file was saved.
        Never while SOURCE_DATE_EPOCH holds the clock still."""
        passed: str | None = None
        while not self._stopping.wait(CLOCK_SECONDS):
            until = self.preview.valid_until
            # Once for each moment: a build that fails leaves the output, and its moment, as they were.
            if until is None or until == passed or build_time().isoformat() < until:
                continue
            passed = until
            self.log(f"it is past {until}, when an embargo lifts or a story leaves the news sitemap's window")
            self.rebuild(set())

    def rebuild(self, changed: set[Path]) -> None:
        with self.lock:
            started = time.perf_counter()
            if self.watches is not None:
                # A folder made since (static/, templates/) is watched from now on; what was written in it
                # before, no event told of, is changed as far as this build is concerned.
                for folder in self.watches.sync():
                    changed = {*changed, folder, *(Path(parent, name) for parent, _, names in os.walk(folder)
                                                   for name in names)}
            try:
                result = self.preview.build(changed)
            except SitegenError as error:
                result = RebuildResult(errors=[error], applied=False)
            except Exception as error:  # noqa: BLE001 - the watcher thread must outlive any one rebuild
                result = RebuildResult(errors=[SitegenError(f"internal error: {type(error).__name__}: {error}",
                                                            hint="this is a bug in sitegen; please report it")],
                                       applied=False)
            self._report(result, time.perf_counter() - started)

    def _report(self, result: RebuildResult, seconds: float) -> None:
        for error in result.errors:
            self.log(f"error: {error}")
        self.log(describe(result, seconds))
        changed = bool(result.rendered or result.static)
        epoch = self.broadcast.state.epoch + (1 if result.applied and changed else 0)
        # A build that changed nothing says what the last change was: a tab that swapped its stylesheets
        # must not take the news that nothing happened for a change to reload for.
        styles_only = result.styles_only if changed else self.broadcast.state.styles_only
        self.broadcast.publish(epoch, tuple(str(e) for e in result.errors), result.applied, styles_only)

    def stop(self) -> None:
        self._stopping.set()
        self.broadcast.close()
        if self.observer is not None:
            self.watcher.stop()
            self.observer.stop()
            self.observer.join(timeout=5)
        # A search index half written is finished, not left to a killed process.
        self.preview.wait_for_search(timeout=30)
        stop_searching()
        self.httpd.shutdown()
        self.httpd.server_close()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(options: ServeOptions, log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> int:
    """Run the preview server until Ctrl-C."""
    if options.port and options.port < 0:
        raise SitegenError("--port must be 0 or more")
    server = Server(options, log)
    if not is_loopback(options.host):
        log(f"warning: serving on {options.host} makes drafts and unpublished work reachable from other machines")
    if options.port and server.port != options.port:
        log(f"port {options.port} is in use; using {server.port} instead")
    # A plain `kill` stops the server as cleanly as Ctrl-C does; and Ctrl-C works even when started
    # from a shell that left SIGINT ignored (as background jobs of scripts are).
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.start()
        log(f"serving {server.url} (Ctrl-C to stop)")
        if options.open_browser:
            import webbrowser

            webbrowser.open(server.url)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        log("stopped")
        return 0
    finally:
        server.stop()

