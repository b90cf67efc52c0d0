"""The configuration file: where it is, what it may hold, and how it is checked.

TOML, read with the standard library's tomllib, from ``--config PATH``, ``GUILDWATCH_CONFIG``
or ``$XDG_CONFIG_HOME/guildwatch/config.toml`` (``~/.config`` when XDG_CONFIG_HOME is unset, on
every OS, as users of terminal tools expect). guildwatch only ever reads it.

tomllib reports line numbers for syntax errors only, so for an unknown key or a wrong type the
line is found by scanning the text for the key (:func:`_line_of`): a best effort that is right
for ordinary files, and the message still names the file and the key when it is not found.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from guildwatch import defaults, durations
from guildwatch.cli._files import read_bounded
from guildwatch.errors import ConfigError

MAX_CONFIG_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class GuildSpec:
    """A guild to watch and the name to show for it."""

    guild_id: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """The values one config file gave; None means "not set there"."""

    path: Path
    mode: int
    """The file's permission bits, to warn when it holds a token others can read."""
    api: str | None = None
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    guilds: tuple[GuildSpec, ...] | None = None
    heartbeat_timeout: float | None = None
    poll_interval: float | None = None
    max_retries: int | None = None
    slow_retry: float | None = None
    timeout: float | None = None
    stream: bool | None = None
    animation: bool | None = None
    inline: bool | None = None
    mouse: bool | None = None
    bell: bool | None = None
    desktop_notify: str | None = None
    on_change: str | None = None
    alert_hold_down: float | None = None
    alert_repeat: float | None = None
    latency_warn: float | None = None
    http2: bool | None = None
    multiplex: str | None = None
    log_file: Path | None = None


