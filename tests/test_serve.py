"""`sitegen serve` over HTTP: safe file serving, live reload, the port, and a clean stop."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sitegen import published
from sitegen import serve as serve_module
from sitegen.build import BuildOptions, cache_folder, record_path
from sitegen.cache import Cache
from sitegen.errors import SitegenError
from sitegen.serve import EVENTS_PATH, Broadcast, ServeOptions, Server, bind, inject, make_handler, resolve_request
from tests.conftest import write

STORY = "---\ntitle: Served story\ndate: 2024-01-02\nsection: World\n---\nOriginal text.\n"


@pytest.fixture
def server(make_site: Callable[..., Path]) -> Iterator[Server]:
    site = make_site({"seeds/story.md": STORY})
    messages: list[str] = []
    running = Server(ServeOptions(BuildOptions(source=site), port=0), messages.append)
    running.start()
    yield running
    running.stop()


def request(server: Server, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.putrequest(method, path, skip_accept_encoding=True)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def test_serves_pages_with_reload_script_but_files_stay_clean(server: Server) -> None:
    status, headers, body = request(server, "/world/served-story/")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert b"Original text." in body and EVENTS_PATH.encode() in body
    on_disk = (server.output / "world/served-story/index.html").read_bytes()
    assert EVENTS_PATH.encode() not in on_disk


@pytest.mark.parametrize(
    "path",
    ["/../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "/..%2f..%2fetc/passwd",
     "//etc/passwd", "/%00", "/world/%00index.html", "/..\\..\\etc\\passwd", "/static/../../outside.txt"],
)
def test_traversal_is_refused(server: Server, path: str) -> None:
    write(server.output.parent / "outside.txt", "secret")
    status, _, body = request(server, path)
    assert status == 404 and b"root:" not in body and b"secret" not in body


def test_symlink_out_of_the_output_is_refused(server: Server, tmp_path: Path) -> None:
    secret = write(tmp_path / "secret.txt", "top secret")
    os.symlink(secret, server.output / "link.txt")
    os.symlink(tmp_path, server.output / "linked-dir")
    assert request(server, "/link.txt")[0] == 404
    assert request(server, "/linked-dir/secret.txt")[0] == 404


def test_not_found_uses_the_site_404_page(server: Server) -> None:
    status, headers, body = request(server, "/no/such/page/")
    assert status == 404 and b"Page not found" in body and headers["content-type"].startswith("text/html")


def test_no_directory_listing(server: Server) -> None:
    (server.output / "empty-dir").mkdir()
    write(server.output / "empty-dir/file.bin", b"x")
    status, _, body = request(server, "/empty-dir/")
    assert status == 404 and b"file.bin" not in body


def test_folder_without_slash_redirects(server: Server) -> None:
    status, headers, _ = request(server, "/world")
    assert status == 301 and headers["location"] == "/world/"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/static/css/site.css", "text/css; charset=utf-8"), ("/feed.xml", "application/xml; charset=utf-8"),
     ("/feed.json", "application/json; charset=utf-8"), ("/robots.txt", "text/plain; charset=utf-8"),
     ("/static/favicon.svg", "image/svg+xml")],
)
def test_content_types_and_headers(server: Server, path: str, content_type: str) -> None:
    status, headers, _ = request(server, path)
    assert status == 200 and headers["content-type"] == content_type
    assert headers["x-content-type-options"] == "nosniff"
    assert "access-control-allow-origin" not in headers


def test_head_and_other_methods(server: Server) -> None:
    status, headers, body = request(server, "/", "HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0
    assert request(server, "/", "POST")[0] == 405
    assert request(server, "/", "DELETE")[0] == 405


def test_events_stream_sends_state() -> None:
    broadcast = Broadcast()
    broadcast.publish(3, ("x.md:1: bad",), False, False)
    assert b'"epoch": 3' in broadcast.state.event() and b"x.md:1: bad" in broadcast.state.event()


def test_inject_before_body_end() -> None:
    page = inject(b"<html><body><p>x</p></body></html>", 7)
    assert page.index(b"let epoch = 7") < page.index(b"</body>")
    assert inject(b"no body", 1).startswith(b"no body<script>")


def test_resolve_request_stays_inside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write(root / "a/index.html", "x")
    assert resolve_request(root, "/a/") == root / "a/index.html"
    assert resolve_request(root, "/a/?q=1#x") == root / "a/index.html"
    assert resolve_request(root, "/../root/a/") is None
    assert resolve_request(root, "/b/") is None


def test_busy_port_moves_to_the_next_one() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        busy = blocker.getsockname()[1]
        server = bind("127.0.0.1", busy, make_handler(Path("."), Broadcast()), tries=5)
        try:
            assert server.server_address[1] != busy
        finally:
            server.server_close()
        with pytest.raises(SitegenError, match="all in use"):
            bind("127.0.0.1", busy, make_handler(Path("."), Broadcast()), tries=1)


def test_rebuild_on_change(server: Server) -> None:
    write(server.options.build.source / "seeds/story.md", STORY.replace("Original text.", "Edited text."))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        # The file is written before the new epoch is announced to browsers; wait for both.
        if b"Edited text." in request(server, "/world/served-story/")[2] and server.broadcast.state.epoch >= 2:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the page was not rebuilt and announced within 10 s")


def _served_within(server: Server, path: str, text: bytes, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in request(server, path)[2]:
            return True
        time.sleep(0.05)
    return False


def test_a_story_is_published_when_its_embargo_lifts_while_serving(make_site: Callable[..., Path],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """No file changes: the clock passing the story's time is what builds it, and tells browsers to reload."""
    moment = int(os.environ["SOURCE_DATE_EPOCH"])
    later = "---\ntitle: Embargoed story\ndate: {}\nsection: World\n---\nLifted at last.\n".format(
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment + 3600)))
    site = make_site({"seeds/story.md": STORY, "seeds/later.md": later})
    monkeypatch.setattr(serve_module, "CLOCK_SECONDS", 0.05)
    messages: list[str] = []
    running = Server(ServeOptions(BuildOptions(source=site), port=0), messages.append)
    running.start()
    try:
        time.sleep(0.3)
        assert request(running, "/world/embargoed-story/")[0] == 404 and running.broadcast.state.epoch == 1
        monkeypatch.setenv("SOURCE_DATE_EPOCH", str(moment + 3601))
        assert _served_within(running, "/world/embargoed-story/", b"Lifted at last.")
        assert b"Embargoed story" in request(running, "/")[2]
        deadline = time.monotonic() + 10
        while running.broadcast.state.epoch < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running.broadcast.state.epoch == 2
        assert any("when an embargo lifts" in message for message in messages), messages
        # Once for the moment: the clock, held still again, builds nothing more.
        time.sleep(0.3)
        assert running.broadcast.state.epoch == 2
    finally:
        running.stop()


