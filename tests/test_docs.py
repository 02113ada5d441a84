"""The docs kept honest: every config key, front-matter key and command-line option is documented, and the
README's five-minute guide works exactly as written."""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from sitegen.cli import _parser
from sitegen.config import Config
from sitegen.load.metadata import ALIASES
from tests.conftest import ROOT

DOCS = ROOT / "docs"
BIN = Path(sys.executable).parent


def config_keys(kind: Any = Config, prefix: str = "") -> list[str]:
    """Every key sitegen.toml may hold, dotted (`images.widths`); a list of tables by its own keys."""
    keys = []
    for field in dataclasses.fields(kind):
        nested = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default  # type: ignore[misc]
        if dataclasses.is_dataclass(nested):
            keys += config_keys(type(nested), f"{prefix}{field.name}.")
        else:
            keys.append(f"{prefix}{field.name}")
    return keys


def test_every_config_key_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    # A list of tables is documented by its own keys, under `[[sections]]`.
    missing = [key for key in config_keys() if f"`{key}`" not in text and not (key == "sections" and "`[[sections]]`" in text)]
    assert missing == []
    assert len(config_keys()) > 20


def test_every_front_matter_key_is_documented() -> None:
    text = (DOCS / "content.md").read_text(encoding="utf-8")
    missing = [key for key in ALIASES if not re.search(rf"(^|\n|`){re.escape(key)}(:|`)", text)]
    assert missing == []


def _options(parser: argparse.ArgumentParser, path: str = "") -> list[tuple[str, str]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _options(sub, f"{path} {name}".strip())
        elif action.option_strings and action.dest != "help":
            found.append((path, max(action.option_strings, key=len)))
    return found


def test_every_command_line_option_is_documented() -> None:
    text = (DOCS / "commands.md").read_text(encoding="utf-8")
    missing = [f"{command}: {option}" for command, option in _options(_parser()) if option not in text]
    assert missing == []
    commands = {command for command, _ in _options(_parser())}
    assert {"build", "serve", "check", "new article", "theme copy"} <= commands
    for command in ("sitegen new site", "sitegen theme copy", "sitegen check", "sitegen serve", "sitegen build"):
        assert command in text


def test_readme_is_a_short_guide_that_links_every_doc() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode()) <= 12 * 1024
    for doc in sorted(DOCS.glob("*.md")):
        assert f"(docs/{doc.name})" in readme, doc.name
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / link).is_file(), link


def five_minute_guide() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- five-minute guide", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_the_five_minute_guide_works_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Stories are dated now, so the build time must be now too, as it is for a reader.
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    cwd = tmp_path
    lines = five_minute_guide()
    assert [line.split()[1] for line in lines if line.startswith("sitegen")] == ["new", "new", "serve", "check", "build"]
    for line in lines:
        command = line.split("#", 1)[0].strip()
        if command.startswith("cd "):
            cwd = cwd / command[3:].strip()
            continue
        if command.startswith("sitegen serve"):
            _serve_then_stop(command, cwd, env)
            continue
        result = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, (line, result.stdout, result.stderr)
    article = cwd / "build/world/bridge-opens-over-the-han-river/index.html"
    assert "Bridge opens over the Han river" in article.read_text(encoding="utf-8")
    assert "Lan Pham" in article.read_text(encoding="utf-8")
    assert (cwd / "build/news/welcome-to-your-news-site/index.html").is_file()


def _serve_then_stop(command: str, cwd: Path, env: dict[str, str]) -> None:
    """Start the preview as written, fetch its front page, and stop it with Ctrl-C."""
    process = subprocess.Popen(command, shell=True, cwd=cwd, env=env, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    assert process.stderr is not None
    try:
        url = ""
        for line in process.stderr:
            if line.startswith("serving "):
                url = line.split()[1]
                break
        assert url.startswith("http://localhost:"), url
        with urllib.request.urlopen(url.replace("localhost", "127.0.0.1"), timeout=10) as response:
            assert "Bridge opens over the Han river" in response.read().decode()
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
