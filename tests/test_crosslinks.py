"""Links between stories: written by source file or path, checked at build time, correct under any base path."""

from __future__ import annotations

import functools
import http.server
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit
from zoneinfo import ZoneInfo

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitegen.assets.publish import MediaSettings
from sitegen.build import BuildOptions
from sitegen.crosslinks import resolve_links, site_path
from sitegen.load import load_article
from sitegen.load.article import LoadSettings
from sitegen.serve import ServeOptions, Server
from sitegen.urls import relative_url
from tests.conftest import build_into, count_plans, rendered, run_vnu, write
from tests.photos import jpeg
from tests.test_build import tree_digest

CONFIG = 'title = "Links"\nbase_url = "https://example.org/news/"\n'
BRIDGE = ("---\ntitle: Bridge opens\ndate: 2024-05-01\nsection: World\n---\nThe bridge opened.\n\n"
          '<h2 id="reaction">Reaction</h2>\n\nPeople cheered.\n')
FINAL = ("---\ntitle: Cup final\ndate: 2024-05-02\nsection: Sport\n---\n"
         "Earlier: [the bridge](../world/bridge-opens.md#reaction).\n\n"
         "Also [from the root](@/world/bridge-opens.md?ref=final) and [the section](/world/).\n\n"
         "![The ground](/photos/ground.jpg)\n\n[Up two](../../world/) and [home](/).\n")


def site_files() -> dict[str, str | bytes]:
    return {"sitegen.toml": CONFIG, "seeds/world/bridge-opens.md": BRIDGE, "seeds/sport/final.md": FINAL,
            "seeds/world/tunnel.md": "---\ntitle: Tunnel closes\ndate: 2024-04-30\nsection: World\n---\nShut.\n",
            "photos/ground.jpg": jpeg((320, 200))}


def links_in(page: Path) -> list[str]:
    collector = _Links()
    collector.feed(page.read_text(encoding="utf-8"))
    return collector.found