def test_a_folder_made_while_serving_is_built_and_watched(server: Server) -> None:
    site = server.options.build.source
    assert server.watches is not None and Path(site / "build").resolve() not in {
        Path(folder) for folder in server.watches.folders}
    write(site / "static/notes/desk.txt", "First note.")
    assert _served_within(server, "/static/notes/desk.txt", b"First note."), "a new folder's file was not built"
    # Once the builds the new folder set off are over, only a watch on the folder tells of this save.
    time.sleep(0.5)
    write(site / "static/notes/desk.txt", "Second note.")
    assert _served_within(server, "/static/notes/desk.txt", b"Second note."), "the new folder is not watched"


def test_a_warm_start_reads_what_the_first_save_needs_before_it(make_site: Callable[..., Path]) -> None:
    site = make_site({"seeds/story.md": STORY, "seeds/other.md": STORY.replace("Served story", "Other story")})
    first = Server(ServeOptions(BuildOptions(source=site), port=0), lambda message: None)
    first.start()
    first.stop()
    # A new server, as after a restart: its first build finds nothing changed and reads neither.
    published._LAST_READ.clear()
    again = Server(ServeOptions(BuildOptions(source=site), port=0), lambda message: None)
    again.start()
    try:
        record = record_path(again.preview.options, cache_folder(again.options.build))
        deadline = time.monotonic() + 10
        while (again.preview.kept.articles.filings is None or str(record) not in published._LAST_READ) \
                and time.monotonic() < deadline:
            time.sleep(0.02)
        filings = again.preview.kept.articles.filings
        assert filings is not None, "the filings were not read after the start"
        cache = Cache(cache_folder(again.options.build))
        try:
            assert filings[1] == cache.kept_filings() and len(filings[1]) == 2
        finally:
            cache.close()
        assert str(record) in published._LAST_READ, "the record was not read after the start"
        assert published._LAST_READ[str(record)][1] == published.read_record(record) != {}
    finally:
        again.stop()


