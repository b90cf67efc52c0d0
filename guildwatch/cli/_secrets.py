"""The bearer token: where it comes from, how it is checked, and how it is kept out of logs.

The token never comes from argv (visible in ``ps`` and shell history). Its sources, highest
first: ``--token-file`` (``-`` = stdin), ``GUILDWATCH_TOKEN``, ``GUILDWATCH_TOKEN_FILE``, the
config file's ``token_file``, then its ``token``. No error message here ever quotes the token
or a file's content: they name the *source* instead.
"""

from __future__ import annotations

import logging
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from guildwatch.cli._files import read_bounded
from guildwatch.errors import ConfigError

MAX_TOKEN_BYTES = 64 * 1024
"""A token file bigger than this is a mistake (a log, /dev/zero), not a token."""

REDACTED = "[token redacted]"


@dataclass(frozen=True, slots=True)
class Token:
    """A validated token and a description of where it came from (for messages)."""

    value: str = field(repr=False)
    origin: str
    """E.g. ``GUILDWATCH_TOKEN`` or ``token file /home/me/.gw-token``; never the token."""
    warnings: tuple[str, ...] = ()
    """Things to tell the user, such as a token file that others can read."""


def validate_token(raw: str, origin: str) -> str:
    """Strip surrounding whitespace (the newline a file ends with) and check what is left.

    Raises:
        ConfigError: the token is empty, or holds whitespace, control or non-ASCII characters
            (they cannot go into an ``Authorization`` header and would let a file inject one).
    """
    token = raw.strip()
    if not token:
        raise ConfigError(f"the token from {origin} is empty")
    if any(not ("\x21" <= char <= "\x7e") for char in token):
        raise ConfigError(
            f"the token from {origin} contains spaces, line breaks, control or non-ASCII "
            "characters; a bearer token is one line of printable ASCII"
        )
    return token


def permission_warning(path: Path, mode: int, what: str) -> str | None:
    """A warning if a file holding the token can be read by group or others (as ssh warns)."""
    if mode & (stat.S_IRWXG | stat.S_IRWXO) == 0:
        return None
    return (
        f"{what} {path} is accessible by group or others (mode {stat.S_IMODE(mode):04o}); "
        f"run: chmod 600 {path}"
    )


def read_token_file(path_text: str, *, stdin: BinaryIO | None) -> Token:
    """Read a token from a file, or from stdin when ``path_text`` is ``-``.

    Raises:
        ConfigError: the file is missing, a directory, unreadable, too big, not UTF-8 or holds
            no valid token.
    """
    if path_text == "-":
        if stdin is None:
            raise ConfigError("--token-file -: there is no standard input to read the token from")
        data = stdin.read(MAX_TOKEN_BYTES + 1)
        return Token(_decode(data, "standard input"), "standard input")
    path = Path(path_text).expanduser()
    origin = f"token file {path}"
    try:
        data, mode = read_bounded(path, MAX_TOKEN_BYTES, origin)
    except FileNotFoundError:
        raise ConfigError(f"{origin} does not exist") from None
    warning = permission_warning(path, mode, "token file")
    return Token(_decode(data, origin), origin, (warning,) if warning else ())


def _decode(data: bytes, origin: str) -> str:
    if len(data) > MAX_TOKEN_BYTES:
        raise ConfigError(f"{origin} is larger than {MAX_TOKEN_BYTES // 1024} KiB: not a token")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{origin} is not UTF-8 text") from None
    return validate_token(text, origin)


@dataclass(frozen=True, slots=True)
class ConfigToken:
    """What the config file says about the token (both already type-checked)."""

    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    config_path: Path | None = None
    config_mode: int = 0o600


def resolve_token(
    token_file_flag: str | None,
    env: Mapping[str, str],
    config: ConfigToken,
    *,
    stdin: BinaryIO | None,
) -> Token:
    """Pick the token from the highest source that gives one (module docstring has the order).

    Raises:
        ConfigError: no source gives a token (the message names the three ways), or the chosen
            source is unreadable or empty.
    """
    token = _pick_token(token_file_flag, env, config, stdin=stdin)
    if config.token is not None and config.config_path is not None:
        # A config holding a token leaks it whether or not this run uses it.
        warning = permission_warning(config.config_path, config.config_mode, "config file")
        if warning:
            return replace(token, warnings=(*token.warnings, f"{warning} (it holds the token)"))
    return token


def _pick_token(
    token_file_flag: str | None,
    env: Mapping[str, str],
    config: ConfigToken,
    *,
    stdin: BinaryIO | None,
) -> Token:
    if token_file_flag is not None:
        return read_token_file(token_file_flag, stdin=stdin)
    if "GUILDWATCH_TOKEN" in env:
        origin = "GUILDWATCH_TOKEN"
        return Token(validate_token(env[origin], origin), origin)
    if "GUILDWATCH_TOKEN_FILE" in env:
        if not env["GUILDWATCH_TOKEN_FILE"]:
            raise ConfigError("GUILDWATCH_TOKEN_FILE is set but empty")
        return read_token_file(env["GUILDWATCH_TOKEN_FILE"], stdin=stdin)
    if config.token_file is not None:
        return read_token_file(str(config.token_file), stdin=stdin)
    if config.token is not None and config.config_path is not None:
        origin = f"config file {config.config_path}"
        return Token(validate_token(config.token, origin), origin)
    where = config.config_path or "the config file"
    raise ConfigError(
        "no token given: set GUILDWATCH_TOKEN, or name a file holding it with --token-file PATH "
        f"or GUILDWATCH_TOKEN_FILE, or put token_file (or token) in {where}"
    )


def redact(text: str, token: str) -> str:
    """``text`` with every occurrence of ``token`` replaced by a marker."""
    return text.replace(token, REDACTED) if token else text


class RedactTokenFilter(logging.Filter):
    """Rewrites every log record so the token cannot reach a handler's output.

    Attach it to *handlers*, not loggers: a logger's filters do not see records propagated
    from child loggers (``guildwatch.engine`` into ``guildwatch``), a handler's do. The message,
    its arguments, the exception text and the stack are all rendered and redacted here, since
    a token could hide in any of them (an exception carrying a header, a repr in ``args``).
    """

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self._token)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._token)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self._token)
        return True
