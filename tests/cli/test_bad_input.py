"""What a user sees for bad input: one line on stderr, exit code 2, never a traceback.

Each test runs the installed ``guildwatch`` command in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from guildwatch import __version__
from tests.cli.conftest import Run, assert_one_line_error

TOKEN = "gw-secret-Zq8xTq41"
GOOD = {"GUILDWATCH_TOKEN": TOKEN, "GUILDWATCH_API": "http://127.0.0.1:9"}


def test_one_config_error_for_client_and_server() -> None:
    # --demo runs the server in-process: its configuration errors must be the CLI's own class
    # to end as one line and exit code 2 rather than an internal error.
    import guildwatch.server
    from guildwatch.errors import ConfigError

    assert guildwatch.server.ConfigError is ConfigError


def test_help_shows_examples_and_why_there_is_no_token_flag(run: Run) -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "examples:" in result.stdout
    assert "guildwatch --demo" in result.stdout
    assert "why there is no --token" in result.stdout
    assert "ps, /proc/PID/cmdline" in result.stdout
    assert "--no-stream" in result.stdout
    assert result.stderr == ""


def test_version(run: Run) -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"guildwatch {__version__}"
    command = [sys.executable, "-m", "guildwatch", "--version"]
    as_module = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert as_module.stdout == result.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--frobnicate", "1234"], "unrecognized arguments: --frobnicate"),
        (["--token", TOKEN, "1234"], "unrecognized arguments: --token"),
        (["--heartbeat-timeout", "soon", "1234"], "not a number of seconds"),
        (["--heartbeat-timeout", "0", "1234"], "must be a positive number"),
        (["--heartbeat-timeout", "nan", "1234"], "must be a positive number"),
        (["--max-retries", "-1", "1234"], "must be 0 or more"),
        (["--poll-interval", "1e999", "1234"], "must be a positive number"),
        (["--once", "--watch", "1234"], "not allowed with argument"),
    ],
)
def test_bad_flags(run: Run, args: list[str], fragment: str) -> None:
    result = run(*args, env=GOOD)
    assert_one_line_error(result, fragment)
    assert TOKEN not in result.stderr


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("127.0.0.1:8765", "must start with http:// or https://"),
        ("ftp://example.com", "must start with http:// or https://"),
        ("file:///etc/passwd", "must start with http:// or https://"),
        ("http://", "has no host"),
        ("http://:8080", "has no host"),
        ("http://example.com:99999", "invalid port"),
        ("http://example.com/a b", "spaces or control characters"),
        ("https://example.com/?x=1", "must not have a query"),
        ("https://example.com/#top", "must not have a query"),
    ],
)
def test_bad_api_urls(run: Run, url: str, fragment: str) -> None:
    assert_one_line_error(run("--api", url, "1234", env=GOOD), "--api", fragment)


def test_url_with_credentials_is_refused_without_echoing_them(run: Run) -> None:
    result = run("--api", "https://me:hunter2@example.com", "1234", env=GOOD)
    assert_one_line_error(result, "must not contain a user name or password")
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize(
    "guild_id",
    ["a/b", "..", ".", "x" * 101, "1234?x=1", "12 34", "guild%2F", "é", "a\x1b[2Jb"],
)
def test_bad_guild_ids(run: Run, guild_id: str) -> None:
    result = run(guild_id, env=GOOD)
    assert_one_line_error(result, "invalid guild id", "Discord snowflake")
    assert "\x1b" not in result.stderr


def test_no_guild_names_the_two_ways(run: Run) -> None:
    result = run(env=GOOD)
    assert_one_line_error(result, "no guild to watch", "GUILD_ID", "guilds", "--demo")


def test_no_api_names_the_three_ways(run: Run) -> None:
    result = run("1234", env={"GUILDWATCH_TOKEN": TOKEN})
    assert_one_line_error(result, "no API URL", "--api", "GUILDWATCH_API", "api in")


def test_missing_token_names_the_three_ways(run: Run) -> None:
    result = run("--api", "http://127.0.0.1:9", "1234")
    assert_one_line_error(result, "no token", "GUILDWATCH_TOKEN", "--token-file", "config")


@pytest.mark.parametrize("value", ["", "   ", "\n"])
def test_empty_token_from_env(run: Run, value: str) -> None:
    result = run("--api", "http://127.0.0.1:9", "1234", env={"GUILDWATCH_TOKEN": value})
    assert_one_line_error(result, "token from GUILDWATCH_TOKEN is empty")


def test_token_with_a_line_break_is_refused_without_echoing_it(run: Run) -> None:
    result = run("1234", env=GOOD | {"GUILDWATCH_TOKEN": f"{TOKEN}\nX-Evil: 1"})
    assert_one_line_error(result, "line breaks")
    assert TOKEN not in result.stderr


def test_token_file_problems(run: Run, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    empty.chmod(0o600)
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00")
    binary.chmod(0o600)
    api = ["--api", "http://127.0.0.1:9", "1234"]
    cases = [
        (str(tmp_path / "missing"), "does not exist"),
        (str(tmp_path), "is a directory"),
        (str(empty), "is empty"),
        (str(binary), "not UTF-8"),
    ]
    for path, fragment in cases:
        assert_one_line_error(run("--token-file", path, *api), "token file", fragment)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_token_file(run: Run, tmp_path: Path) -> None:
    unreadable = tmp_path / "unreadable"
    unreadable.write_text(TOKEN)
    unreadable.chmod(0o000)
    result = run("--token-file", str(unreadable), "--api", "http://127.0.0.1:9", "1234")
    assert_one_line_error(result, "permission denied")
    assert TOKEN not in result.stderr


def test_empty_token_from_stdin(run: Run) -> None:
    result = run("--token-file", "-", "--api", "http://127.0.0.1:9", "1234", input="\n")
    assert_one_line_error(result, "token from standard input is empty")


def test_empty_env_token_file_variable(run: Run) -> None:
    result = run("--api", "http://127.0.0.1:9", "1234", env={"GUILDWATCH_TOKEN_FILE": ""})
    assert_one_line_error(result, "GUILDWATCH_TOKEN_FILE is set but empty")


def test_bad_stream_variable(run: Run) -> None:
    result = run("1234", env=GOOD | {"GUILDWATCH_STREAM": "maybe"})
    assert_one_line_error(result, "GUILDWATCH_STREAM must be 1 or 0")


def test_demo_refuses_an_api_or_guilds(run: Run) -> None:
    assert_one_line_error(run("--demo", "1234"), "--demo watches its own server")


def test_unwritable_log_file(run: Run, tmp_path: Path) -> None:
    result = run("--log-file", str(tmp_path / "no" / "such" / "dir.log"), "1234", env=GOOD)
    assert_one_line_error(result, "log file", "cannot be opened")
