"""`sitegen.toml`: defaults, validation, and errors that name the key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sitegen.config import Config, load_config
from sitegen.errors import ConfigError
from tests.conftest import write


def test_no_config_file_gives_defaults(tmp_path: Path) -> None:
    config, path = load_config(tmp_path)
    assert config == Config() and path is None
    assert config.base_path == "/"


def test_full_config(tmp_path: Path) -> None:
    write(tmp_path / "sitegen.toml", 'title = "T"\nbase_url = "https://example.org/news"\ntimezone = "Asia/Ho_Chi_Minh"\n'
          'language = "vi"\npage_size = 5\n[publisher]\nname = "P"\n[permalinks]\narticle = "/{year}/{month}/{slug}/"\n'
          '[[sections]]\nname = "Thế giới"\n')
    config, _ = load_config(tmp_path)
    assert config.base_path == "/news/" and config.page_size == 5 and config.publisher.name == "P"
    assert config.sections[0].url_slug == "the-gioi"


def test_publisher_logo_is_kept_as_pages_carry_it(tmp_path: Path) -> None:
    write(tmp_path / "sitegen.toml", '[publisher]\nname = "P"\nlogo = " https://cdn.example/our logo.png "\n')
    assert load_config(tmp_path)[0].publisher.logo == "https://cdn.example/our%20logo.png"


def test_base_url_flag_overrides_file(tmp_path: Path) -> None:
    write(tmp_path / "sitegen.toml", 'base_url = "https://a.example/"\n')
    assert load_config(tmp_path, "https://b.example/x/")[0].base_url == "https://b.example/x/"


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ('title = "T"\npage_sise = 3\n', "unknown key 'page_sise'", 2),
        ('title = "T"\npage_size = "ten"\n', "'page_size' must be a whole number", 2),
        ("page_size = true\n", "'page_size' must be a whole number", 1),
        ('[feeds]\nlimit = 0\n', "'feeds.limit' must be at least 1", 2),
        ('[publisher]\nnmae = "x"\n', "unknown key 'publisher.nmae'", 2),
        ('timezone = "Mars/Olympus"\n', "not a known time zone", 1),
        ('language = "xx-notalang"\n', "not a known language", 1),
        ('base_url = "example.org"\n', "absolute http(s) URL", 1),
        ('base_url = "https://example.org/?utm=1"\n', "absolute http(s) URL", 1),
        ('title = "T"\nbase_url = "https://example.org/a b/"\n', "holds characters a URL cannot", 2),
        ('[permalinks]\narticle = "/{section}/"\n', "not a usable scheme", 2),
        ("title = \n", "not valid TOML", 1),
        ("sections = 3\n", "must be a list of tables", 1),
        ('[publisher]\nlogo = "javascript:alert(1)"\n', "not a safe URL", 2),
    ],
)
def test_config_errors(tmp_path: Path, text: str, message: str, line: int) -> None:
    write(tmp_path / "sitegen.toml", text)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert message in info.value.message
    assert info.value.path == tmp_path / "sitegen.toml" and info.value.line == line


def test_typo_gets_a_suggestion(tmp_path: Path) -> None:
    write(tmp_path / "sitegen.toml", 'tittle = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert info.value.hint == "did you mean 'title'?"
