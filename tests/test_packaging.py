"""The wheel carries the default theme, so `pip install` into any folder gives a working site."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT


def test_wheel_ships_the_theme(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("sitegen-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in (ROOT / "templates").rglob("*.html"):
        assert f"sitegen/theme/templates/{template.relative_to(ROOT / 'templates').as_posix()}" in names
    assert "sitegen/theme/static/css/site.css" in names
    assert not any(name.startswith(("seeds/", "tests/", "build/")) for name in names)
