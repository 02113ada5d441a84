"""The command line: exit codes, `path:line: message` output, and never a traceback for a user's mistake."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

GOOD = "---\ntitle: Fine story\ndate: 2024-01-02\n---\nBody.\n"


def sitegen(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sitegen", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_build_success(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({"seeds/a.md": GOOD})
    result = sitegen("build", "--source", site, "--output", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "built 1 article" in result.stderr
    assert (tmp_path / "out/news/fine-story/index.html").is_file()


def test_quiet_prints_nothing(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({"seeds/a.md": GOOD})
    result = sitegen("build", "-q", "--source", site, "--output", tmp_path / "out")
    assert result.returncode == 0 and result.stderr == "" and result.stdout == ""


def test_verbose_lists_pages(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({"seeds/a.md": GOOD})
    result = sitegen("build", "-v", "--source", site, "--output", tmp_path / "out")
    assert "wrote /news/fine-story/" in result.stderr


def test_broken_article_exits_nonzero_with_location(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({"seeds/a.md": GOOD, "seeds/b.md": "---\ntitle: B\ndate: 2024-13-45\n---\nx"})
    result = sitegen("build", "--source", site, "--output", tmp_path / "out")
    assert result.returncode == 1
    assert f"error: {site / 'seeds/b.md'}:3: 'date' is not a valid date" in result.stderr
    assert "hint:" in result.stderr and "1 error; the rest of the site was built" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "out/news/fine-story/index.html").is_file()


def test_config_error_is_one_line_not_a_traceback(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({"seeds/a.md": GOOD}, config='title = "x"\npage_size = "many"\n')
    result = sitegen("build", "--source", site, "--output", tmp_path / "out")
    assert result.returncode == 1
    assert f"error: {site / 'sitegen.toml'}:2: 'page_size' must be a whole number" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_template_error_is_reported(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({"seeds/a.md": GOOD, "templates/index.html": "{% for %}"})
    result = sitegen("build", "--source", site, "--output", tmp_path / "out")
    assert result.returncode == 1
    assert "templates/index.html:1:" in result.stderr and "Traceback" not in result.stderr


def test_help_lists_options() -> None:
    result = sitegen("build", "--help")
    for option in ("--source", "--output", "--base-url", "--drafts", "--future", "--strict", "--quiet", "--verbose"):
        assert option in result.stdout


def test_summary_line_and_no_progress_bar_when_piped(make_site: Callable[..., Path], tmp_path: Path) -> None:
    site = make_site({"seeds/a.md": GOOD})
    result = sitegen("build", "--source", site, "--output", tmp_path / "out")
    assert "\r" not in result.stderr
    assert re.search(r"built 1 article, (\d+) pages \(\1 rendered, 0 unchanged\)", result.stderr)
    assert "cache hits 0/1" in result.stderr
    again = sitegen("build", "--source", site, "--output", tmp_path / "out")
    assert "nothing changed: 1 article" in again.stderr


def test_progress_bar_on_a_terminal(make_site: Callable[..., Path], tmp_path: Path) -> None:
    import os
    import pty

    site = make_site({f"seeds/a{i}.md": GOOD.replace("Fine story", f"Story {i}") for i in range(40)})
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "sitegen", "build", "--source", str(site), "--output",
                                str(tmp_path / "out")], stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    assert process.wait(timeout=60) == 0
    text = output.decode()
    assert "rendering [" in text and "\r" in text and "built 40 articles" in text


def test_installed_command_keeps_exit_code_and_output(make_site: Callable[..., Path], tmp_path: Path) -> None:
    # `sitegen` exits without tearing Python down (cli.run); what it printed to a file must all be there.
    command = Path(sys.executable).with_name("sitegen")
    site = make_site({"seeds/a.md": GOOD, "seeds/b.md": "---\ntitle: B\ndate: 2024-13-45\n---\nx"})
    log = tmp_path / "log.txt"
    with log.open("w") as stream:
        code = subprocess.run([command, "build", "-v", "--workers", "2", "--source", site, "--output",
                               tmp_path / "out"], stdout=stream, stderr=stream, timeout=120).returncode
    text = log.read_text()
    assert code == 1
    assert "wrote /news/fine-story/" in text and "'date' is not a valid date" in text
    *_, error, summary = text.splitlines()
    assert error == "sitegen: 1 error; the rest of the site was built"
    assert re.fullmatch(r"built 1 article, \d+ pages .*", summary) and text.endswith("\n")


def test_a_closed_stdout_does_not_fail_the_build(make_site: Callable[..., Path], tmp_path: Path) -> None:
    # Run with its standard output closed (as `sitegen build >&-` does), Python has no sys.stdout.
    import os

    site = make_site({"seeds/a.md": GOOD})
    result = subprocess.run([Path(sys.executable).with_name("sitegen"), "build", "--source", site, "--output",
                             tmp_path / "out"], stderr=subprocess.PIPE, text=True, timeout=120,
                            preexec_fn=lambda: os.close(1))
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "built 1 article" in result.stderr
