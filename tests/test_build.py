"""Whole builds: bad input reported and isolated, drafts and embargoes, atomic output, determinism."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import sitegen.build as build_module
from sitegen import write as write_module
from sitegen.errors import TemplateError
from sitegen.write import Output
from tests.conftest import SITES, build_into, write

GOOD = "---\ntitle: A good story\ndate: 2024-01-02T10:00:00+07:00\nsection: World\n---\nGood body.\n"


def tree_digest(folder: Path) -> dict[str, str]:
    """Each file's hash, by path; but for the two files of a search shard that Pagefind writes differently
    every time (see `pagefind_varies`)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not pagefind_varies(p)}


def pagefind_varies(path: Path) -> bool:
    """Whether a file is one of a search shard's that Pagefind writes differently from run to run.

    It lists a shard's filters (section, year), and each filter's values, from Rust HashMaps, in an order
    that changes every run, in its metadata and filter files, named by their hashes, which its entry file
    and scripts name; and its compressed WebAssembly differs too. A shard's index and fragments (the
    words and stories themselves) are the same every time, and so is the shard's name, which sitegen
    takes of what it indexes.
    """
    shard = next((parent for parent in path.parents if parent.parent.name == "pagefind"), None)
    return shard is not None and path.parent.name not in ("index", "fragment")


@pytest.mark.parametrize(
    ("name", "content", "line", "message"),
    [
        ("bad-yaml.md", "---\ntitle: [unclosed\n---\nBody", 2, "front matter is not valid YAML"),
        ("bad-date.md", "---\ntitle: T\ndate: yesterday\n---\nBody", 3, "'date' is not a valid date"),
        ("latin1.txt", b"Headline\nStandfirst\nCaf\xe9", 3, "is not valid UTF-8"),
        ("empty.txt", b"", 1, "is empty"),
        ("no-title.md", "---\nsection: World\n---\nJust text.", 4, "has no title"),
        ("unclosed.md", "---\ntitle: T\ndate: 2024-01-01\nBody", 1, "never closed"),
        ("far-future.md", "---\ntitle: T\ndate: 9999-12-31T23:00:00-12:00\n---\nx", 3, "out of range"),
        ("list.md", "---\n- a\n- b\n---\nx", 2, "must be a mapping"),
        ("nul.txt", b"\x00\x00\n\x00", 1, "is empty"),
    ],
)
def test_broken_article_is_reported_and_the_rest_builds(
    make_site: Callable[..., Path], tmp_path: Path, name: str, content: str | bytes, line: int, message: str
) -> None:
    site = make_site({"seeds/good.md": GOOD, f"seeds/{name}": content})
    report = build_into(site, tmp_path / "out")
    (error,) = report.errors
    assert str(error).startswith(f"{site / 'seeds' / name}:{line}: ")
    assert message in error.message and error.hint
    assert report.written
    assert "A good story" in (tmp_path / "out/world/a-good-story/index.html").read_text()