class _Links(HTMLParser):
    """Every URL a page asks for: links, images (src and each srcset entry), stylesheets and scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("href", "src"):
            if values.get(name) and not (tag == "link" and values.get("rel") in {"canonical", "alternate"}):
                self.found.append(values[name] or "")
        for entry in (values.get("srcset") or "").split(","):
            if entry.strip():
                self.found.append(entry.split()[0])


def test_links_by_source_file_point_at_the_story_from_every_page(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site(site_files())
    report = build_into(site, tmp_path / "out")
    assert not report.errors, report.errors
    final = links_in(tmp_path / "out/sport/cup-final/index.html")
    assert "../../world/bridge-opens/#reaction" in final
    assert "../../world/bridge-opens/?ref=final" in final
    # Written from the root, rebased: relative to the page, so right under /news/.
    assert "../../world/" in final and "../../" in final
    assert not any(link.startswith("/") for link in final)
    assert any(link.startswith("../../media/ground-") for link in final)
    # Feeds are read anywhere: the same links, absolute.
    entry = next(e for e in feedparser.parse((tmp_path / "out/feed.xml").read_bytes()).entries if e.title == "Cup final")
    body = entry.content[0].value if "content" in entry else entry.summary
    assert 'href="https://example.org/news/world/bridge-opens/#reaction"' in body
    assert 'href="https://example.org/news/world/"' in body
    assert "\ue000" not in body


def test_a_site_under_a_sub_path_answers_every_link_it_makes(make_site: Callable[..., Path], tmp_path: Path) -> None:
    files = site_files()
    # More stories, linking every way, so listings, feeds and tag pages hold them too.
    for i in range(6):
        files[f"seeds/world/more-{i}.md"] = (
            f"---\ntitle: More {i}\ndate: 2024-04-{i + 1:02}\nsection: World\ntags: [Bridges]\n---\n"
            f"See [the bridge](@/world/bridge-opens.md#reaction), [final](../sport/final.md) and [tag](/tags/bridges/).\n")
    site = make_site(files)
    root = tmp_path / "root"
    assert not build_into(site, root / "news").errors
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        origin = f"http://127.0.0.1:{server.server_port}"
        seen, broken = crawl(origin + "/news/")
    finally:
        server.shutdown()
    assert not broken, broken
    assert any(url.endswith("/news/sport/cup-final/") for url in seen)
    assert any("/news/media/ground-" in url for url in seen)
    assert len(seen) > 20
    assert run_vnu(root / "news") == ""


def crawl(start: str) -> tuple[set[str], list[str]]:
    """Every URL reachable from `start` on its host, fetched: (those that answered 200, 'url <- page: status')."""
    host = urlsplit(start).netloc
    todo, seen, broken = [(start, "start")], set(), []
    while todo:
        url, via = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                kind, body = response.headers.get_content_type(), response.read()
        except urllib.error.HTTPError as error:
            broken.append(f"{url} <- {via}: {error.code}")
            continue
        if kind != "text/html":
            continue
        collector = _Links()
        collector.feed(body.decode("utf-8"))
        for link in collector.found:
            target = urljoin(url, link).split("#")[0]
            if urlsplit(target).netloc == host and target not in seen:
                todo.append((target, url))
    return seen - {b.split(" <- ")[0] for b in broken}, broken


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.mark.parametrize(("body", "line", "message", "hint"), [
    ("Text.\n\nSee [this](../world/bridge-open.md).", 7, "no story file world/bridge-open.md", "'bridge-opens.md'"),
    ("Text.\n\n[x](@/world/bridge-opens.md#reactions)", 7, "no element with id 'reactions'", "'#reaction'"),
    ("[x](../world/bridge-opens.md#nowhere)", 5, "no element with id 'nowhere'", "'reaction'"),
    ("Line.\n[draft](draft.md)", 6, "a draft", "--drafts"),
    ("Line.\n\n\n[later](later.md)", 8, "embargoed until 2031-01-01", "--future"),
    ("[w](/wrld/)", 5, "no page /wrld/", "'/world/'"),
    ("[w](/world)", 5, "no page /world", "'/world/'"),
    ("[w](../../nowhere/)", 5, "no page /nowhere/", "https://"),
    ("[w](../../../etc/passwd.md)", 5, "outside the content folder", "@/"),
], ids=["missing file", "wrong fragment", "fragment, no near id", "draft", "embargoed", "page typo", "no slash",
        "missing page", "outside"])
def test_a_broken_link_is_an_error_at_its_line(make_site: Callable[..., Path], tmp_path: Path, body: str, line: int,
                                               message: str, hint: str) -> None:
    site = make_site({**site_files(), "seeds/sport/links.md": f"---\ntitle: Links\ndate: 2024-05-03\n---\n{body}\n",
                      "seeds/sport/draft.md": "---\ntitle: Draft\ndraft: true\ndate: 2024-05-01\n---\nx\n",
                      "seeds/sport/later.md": "---\ntitle: Later\ndate: 2031-01-01\n---\nx\n"})
    report = build_into(site, tmp_path / "out")
    assert len(report.errors) == 1, report.errors
    error = report.errors[0]
    assert (error.path, error.line) == (site / "seeds/sport/links.md", line)
    assert message in error.message and hint in (error.hint or "")


def test_drafts_and_embargoed_stories_may_be_linked_in_a_preview_of_them(make_site: Callable[..., Path],
                                                                        tmp_path: Path) -> None:
    site = make_site({**site_files(), "seeds/a.md": "---\ntitle: A\ndate: 2024-05-03\n---\n[d](d.md) [l](l.md)\n",
                      "seeds/d.md": "---\ntitle: D\ndraft: true\ndate: 2024-05-01\n---\nx\n",
                      "seeds/l.md": "---\ntitle: L\ndate: 2031-01-01\n---\nx\n"})
    assert len(build_into(site, tmp_path / "one").errors) == 2
    assert not build_into(site, tmp_path / "two", drafts=True, future=True).errors
    assert "../../news/d/" in links_in(tmp_path / "two/news/a/index.html")


@pytest.mark.parametrize(("change", "old", "new"), [
    ("title: Bridge opens", "title: Bridge finally opens", "../../world/bridge-finally-opens/#reaction"),
    ("section: World", "section: Sport", "../../sport/bridge-opens/#reaction"),
], ids=["new headline", "new section"])
def test_moving_a_linked_story_renders_the_linking_page_again(make_site: Callable[..., Path], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, change: str, old: str,
                                                             new: str) -> None:
    site = make_site(site_files())
    out = tmp_path / "out"
    assert not rendered(site, out)[0].errors
    plans = count_plans(monkeypatch)
    write(site / "seeds/world/bridge-opens.md", BRIDGE.replace(change, old))
    report, urls = rendered(site, out)
    assert not report.errors
    assert plans == [], "an edit-sized build, not a full one"
    assert "/sport/cup-final/" in urls
    assert new in links_in(out / "sport/cup-final/index.html")
    fresh = tmp_path / "fresh"
    fresh_site = tmp_path / "fresh-site"
    fresh_site.mkdir()
    for name, text in site_files().items():
        write(fresh_site / name, text)
    write(fresh_site / "seeds/world/bridge-opens.md", BRIDGE.replace(change, old))
    write(fresh_site / "published-urls.txt", (site / "published-urls.txt").read_text(encoding="utf-8"))
    build_into(fresh_site, fresh)
    assert tree_digest(out) == tree_digest(fresh)


@pytest.mark.parametrize(("edit", "lines", "message"), [
    (lambda site: (site / "seeds/world/bridge-opens.md").unlink(), [6, 8], "no story file world/bridge-opens.md"),
    (lambda site: write(site / "seeds/world/bridge-opens.md", BRIDGE.replace("---\nThe", "draft: true\n---\nThe")),
     [6, 8], "a draft"),
    (lambda site: write(site / "seeds/world/bridge-opens.md", BRIDGE.replace('id="reaction"', 'id="reactions"')),
     [6], "no element with id 'reaction'"),
], ids=["deleted", "made a draft", "id renamed"])
def test_an_edit_that_breaks_a_link_elsewhere_is_reported(make_site: Callable[..., Path], tmp_path: Path,
                                                         edit: Callable[[Path], object], lines: list[int],
                                                         message: str) -> None:
    site = make_site(site_files())
    out = tmp_path / "out"
    assert not rendered(site, out)[0].errors
    edit(site)
    report, _ = rendered(site, out)
    assert [(e.path, e.line) for e in report.errors] == [(site / "seeds/sport/final.md", line) for line in lines]
    assert all(message in error.message for error in report.errors)


def test_a_broken_link_shows_in_serve(make_site: Callable[..., Path]) -> None:
    site = make_site(site_files())
    server = Server(ServeOptions(BuildOptions(source=site), port=0), lambda message: None)
    server.start()
    try:
        write(site / "seeds/sport/final.md", FINAL.replace("bridge-opens.md#reaction", "bridge-open.md"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not server.broadcast.state.errors:
            time.sleep(0.05)
        errors = server.broadcast.state.errors
        assert errors and "final.md:6: links to '../world/bridge-open.md'" in errors[0]
    finally:
        server.stop()


# Every way of writing a link to one page of the site: (written, the site path it names, what follows it).
_FOLDER = "seeds/world"
_PAGE = "/world/a/"


@st.composite
def link_forms(draw: st.DrawFn) -> tuple[str, str, str]:
    """A link from the story at /world/a/ (file seeds/world/a.md) and what it must become."""
    name = draw(st.sampled_from(["đà-nẵng", "b", "report 2024", "ümlaut"]))
    kind = draw(st.sampled_from(["relative source", "rooted source", "content source", "rooted page",
                                 "relative page", "static file"]))
    encoded = draw(st.booleans())

    def path(text: str) -> str:
        return quote(text) if encoded else text.replace(" ", "%20")

    query = draw(st.sampled_from(["", "?a=1", "?q=đ&b=2"]))
    fragment = draw(st.sampled_from(["", "#top", "#đoạn-2"]))
    suffix = query + fragment
    if kind == "relative source":
        return path(f"{name}.md") + suffix, f"source:{_FOLDER}/{name}.md", suffix
    if kind == "rooted source":
        return "/" + path(f"world/{name}.md") + suffix, f"source:{_FOLDER}/{name}.md", suffix
    if kind == "content source":
        return "@/" + path(f"world/{name}.md") + suffix, f"source:{_FOLDER}/{name}.md", suffix
    if kind == "rooted page":
        return "/" + path(f"tags/{name}/") + suffix, f"/tags/{name}/", suffix
    if kind == "relative page":
        return "../" + path(f"{name}/") + suffix, f"/world/{name}/", suffix
    return "/" + path(f"static/{name}.pdf.html") + suffix, f"/static/{name}.pdf.html", suffix


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=link_forms(), page=st.sampled_from(["/", "/world/a/", "/tags/x/page/2/"]))
def test_every_link_form_reaches_its_target_from_any_page(tmp_path: Path, form: tuple[str, str, str],
                                                          page: str) -> None:
    written, expected, suffix = form
    source = write(tmp_path / "site" / _FOLDER / "a.md", f"---\ntitle: A\n---\n\nSee [it]({written}).\n")
    article, body = load_article(source, LoadSettings("en", ZoneInfo("UTC"), "general", (),
                                                      MediaSettings(tmp_path / "site")))
    assert len(article.links) == 1 and article.links[0].line == 5
    link = article.links[0]
    targets: dict[str, str] = {}
    if expected.startswith("source:"):
        assert link.source and link.target == str(tmp_path / "site" / expected.removeprefix("source:"))
        targets[link.target] = "/world/target-story/"
        expected = "/world/target-story/"
    else:
        assert not link.source and site_path(link, _PAGE) == expected
    html = resolve_links(body.html, article, lambda: _PAGE, targets, lambda target: relative_url(target, page))
    href = html.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    # What a browser on `page` would fetch: the target, with the query and fragment as written.
    reached = urljoin("https://example.org/news" + page, href)
    assert reached == "https://example.org/news" + quote(expected, safe="/%") + suffix


def test_a_source_cannot_forge_a_link_or_photo_placeholder(make_site: Callable[..., Path], tmp_path: Path) -> None:
    forged = "Forged \ue000link:0 and \ue000media:evil.jpg here; [World](/world/)."
    forger = f"---\ntitle: Forged\ndate: 2024-05-03\nsection: World\n---\n{forged}\n"
    site = make_site({**site_files(), "seeds/world/forged.md": forger})
    assert not build_into(site, tmp_path / "out").errors
    page = (tmp_path / "out/world/forged/index.html").read_text(encoding="utf-8")
    assert "Forged link:0 and media:evil.jpg here" in page
    assert "\ue000" not in page and "evil.jpg" not in page.split("Forged", 1)[0]
    assert page.count('href="../../world/"') >= 1


def test_an_edit_that_takes_away_a_linked_page_is_reported(make_site: Callable[..., Path], tmp_path: Path) -> None:
    tagged = "---\ntitle: Rare story\ndate: 2024-05-04\nsection: World\ntags: [Rare]\n---\nRare.\n"
    site = make_site({**site_files(), "seeds/world/rare.md": tagged,
                      "seeds/sport/pointer.md": "---\ntitle: Pointer\ndate: 2024-05-05\nsection: Sport\n---\n"
                                                "More in [the rare tag](/tags/rare/).\n"})
    out = tmp_path / "out"
    assert not rendered(site, out)[0].errors
    write(site / "seeds/world/rare.md", tagged.replace("tags: [Rare]", "tags: [Common]"))
    report, _ = rendered(site, out)
    assert [(e.path, e.line) for e in report.errors] == [(site / "seeds/sport/pointer.md", 6)]
    assert "no page /tags/rare/" in report.errors[0].message
