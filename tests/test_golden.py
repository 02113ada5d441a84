"""Golden files: the seed article page and the front page, byte for byte.

Regenerate after an intended change with `SITEGEN_UPDATE_GOLDEN=1 bash scripts/dev.sh test tests/test_golden.py`
and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import ROOT, build_into

GOLDEN = Path(__file__).parent / "golden"
PAGES = {
    "seed-article.html": "world/us-warns-ukraine-about-using-nato-weapons-to-attack-russian-territory/index.html",
    "seed-front-page.html": "index.html",
}


@pytest.fixture(scope="module")
def seed_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seed") / "build"
    report = build_into(ROOT, out)
    assert not report.errors
    return out


@pytest.mark.parametrize("name", sorted(PAGES))
def test_golden(seed_build: Path, name: str) -> None:
    actual = (seed_build / PAGES[name]).read_text(encoding="utf-8")
    golden = GOLDEN / name
    if os.environ.get("SITEGEN_UPDATE_GOLDEN"):
        golden.write_text(actual, encoding="utf-8")
    assert actual == golden.read_text(encoding="utf-8"), f"{name} changed; see the module docstring to update"