def start_serving(site: Path, *extra: str, port: int = 0,
                  ignore_sigint: bool = False) -> tuple[subprocess.Popen[str], list[str]]:
    """Start `sitegen serve` and read its output up to the 'serving' line."""
    # A script's background job starts with SIGINT ignored; Ctrl-C must still stop the server.
    setup = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None
    process = subprocess.Popen([sys.executable, "-m", "sitegen", "serve", "--source", str(site), "--port", str(port),
                                *extra], stderr=subprocess.PIPE, text=True, preexec_fn=setup)
    assert process.stderr is not None
    lines = []
    for line in process.stderr:
        lines.append(line)
        if line.startswith("serving"):
            break
    return process, lines


def test_a_log_kept_in_the_site_folder_is_not_a_change(make_site: Callable[..., Path]) -> None:
    """`sitegen serve > serve.log` (or `nohup`) in the site folder: each line logged is no save to build for."""
    site = make_site({"seeds/story.md": STORY})
    log = site / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "-m", "sitegen", "serve", "--source", str(site), "--port", "0"],
                                   stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + 30
        while "serving" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        write(site / "seeds/story.md", STORY.replace("Original text.", "Edited text."))
        time.sleep(2)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    lines = log.read_text().splitlines()
    # The first build, the server, the save's build, and the stop; not a build for each line before.
    builds = [line for line in lines if line.startswith("rebuilt")]
    assert len(builds) == 2 and not builds[1].startswith("rebuilt 0 "), lines
    assert lines[-1] == "stopped"


@pytest.mark.parametrize("ignore_sigint", [False, True], ids=["terminal", "started with SIGINT ignored"])
def test_ctrl_c_stops_cleanly(make_site: Callable[..., Path], ignore_sigint: bool) -> None:
    process, lines = start_serving(make_site({"seeds/story.md": STORY}), ignore_sigint=ignore_sigint)
    process.send_signal(signal.SIGINT)
    try:
        _, rest = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0
    assert "stopped" in rest and "Traceback" not in "".join(lines) + rest


def test_non_loopback_host_warns(make_site: Callable[..., Path]) -> None:
    process, lines = start_serving(make_site({"seeds/story.md": STORY}), "--host", "0.0.0.0")
    process.terminate()
    # A server that stops first finishes the search refresh its start asked for (up to 30 s, see
    # `Server.stop`): 10 s ran out once on a loaded machine.
    process.wait(timeout=30)
    assert any("warning: serving on 0.0.0.0" in line for line in lines)


def test_busy_port_is_said_plainly(make_site: Callable[..., Path]) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        busy = blocker.getsockname()[1]
        process, lines = start_serving(make_site({"seeds/story.md": STORY}), port=busy)
        process.terminate()
        process.wait(timeout=30)
    assert any(line.startswith(f"port {busy} is in use; using ") for line in lines)
