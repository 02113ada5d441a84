"""Shared fixtures: building a site into a temporary folder, and the real validators."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sitegen import build as build_module
from sitegen.build import BuildOptions, BuildReport, build

ROOT = Path(__file__).resolve().parents[1]
SITES = Path(__file__).parent / "sites"
FIXED_EPOCH = "1732500000"  # 2024-11-25: makes the embargo decision independent of the test date


@pytest.fixture(autouse=True)
def _fixed_build_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", FIXED_EPOCH)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def make_site(tmp_path: Path) -> Callable[..., Path]:
    """A throwaway site folder: `make_site({"seeds/a.md": "..."}, config="...")`."""

    def make(files: dict[str, str | bytes], config: str = "") -> Path:
        site = tmp_path / "site"
        site.mkdir(exist_ok=True)
        if config:
            write(site / "sitegen.toml", config)
        for name, text in files.items():
            write(site / name, text)
        return site

    return make


def build_into(source: Path, output: Path, **options: object) -> BuildReport:
    return build(BuildOptions(source=source, output=output, **options))  # type: ignore[arg-type]


def vnu_jar() -> Path:
    """The Nu HTML Checker installed by scripts/dev.sh; the suite fails loudly without it."""
    configured = os.environ.get("SITEGEN_VNU_JAR")
    candidates = [Path(configured)] if configured else []
    candidates.append(ROOT / ".cache/vnu/node_modules/vnu-jar/build/dist/vnu.jar")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    pytest.fail("vnu.jar not found: run the tests through `bash scripts/dev.sh test`")


def run_vnu(folder: Path) -> str:
    """Every HTML error the Nu HTML Checker finds under `folder` ('' when there are none)."""
    java = shutil.which("java")
    assert java, "java is needed for the Nu HTML Checker"
    result = subprocess.run(
        [java, "-jar", str(vnu_jar()), "--skip-non-html", "--errors-only", "--exit-zero-always", str(folder)],
        capture_output=True, text=True, timeout=300,
    )
    return result.stderr.strip()


def story(title: str, body: str, tags: str = "[Shared]", date: str = "2024-01-02", extra: str = "") -> str:
    """A Markdown article in section World by Ann; `extra` is more front matter, one key a line."""
    return f"---\ntitle: {title}\ndate: {date}\nsection: World\ntags: {tags}\nauthors: [Ann]\n{extra}---\n{body}\n"


def rendered(site: Path, out: Path, **options: object) -> tuple[BuildReport, list[str]]:
    """Build (in this process) and say which pages were rendered."""
    urls: list[str] = []
    report = build(BuildOptions(source=site, output=out, **{"workers": 1, **options}),  # type: ignore[arg-type]
                   on_page=urls.append)
    return report, sorted(urls)


@pytest.fixture
def archive(make_site: Callable[..., Path]) -> Path:
    """25 dated stories in one section, tag and author, five to a listing page, and one wire story."""
    files = {f"seeds/s{i:02}.md": story(f"Story {i}", f"Body {i}.", date=f"2024-01-{i + 1:02}") for i in range(25)}
    files["seeds/wire.txt"] = "Wire headline\nWire standfirst.\nWire body./."
    files["seeds/wire.yaml"] = "date: 2023-12-01\nsection: World\ntags: [Shared]\n"
    return make_site({**files, "sitegen.toml": 'title = "T"\nbase_url = "https://news.example/"\npage_size = 5\n'})


def count_plans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the builds that planned the whole site (the edit paths never do)."""
    calls: list[int] = []
    original = build_module.plan

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(build_module, "plan", counting)
    return calls
