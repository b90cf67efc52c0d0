"""The token: sources, checks, permission warnings and redaction from logs."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from guildwatch.cli._secrets import (
    REDACTED,
    ConfigToken,
    RedactTokenFilter,
    read_token_file,
    resolve_token,
    validate_token,
)
from guildwatch.errors import ConfigError
from tests.cli.conftest import Run, assert_one_line_error

TOKEN = "gw-secret-Zq8xTq41"


def test_token_file_trailing_newline_and_spaces_are_stripped(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(f"  {TOKEN}\r\n")
    path.chmod(0o600)
    token = read_token_file(str(path), stdin=None)
    assert token.value == TOKEN
    assert token.origin == f"token file {path}"
    assert token.warnings == ()
    assert TOKEN not in repr(token)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_token_file_readable_by_others_gets_a_warning(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN)
    path.chmod(mode)
    (warning,) = read_token_file(str(path), stdin=None).warnings
    assert str(path) in warning
    assert f"{mode:04o}" in warning
    assert "chmod 600" in warning
    assert TOKEN not in warning


def test_config_holding_a_token_readable_by_others_gets_a_warning(tmp_path: Path) -> None:
    config = ConfigToken(token=TOKEN, config_path=tmp_path / "c.toml", config_mode=0o100644)
    (warning,) = resolve_token(None, {}, config, stdin=None).warnings
    assert "config file" in warning
    assert "holds the token" in warning
    # Even when this run takes the token from elsewhere: the file leaks it all the same.
    used = resolve_token(None, {"GUILDWATCH_TOKEN": "other"}, config, stdin=None)
    assert (used.value, used.warnings) == ("other", (warning,))
    private = ConfigToken(token=TOKEN, config_path=tmp_path / "c.toml", config_mode=0o100600)
    assert resolve_token(None, {}, private, stdin=None).warnings == ()


def test_too_big_token_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"x" * (64 * 1024 + 1))
    with pytest.raises(ConfigError, match="larger than 64 KiB"):
        read_token_file(str(path), stdin=None)


def test_stdin_token() -> None:
    token = read_token_file("-", stdin=io.BytesIO(f"{TOKEN}\n".encode()))
    assert (token.value, token.origin) == (TOKEN, "standard input")


@pytest.mark.parametrize("raw", ["Zq8 x", "Zq8\tx", "Zq8ök", "Zq8\x00x", "Zq8\nX-Evil: 1"])
def test_tokens_that_cannot_be_a_header_are_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match="printable ASCII") as caught:
        validate_token(raw, "GUILDWATCH_TOKEN")
    assert raw not in str(caught.value)


def _logger_writing_to(stream: io.StringIO, token: str) -> logging.Logger:
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactTokenFilter(token))
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    parent = logging.getLogger("guildwatch.test-redaction")
    parent.handlers[:] = [handler]
    parent.propagate = False
    parent.setLevel(logging.DEBUG)
    return parent


def test_redaction_covers_message_args_child_loggers_and_exceptions() -> None:
    stream = io.StringIO()
    parent = _logger_writing_to(stream, TOKEN)
    child = logging.getLogger("guildwatch.test-redaction.engine")
    parent.info("plain %s", TOKEN)
    child.warning("header %r", {"Authorization": f"Bearer {TOKEN}"})
    try:
        raise ValueError(f"bad header Bearer {TOKEN}")
    except ValueError:
        child.exception("failed")
    text = stream.getvalue()
    assert TOKEN not in text
    assert text.count(REDACTED) == 3
    assert "ValueError: bad header Bearer " + REDACTED in text


def test_token_from_stdin_subprocess(run: Run) -> None:
    result = run(
        "--token-file",
        "-",
        "--api",
        "http://127.0.0.1:9",
        "--once",
        "--timeout",
        "1",
        "1234",
        input=f"{TOKEN}\n",
    )
    assert result.returncode != 2, result.stderr
    assert "Traceback" not in result.stderr
    assert TOKEN not in result.stdout + result.stderr


def test_group_readable_token_file_warns_on_stderr(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN)
    path.chmod(0o640)
    result = run(
        "--api",
        "http://127.0.0.1:9",
        "--once",
        "--timeout",
        "1",
        "1234",
        env={"GUILDWATCH_TOKEN_FILE": str(path)},
    )
    assert result.returncode != 2, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning:" in line]
    assert warnings == [
        f"guildwatch: warning: token file {path} is accessible by group or others (mode 0640); "
        f"run: chmod 600 {path}"
    ]
    assert TOKEN not in result.stdout + result.stderr


def test_private_token_file_gives_no_warning(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN)
    path.chmod(0o600)
    result = run(
        "--api",
        "http://127.0.0.1:9",
        "--once",
        "--timeout",
        "1",
        "--token-file",
        str(path),
        "1",
    )
    assert result.returncode != 2, result.stderr
    assert "warning" not in result.stderr


def test_config_token_readable_by_others_warns(run: Run, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'api = "http://127.0.0.1:9"\ntoken = "{TOKEN}"\nguilds = ["1"]\n')
    config.chmod(0o644)
    result = run("--config", str(config), "--once", "--timeout", "1")
    assert result.returncode != 2, result.stderr
    assert "config file" in result.stderr
    assert "(it holds the token)" in result.stderr
    assert TOKEN not in result.stdout + result.stderr


def test_token_in_a_bad_config_file_never_reaches_the_message(run: Run, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'token = "{TOKEN}\nguilds = ["1"]\n')
    config.chmod(0o600)
    result = run("--config", str(config))
    assert_one_line_error(result, "TOML syntax")
    assert TOKEN not in result.stderr
