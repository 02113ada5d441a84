"""Where the default theme lives: inside the wheel, or at the repository root in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGED = Path(__file__).parent / "theme"
_CHECKOUT = Path(__file__).resolve().parents[2]


def theme_dir() -> Path:
    """The folder holding the default theme's `templates/` and `static/`."""
    if (_PACKAGED / "templates").is_dir():
        return _PACKAGED
    return _CHECKOUT
