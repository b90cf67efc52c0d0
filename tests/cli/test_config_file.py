"""The config file as a user meets it: found by XDG or --config, checked, never rewritten.

Subprocess tests of the installed ``guildwatch``; bad files give one line with the file, the
line and the key, and exit code 2.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.cli.conftest import Run, assert_one_line_error

TOKEN = "gw-secret-Zq8xTq41"


def _write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('api = "http://x"\nguilds = [1234 x]\nstream = true\n', ["line 2, column 16", "TOML"]),
        ('api = "http://x"\nguilds = [1234\n', ["at the end", "Unclosed array", "TOML syntax"]),
        # An array left open is reported where it opens, not where tomllib gave up.
        (
            'api = "http://x"\nguilds = ["1", "2"\nstream = true\n',
            [", line 2: unclosed array starting at line 2", "TOML syntax"],
        ),
        (
            "guilds = [\n  \"a]b\", # ] is no end\n  'c]',\n\nstream = true\n",
            [", line 1: unclosed array starting at line 1", "TOML syntax"],
        ),
        (
            'api = "http://x"\nheartbeat = 5\n',
            ["line 2", "unknown key 'heartbeat'", "did you mean"],
        ),
        ('\n\nmax_retries = "3"\n', ["line 3", "'max_retries' must be a whole number", "string"]),
        ("max_retries = true\n", ["line 1", "'max_retries' must be a whole number", "boolean"]),
        ("stream = 0\n", ["line 1", "'stream' must be true or false"]),
        ("poll_interval = -1\n", ["line 1", "'poll_interval' must be a positive number"]),
        ('guilds = "1234"\n', ["line 1", "'guilds' must be a list"]),
        ('[[guilds]]\nid = "1"\n\n[[guilds]]\nid = 2\n', ["line 5", "guilds entry 2", "'id'"]),
        ('[[guilds]]\nid = "1"\nnick = "x"\n', ["line 3", "unknown key 'nick'", "guilds entry 1"]),
        ("[[guilds]]\nname = 'x'\n", ["line 1", "'id' must be a string, not missing"]),
        ("stream = true\n[server]\nurl = 'x'\n", ["line 2", "unknown key 'server'"]),
    ],
)
def test_bad_config_one_line_with_file_line_and_key(
    run: Run, tmp_path: Path, text: str, fragments: list[str]
) -> None:
    config = _write(tmp_path / "bad.toml", text)
    before = hashlib.sha256(config.read_bytes()).hexdigest()
    result = run("--config", str(config), "1234", env={"GUILDWATCH_TOKEN": TOKEN})
    assert_one_line_error(result, f"config file {config}", *fragments)
    assert hashlib.sha256(config.read_bytes()).hexdigest() == before  # never rewritten


def test_default_location_is_xdg_config_home(run: Run, home: Path) -> None:
    _write(home / ".config" / "guildwatch" / "config.toml", "colour = 'blue'\n")
    result = run("1234", env={"GUILDWATCH_TOKEN": TOKEN})
    assert_one_line_error(result, str(home / ".config" / "guildwatch" / "config.toml"), "colour")


def test_config_env_variable_names_the_file(run: Run, tmp_path: Path) -> None:
    config = _write(tmp_path / "other.toml", "colour = 'blue'\n")
    result = run("1234", env={"GUILDWATCH_TOKEN": TOKEN, "GUILDWATCH_CONFIG": str(config)})
    assert_one_line_error(result, str(config), "colour")


def test_config_that_is_a_directory(run: Run, tmp_path: Path) -> None:
    result = run("--config", str(tmp_path), "1234", env={"GUILDWATCH_TOKEN": TOKEN})
    assert_one_line_error(result, f"config file {tmp_path} is a directory")


def test_default_config_that_is_a_directory(run: Run, home: Path) -> None:
    (home / ".config" / "guildwatch" / "config.toml").mkdir(parents=True)
    assert_one_line_error(run("1234", env={"GUILDWATCH_TOKEN": TOKEN}), "is a directory")


def test_explicit_config_that_does_not_exist(run: Run, tmp_path: Path) -> None:
    result = run("--config", str(tmp_path / "nope.toml"), "1234", env={"GUILDWATCH_TOKEN": TOKEN})
    assert_one_line_error(result, "nope.toml does not exist")


def test_config_not_utf8(run: Run, tmp_path: Path) -> None:
    config = tmp_path / "latin1.toml"
    config.write_bytes(b"api = 'caf\xe9'\n")
    result = run("--config", str(config), "1234", env={"GUILDWATCH_TOKEN": TOKEN})
    assert_one_line_error(result, "not UTF-8")


def test_config_with_a_bad_api_names_the_key(run: Run, tmp_path: Path) -> None:
    config = _write(tmp_path / "c.toml", 'api = "localhost:8765"\nguilds = ["1"]\n')
    result = run("--config", str(config), env={"GUILDWATCH_TOKEN": TOKEN})
    assert_one_line_error(result, f"config file {config}, 'api'", "http://")


def test_config_with_a_bad_guild_id(run: Run, tmp_path: Path) -> None:
    config = _write(tmp_path / "c.toml", 'api = "http://127.0.0.1:9"\nguilds = ["../admin"]\n')
    result = run("--config", str(config), env={"GUILDWATCH_TOKEN": TOKEN})
    assert_one_line_error(result, "invalid guild id '../admin'")


def test_precedence_is_visible_in_which_source_is_blamed(run: Run, tmp_path: Path) -> None:
    config = _write(tmp_path / "c.toml", 'api = "ftp://from-config"\nguilds = ["1"]\n')
    base = ["--config", str(config)]
    env = {"GUILDWATCH_TOKEN": TOKEN, "GUILDWATCH_API": "ftp://from-env"}
    assert_one_line_error(run(*base, "--api", "ftp://from-flag", env=env), "--api:", "from-flag")
    assert_one_line_error(run(*base, env=env), "GUILDWATCH_API:", "from-env")
    result = run(*base, env={"GUILDWATCH_TOKEN": TOKEN})
    assert_one_line_error(result, "'api'", "from-config")