def default_config_path(env: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/guildwatch/config.toml``; a relative XDG value is ignored (spec)."""
    xdg = env.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".config"
    return base / "guildwatch" / "config.toml"


def default_state_dir(env: Mapping[str, str]) -> Path:
    """``$XDG_STATE_HOME/guildwatch`` (``~/.local/state`` when unset or relative, as the XDG
    spec says): where the silences are kept over a restart."""
    xdg = env.get("XDG_STATE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "state"
    return base / "guildwatch"


def load_config(path: Path, *, explicit: bool) -> ConfigFile | None:
    """Read and check one config file.

    Args:
        path: Where to read.
        explicit: The user named this file (flag or env): a missing file is then an error,
            while a missing default file just means "no configuration".

    Raises:
        ConfigError: unreadable file, TOML syntax error, unknown key or wrong type; the message
            names the file, and the line and key where known.
    """
    try:
        data, mode = read_bounded(path, MAX_CONFIG_BYTES, f"config file {path}")
    except FileNotFoundError:
        if not explicit:
            return None
        raise ConfigError(f"config file {path} does not exist") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {path} is larger than 1 MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    import tomllib  # only when there is a file: most runs have none, and it costs start-up

    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_syntax_message(path, str(exc), text)) from None
    return _check(table, _Context(path, text), mode)


def _syntax_message(path: Path, detail: str, text: str = "") -> str:
    # tomllib reports an array left open where it gave up (the next line, or the end), not
    # where the mistake is: name the line that opened it.
    opened = _unclosed_array_line(text)
    if opened is not None:
        where = re.sub(r"\s*\((at [^)]*)\)$", r" \1", detail).replace(
            "at end of document", "at the end"
        )
        return (
            f"config file {path}, line {opened}: unclosed array starting at line {opened} "
            f"(tomllib: {where}; TOML syntax)"
        )
    # tomllib ends its messages with "(at line 3, column 7)"; lead with the place instead.
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", detail)
    if found is not None:
        what = detail[: found.start()]
        return f"config file {path}, line {found[1]}, column {found[2]}: {what} (TOML syntax)"
    found = re.search(r"\s*\(at end of document\)$", detail)
    if found is not None:
        return f"config file {path}, at the end: {detail[: found.start()]} (TOML syntax)"
    return f"config file {path}: {detail} (TOML syntax)"


def _unclosed_array_line(text: str) -> int | None:
    """The line of the outermost ``[`` value that the document never closes, if any.

    A small scanner, not a parser: it skips strings, comments and table headers and counts
    brackets, which is all it takes to find an array left open.
    """
    opened: list[int] = []
    line, i, n = 1, 0, len(text)
    at_line_start = True
    while i < n:
        char = text[i]
        if char == "\n":
            line, at_line_start = line + 1, True
            i += 1
            continue
        if at_line_start and not opened and char == "[":
            i = text.find("\n", i)  # a table header, [x] or [[x]]
            i = n if i < 0 else i
            continue
        if not char.isspace():
            at_line_start = False
        if char == "#":
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif char in "\"'":
            quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else char
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if char == '"' and text[j] == "\\":
                    j += 1  # the escaped character (a newline here is a line continuation)
                if j < n and text[j] == "\n":
                    if len(quote) == 1:
                        break  # an unterminated one-line string: tomllib says so itself
                    line += 1
                j += 1
            i = j + len(quote) if text.startswith(quote, j) else j
        elif char == "[":
            opened.append(line)
            i += 1
        elif char == "]":
            if opened:
                opened.pop()
            i += 1
        else:
            i += 1
    return opened[0] if opened else None


@dataclass(frozen=True, slots=True)
class _Context:
    path: Path
    text: str

    def error(self, message: str, line: int | None) -> ConfigError:
        where = f"config file {self.path}" + (f", line {line}" if line else "")
        return ConfigError(f"{where}: {message}")


def _positive_seconds(value: object) -> float | None:
    # TOML booleans are Python bools, and bool is an int: refuse them explicitly.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None


def _count(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _boolean(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _non_negative_seconds(value: object) -> float | None:
    if value == 0 and not isinstance(value, bool):
        return 0.0
    return _positive_seconds(value)


def _desktop_style(value: object) -> str | None:
    # false is a valid "off"; it becomes "" here (None would mean "wrong type").
    if value is False:
        return ""
    if value is True:
        return "osc9"
    return value if value in ("osc9", "osc777") else None


def _repeat(value: object) -> float | None:
    # Seconds as a number (0 = off), or a duration as --alert-repeat takes it.
    if isinstance(value, str):
        if value.strip().lower() in ("0", "off"):
            return 0.0
        try:
            return durations.parse_duration(value).total_seconds()
        except ValueError:
            return None
    return _non_negative_seconds(value)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


_Check = tuple[str, Callable[[object], object | None]]
"""What a key's value must be (for the message), and the check (None: wrong type)."""


def _choice(choices: tuple[str, ...]) -> Callable[[object], object | None]:
    def check(value: object) -> str | None:
        return value if isinstance(value, str) and value in choices else None

    return check


def _table_check(row: defaults.AnyDefault) -> _Check:
    """The check for a key of the table of defaults, from its default's type."""
    if isinstance(row.value, str):
        words = ", ".join(f'"{choice}"' for choice in row.choices[:-1])
        return f'{words} or "{row.choices[-1]}"', _choice(row.choices)
    if isinstance(row.value, bool):
        return "true or false", _boolean
    if isinstance(row.value, int):
        return "a whole number >= 0", _count
    if row.zero_allowed:
        return "a number of seconds >= 0", _non_negative_seconds
    if row.unit == "ms":
        return "a positive number of milliseconds", _positive_seconds
    return "a positive number of seconds", _positive_seconds


_SCALARS: dict[str, _Check] = {
    "api": ("a string (the API's base URL)", _text),
    "token": ("a string", _text),
    "token_file": ("a string (a path)", _text),
    "log_file": ("a string (a path)", _text),
    **{row.config_key: _table_check(row) for row in defaults.TABLE if row.config_key},
    "desktop_notify": ('"osc9", "osc777" or false', _desktop_style),
    "on_change": ("a string (a command line)", _text),
    "alert_repeat": ('seconds >= 0 or a duration like "30m"', _repeat),
}
KNOWN_KEYS = (*_SCALARS, "guilds")


def _type_name(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names |= {list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def _check(table: dict[str, object], context: _Context, mode: int) -> ConfigFile:
    values: dict[str, object] = {}
    for key, value in table.items():
        line = _line_of(context.text, key) or _header_line(context.text, key, 0)
        if key == "guilds":
            values["guilds"] = _check_guilds(value, context)
            continue
        if key not in _SCALARS:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            known = ", ".join(KNOWN_KEYS)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {known}"
            raise context.error(f"unknown key {key!r} ({hint})", line)
        expected, convert = _SCALARS[key]
        checked = convert(value)
        if checked is None:
            raise context.error(f"{key!r} must be {expected}, not {_type_name(value)}", line)
        values[key] = checked
    for key in ("token_file", "log_file"):
        if key in values:
            values[key] = _relative_to(context.path, str(values[key]))
    return ConfigFile(path=context.path, mode=mode, **values)  # type: ignore[arg-type]


def _relative_to(config_path: Path, text: str) -> Path:
    # A relative path in a config file means "next to the config", not "wherever I ran it".
    path = Path(text).expanduser()
    return path if path.is_absolute() else config_path.parent / path


def _check_guilds(value: object, context: _Context) -> tuple[GuildSpec, ...]:
    guilds_line = _line_of(context.text, "guilds")
    if not isinstance(value, list):
        got = _type_name(value)
        message = f"'guilds' must be a list of ids or of {{id, name}} tables, not {got}"
        raise context.error(message, guilds_line)
    specs: list[GuildSpec] = []
    for index, item in enumerate(value):

        def line(key: str | None, index: int = index) -> int | None:
            if guilds_line is not None:
                return guilds_line
            found = _line_of(context.text, key, table="guilds", index=index) if key else None
            return found or _header_line(context.text, "guilds", index)

        if isinstance(item, str):
            specs.append(GuildSpec(item))
            continue
        if not isinstance(item, dict):
            raise context.error(
                f"guilds entry {index + 1} must be an id string or an {{id, name}} table, "
                f"not {_type_name(item)}",
                line(None),
            )
        for key in item:
            if key not in ("id", "name"):
                raise context.error(
                    f"unknown key {key!r} in guilds entry {index + 1} (known keys: id, name)",
                    line(key),
                )
        guild_id, name = item.get("id"), item.get("name")
        if not isinstance(guild_id, str):
            got = "missing" if guild_id is None else _type_name(guild_id)
            raise context.error(
                f"guilds entry {index + 1}: 'id' must be a string, not {got}", line("id")
            )
        if name is not None and not isinstance(name, str):
            raise context.error(
                f"guilds entry {index + 1}: 'name' must be a string, not {_type_name(name)}",
                line("name"),
            )
        specs.append(GuildSpec(guild_id, name))
    return tuple(specs)


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def _key_pattern(key: str) -> re.Pattern[str]:
    quoted = re.escape(key)
    return re.compile(rf"^\s*(?:{quoted}|\"{quoted}\"|'{quoted}')\s*=")


def _line_of(text: str, key: str, *, table: str | None = None, index: int = 0) -> int | None:
    """The 1-based line where ``key =`` appears at the top level, or in the ``index``-th
    ``[[table]]`` when ``table`` is given; None when the scan cannot find it."""
    pattern = _key_pattern(key)
    in_scope = table is None
    seen = -1
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header is not None:
            name = header[1].strip("\"'")
            if table is not None and name == table:
                seen += 1
                in_scope = seen == index
            else:
                in_scope = False
            continue
        if in_scope and pattern.match(line):
            return number
    return None


def _header_line(text: str, table: str, index: int) -> int | None:
    seen = -1
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header is not None and header[1].strip("\"'") == table:
            seen += 1
            if seen == index:
                return number
    return None