def test_strict_keeps_the_previous_build(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({"seeds/good.md": GOOD})
    out = tmp_path / "out"
    build_into(site, out)
    before = tree_digest(out)
    write(site / "seeds/broken.md", "---\ndate: nonsense\n---\n")
    write(site / "seeds/good.md", GOOD.replace("A good story", "A changed story"))
    report = build_into(site, out, strict=True)
    assert report.errors and not report.written
    assert tree_digest(out) == before
    assert not list(tmp_path.glob(".out.staging-*"))


def test_duplicate_slugs_name_both_files(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({"seeds/a.md": GOOD, "seeds/b.md": GOOD.replace("Good body", "Other body")})
    report = build_into(site, tmp_path / "out")
    (error,) = report.errors
    assert error.path == site / "seeds/b.md" and str(site / "seeds/a.md") in error.message
    assert "Good body" in (tmp_path / "out/world/a-good-story/index.html").read_text()


def test_drafts_and_embargoed_left_out_unless_asked(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({
        "seeds/draft.md": "---\ntitle: Draft story\ndraft: true\n---\nx",
        "seeds/future.md": "---\ntitle: Future story\ndate: 2999-01-01\n---\nx",
    })
    report = build_into(site, tmp_path / "a")
    assert report.articles == 0 and report.skipped == 2
    assert not (tmp_path / "a/news/draft-story").exists()
    assert build_into(site, tmp_path / "b", drafts=True).articles == 1
    assert (tmp_path / "b/news/draft-story/index.html").is_file()
    assert build_into(site, tmp_path / "c", drafts=True, future=True).articles == 2
    assert (tmp_path / "c/news/future-story/index.html").is_file()


def test_undated_sort_after_dated(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({
        "seeds/b-undated.txt": "Undated B\nS",
        "seeds/a-undated.txt": "Undated A\nS",
        "seeds/old.md": "---\ntitle: Old dated\ndate: 2001-01-01\n---\nx",
    })
    build_into(site, tmp_path / "out")
    front = (tmp_path / "out/index.html").read_text()
    assert front.index("Old dated") < front.index("Undated A") < front.index("Undated B")
    page = (tmp_path / "out/news/undated-a/index.html").read_text()
    assert "<time" not in page.split("<main")[1].split("</article>")[0]


def test_template_error_names_template_and_line_and_keeps_build(
    make_site: Callable[..., Path], tmp_path: Path
) -> None:
    site = make_site({"seeds/good.md": GOOD})
    out = tmp_path / "out"
    build_into(site, out)
    before = tree_digest(out)
    write(site / "templates/article.html", '{% extends "base.html" %}\n{% block main %}\n{{ article.nope }}\n{% endblock %}\n')
    with pytest.raises(TemplateError) as info:
        build_into(site, out)
    assert str(info.value.path).endswith("templates/article.html") and info.value.line == 3
    assert tree_digest(out) == before
    write(site / "templates/article.html", "{% if %}\n")
    with pytest.raises(TemplateError) as info:
        build_into(site, out)
    assert info.value.line == 1 and tree_digest(out) == before


@pytest.mark.parametrize("workers", [1, 2])
def test_a_build_leaves_the_collector_as_it_found_it(make_site: Callable[..., Path], tmp_path: Path,
                                                     workers: int) -> None:
    import gc

    # A long-running caller (the preview) builds again and again: what a build froze out of the
    # collector's reach must be back within it, or its cycles would never be collected.
    site = make_site({"seeds/good.md": GOOD})
    pace = gc.get_threshold()
    frozen: list[int] = []
    original = build_module.plan

    def planning(*args: Any, **kwargs: Any) -> Any:
        frozen.append(gc.get_freeze_count())
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(build_module, "plan", planning)
        build_into(site, tmp_path / "out", workers=workers)
        write(site / "templates/article.html", "{% if %}\n")
        with pytest.raises(TemplateError):
            build_into(site, tmp_path / "out", workers=workers)
    assert len(frozen) == 2 and all(count > 0 for count in frozen)
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == pace


def test_site_overrides_one_template(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({"seeds/good.md": GOOD,
                      "templates/404.html": '{% extends "base.html" %}{% block main %}<h1>Gone fishing</h1>{% endblock %}'})
    build_into(site, tmp_path / "out")
    assert "Gone fishing" in (tmp_path / "out/404.html").read_text()
    assert "A good story" in (tmp_path / "out/world/a-good-story/index.html").read_text()


@pytest.mark.parametrize("edit", [("Good body", "Changed body"), ("A good story", "A changed story"),
                                  ("2024-01-02T10", "2024-01-03T10")],
                         ids=["body, patched in", "headline, patched in", "date, whole site planned"])
def test_interrupted_build_leaves_previous_site(
    make_site: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: tuple[str, str]
) -> None:
    site = make_site({"seeds/good.md": GOOD, "seeds/other.md": GOOD.replace("A good story", "Other")})
    out = tmp_path / "out"
    build_into(site, out)
    before = tree_digest(out)
    original = Output.write
    calls = {"n": 0}

    def explode(self: Output, url: str, content: str | bytes) -> Path:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, url, content)

    monkeypatch.setattr(Output, "write", explode)
    write(site / "seeds/good.md", GOOD.replace(*edit))
    with pytest.raises(KeyboardInterrupt):
        build_into(site, out, workers=1)
    assert tree_digest(out) == before
    assert not list(tmp_path.glob(".out.*"))


def test_interrupted_patch_is_finished_by_the_next_build(make_site: Callable[..., Path], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    site = make_site({"seeds/good.md": GOOD, "seeds/other.md": GOOD.replace("A good story", "Other")})
    out = tmp_path / "out"
    build_into(site, out)
    write(site / "seeds/good.md", GOOD.replace("Good body", "Changed body"))
    moves = {"n": 0}
    original = os.replace

    def crash(source: str, target: str) -> None:
        if str(target).startswith(str(out)) and not str(target).endswith(".tmp"):
            moves["n"] += 1
            if moves["n"] == 2:
                raise OSError("power cut")
        original(source, target)

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        build_into(site, out, workers=1)
    monkeypatch.setattr(os, "replace", original)
    assert (tmp_path / ".out.patch-journal").is_file()
    build_into(site, out, workers=1)
    assert not (tmp_path / ".out.patch-journal").exists()
    fresh = build_into(site, tmp_path / "fresh", workers=1, cache=False)
    assert fresh.written and tree_digest(out) == tree_digest(tmp_path / "fresh")
    assert "Changed body" in (out / "world/a-good-story/index.html").read_text()


def test_leftover_staging_from_a_killed_build_is_cleaned(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({"seeds/good.md": GOOD})
    leftover = tmp_path / ".out.staging-99999999"
    write(leftover / "index.html", "half")
    build_into(site, tmp_path / "out")
    assert not leftover.exists()


def test_builds_are_byte_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_into(SITES / "newsroom", tmp_path / "one")
    # Touch every source and change the machine's zone: neither may leak into the output.
    for path in (SITES / "newsroom").rglob("*"):
        os.utime(path, (1, 1))
    monkeypatch.setenv("TZ", "America/New_York")
    build_into(SITES / "newsroom", tmp_path / "two")
    assert tree_digest(tmp_path / "one") == tree_digest(tmp_path / "two")
    assert len(tree_digest(tmp_path / "one")) > 20


@pytest.mark.parametrize("section", ["Tags", "Archive", "Static", "Authors", "Page"])
def test_section_named_like_a_site_path_does_not_collide(
    make_site: Callable[..., Path], tmp_path: Path, section: str
) -> None:
    site = make_site({"seeds/a.md": GOOD.replace("section: World", f"section: {section}"),
                      "seeds/b.md": GOOD.replace("A good story", "Tagged").replace("World", "World\ntags: [x]")})
    report = build_into(site, tmp_path / "out")
    assert not report.errors
    slug = section.lower() + "-section"
    assert "A good story" in (tmp_path / f"out/{slug}/a-good-story/index.html").read_text()
    assert (tmp_path / "out/tags/index.html").is_file() and (tmp_path / "out/archive/index.html").is_file()


def test_bad_language_tag_is_an_error(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({"seeds/a.md": GOOD, "seeds/b.md": "---\ntitle: B\nlanguage: 'en\" onload=x'\n---\nx"})
    (error,) = build_into(site, tmp_path / "out").errors
    assert error.line == 3 and "not a language tag" in error.message


def test_empty_sidecar_is_no_metadata(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({"seeds/a.txt": "Headline here\nStandfirst", "seeds/a.yaml": "  \n"})
    assert not build_into(site, tmp_path / "out").errors
    assert (tmp_path / "out/news/headline-here/index.html").is_file()


def test_a_late_removal_of_the_replaced_site_cannot_touch_the_next_builds_pages(
        make_site: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The site a swap replaced is deleted in the background. `sitegen serve` builds again in the same
    # process, maybe before that deletion ends, and the next build's pages must not be in its way.
    site = make_site({"seeds/good.md": GOOD, "seeds/other.md": GOOD.replace("A good story", "Other")})
    out = tmp_path / "out"
    build_into(site, out, workers=1)
    late: list[Path] = []
    monkeypatch.setattr(write_module, "_remove_in_background", late.append)
    write(site / "seeds/other.md", GOOD.replace("A good story", "Other, renamed"))
    build_into(site, out, workers=1, cache=False)
    assert late
    original = write_module.Staging.commit_patch

    def removal_ends_now(self: write_module.Staging, removed: list[str]) -> int:
        for folder in late:
            shutil.rmtree(folder, ignore_errors=True)
        return original(self, removed)

    monkeypatch.setattr(write_module.Staging, "commit_patch", removal_ends_now)
    write(site / "seeds/good.md", GOOD.replace("Good body", "Changed body"))
    build_into(site, out, workers=1)
    assert "Changed body" in (out / "world/a-good-story/index.html").read_text()


def test_a_site_being_deleted_in_the_background_is_left_to_it_and_a_killed_ones_leftovers_go(
        make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({"seeds/good.md": GOOD})
    busy, killed = tmp_path / ".out.old-1-busy", tmp_path / ".out.staging-2-killed"
    for folder in (busy, killed):
        write(folder / "index.html", "replaced")
        (tmp_path / f"{folder.name}.lock").touch()
    with open(tmp_path / f"{busy.name}.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        build_into(site, tmp_path / "out")
        # Deleting it here would make the build wait for what another process is already doing.
        assert (busy / "index.html").is_file()
        assert not killed.exists() and not (tmp_path / f"{killed.name}.lock").exists()
    write(site / "seeds/good.md", GOOD.replace("Good body", "Changed body"))
    build_into(site, tmp_path / "out")
    assert not busy.exists() and not (tmp_path / f"{busy.name}.lock").exists()
