"""The argument parser: every flag, its help, and examples in ``--help``.

Parsing only: no defaults are applied here (every option defaults to None), because the flag is
just the first of four sources (flags > environment > config > defaults) that ``_config``
merges. argparse's own error exit (usage plus message, exit 2) is replaced by a
:class:`ConfigError`, so a bad flag gets the same single line as every other bad input.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import NoReturn

from guildwatch import __version__, durations
from guildwatch import defaults as d
from guildwatch.cli._listen import listen_address
from guildwatch.errors import ConfigError

_DESCRIPTION = """\
Watch a Discord bot's status per guild, live over Server-Sent Events.

Opens a terminal screen when stdout is a terminal; otherwise (a pipe, a file, cron) prints one
line per change, as --watch does."""

_EPILOG = """\
examples:
  guildwatch --demo                         try it: a built-in server with a simulated bot
  GUILDWATCH_TOKEN_FILE=~/.gw-token guildwatch --api https://bot.example.com 123456789012345678
  guildwatch --token-file - --api https://bot.example.com 1234 < token.txt
  guildwatch --watch --json 1234 5678 >> status.jsonl
  guildwatch --once 1234 || echo "bot needs attention (exit $?)"

why there is no --token:
  command lines are visible to every user of the machine (ps, /proc/PID/cmdline) and end up in
  shell history. Give the token through GUILDWATCH_TOKEN, a file (--token-file,
  GUILDWATCH_TOKEN_FILE, "-" for stdin) or the config file's `token`/`token_file`. A token file
  or config holding a token should be readable by you alone (chmod 600), as ssh asks for keys.

configuration:
  $XDG_CONFIG_HOME/guildwatch/config.toml (default ~/.config/guildwatch/config.toml), or
  --config PATH / GUILDWATCH_CONFIG. Precedence: flags > environment (GUILDWATCH_API,
  GUILDWATCH_TOKEN, GUILDWATCH_TOKEN_FILE, GUILDWATCH_STREAM) > config file > defaults.

exit codes:
  --once: 0 online, 1 warning (stale or polled), 2 offline, 3 unknown (unreachable, bad token,
  unknown guild); with several guilds the worst wins.
  otherwise: 0 normal end, 2 bad command line or configuration, 130 interrupted (Ctrl+C)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors become one line and exit code 2, not usage text."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see guildwatch --help)")


def _seconds(text: str) -> float:
    """A positive, finite number of seconds (fractions allowed, so tests can go fast)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


def _milliseconds(text: str) -> float:
    """A positive, finite number of milliseconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of milliseconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of milliseconds: {text!r}")
    return value


def _non_negative_seconds(text: str) -> float:
    """A finite number of seconds >= 0 (0 means "at once")."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds: {text!r}")
    return value


def _count(text: str) -> int:
    """A whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value


def repeat_interval(text: str) -> float:
    """``--alert-repeat``: a duration (``30m``, ``1h``, seconds); ``0`` or ``off`` turns it off."""
    if text.strip().lower() in ("0", "off"):
        return 0.0
    try:
        return durations.parse_duration(text).total_seconds()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def silence_spec(text: str) -> tuple[str, float | None]:
    """``--silence GUILD=DURATION``: the guild and seconds (None: until back)."""
    guild, sep, duration = text.partition("=")
    if not sep or not guild:
        raise argparse.ArgumentTypeError(
            f"{text[:60]!r} is not GUILD=DURATION (e.g. 1234=1h or 1234=until-back)"
        )
    try:
        length = durations.parse_silence_duration(duration)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{guild[:60]}: {exc}") from None
    return guild, None if length is None else length.total_seconds()


def value_type(row: d.Default[int] | d.Default[float]) -> Callable[[str], int | float]:
    """The argparse ``type`` for a number in the table of defaults."""
    if isinstance(row.value, int):
        return _count
    if row.unit == "ms":
        return _milliseconds
    return _non_negative_seconds if row.zero_allowed else _seconds


def help_text(row: d.AnyDefault) -> str:
    """The row's help with its default; a ``--no-...`` flag says no more than it does."""
    if isinstance(row.value, bool) and row.flag is not None and row.flag.startswith("--no-"):
        return row.help
    return f"{row.help} (default: {row.shown})"


def _flag(row: d.AnyDefault) -> str:
    if row.flag is None:
        raise ValueError(f"{row.name} has no flag")  # the engine's inner settings have none
    return row.flag


def _number(group: argparse._ArgumentGroup, row: d.Default[int] | d.Default[float]) -> None:
    metavar = {"s": "SECONDS", "ms": "MS"}.get(row.unit, "N")
    group.add_argument(_flag(row), type=value_type(row), metavar=metavar, help=help_text(row))


def _switch_off(group: argparse._ArgumentGroup, row: d.Default[bool]) -> None:
    group.add_argument(
        _flag(row), dest=row.name, action="store_const", const=False, help=help_text(row)
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``guildwatch`` parser; every option defaults to None ("not on the command line")."""
    parser = _Parser(
        prog="guildwatch",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=None,
        # Without this, "--token SECRET" would be taken as an abbreviation of --token-file.
        allow_abbrev=False,
    )
    parser.add_argument(
        "guilds",
        nargs="*",
        metavar="GUILD_ID",
        help="guilds to watch: Discord snowflakes or ids of [A-Za-z0-9._-], up to 100 characters "
        "(default: the config file's `guilds`)",
    )
    parser.add_argument("--version", action="version", version=f"guildwatch {__version__}")

    source = parser.add_argument_group("where to connect")
    source.add_argument(
        "--api", metavar="URL", help="base URL of the status API, http:// or https://"
    )
    source.add_argument(
        "--token-file",
        metavar="PATH",
        help='read the bearer token from PATH ("-" = stdin); see "why there is no --token"',
    )
    source.add_argument("--config", metavar="PATH", help="configuration file (TOML)")
    source.add_argument(
        "--demo",
        action="store_true",
        help="start the built-in reference server with a simulated bot and watch its guilds",
    )

    timing = parser.add_argument_group("connection")
    for row in (d.HEARTBEAT_TIMEOUT, d.POLL_INTERVAL, d.MAX_RETRIES, d.SLOW_RETRY):
        _number(timing, row)
    _switch_off(timing, d.STREAM)

    output = parser.add_argument_group("output")
    mode = output.add_mutually_exclusive_group()
    mode.add_argument(
        "--watch",
        action="store_true",
        help="no screen: print one line per change of a guild's state until interrupted",
    )
    mode.add_argument(
        "--once",
        action="store_true",
        help="no screen: print each guild's first definite status and exit with a "
        "monitoring-plugin code (see below)",
    )
    output.add_argument(
        "--json", action="store_true", help="headless lines as JSON objects (implies --watch)"
    )
    output.add_argument(
        _flag(d.ONCE_TIMEOUT),
        type=value_type(d.ONCE_TIMEOUT),
        metavar="SECONDS",
        help=help_text(d.ONCE_TIMEOUT),
    )
    _switch_off(output, d.ANIMATION)
    output.add_argument(
        _flag(d.INLINE), action="store_true", default=None, help=help_text(d.INLINE)
    )
    _switch_off(output, d.MOUSE)
    _number(output, d.LATENCY_WARN)
    alerts = parser.add_argument_group(
        "alerts (a guild goes Degraded, Offline or Connection lost, and back)"
    )
    alerts.add_argument(
        _flag(d.BELL),
        action=argparse.BooleanOptionalAction,
        default=None,
        help=help_text(d.BELL),
    )
    alerts.add_argument(
        "--desktop-notify",
        nargs="?",
        const="osc9",
        choices=("osc9", "osc777"),
        metavar="osc9|osc777",
        help="also ask the terminal for a desktop notification by escape sequence: OSC 9 "
        "(iTerm2, WezTerm, Ghostty, kitty; the default) or OSC 777 (urxvt, foot)",
    )
    alerts.add_argument(
        "--on-change",
        metavar="COMMAND",
        help="run COMMAND (split like a shell would, but never run by one) on each alert, "
        "with the change as one JSON object on stdin; killed after "
        f"{d.ON_CHANGE_TIMEOUT.shown}, failures reported",
    )
    _number(alerts, d.ALERT_HOLD_DOWN)
    alerts.add_argument(
        _flag(d.ALERT_REPEAT),
        type=repeat_interval,
        metavar="DURATION",
        help=help_text(d.ALERT_REPEAT),
    )
    alerts.add_argument(
        "--silence",
        type=silence_spec,
        action="append",
        metavar="GUILD=DURATION",
        help="silence a guild's alerts for DURATION (15m, 1h, 4h, ... or until-back: until it "
        "is next seen online after being down); repeatable; kept in "
        "$XDG_STATE_HOME/guildwatch/silences.json, as the screen's s key does",
    )

    scale = parser.add_argument_group("many guilds")
    scale.add_argument(
        _flag(d.HTTP2),
        action=argparse.BooleanOptionalAction,
        default=None,
        help=help_text(d.HTTP2),
    )
    scale.add_argument(
        _flag(d.MULTIPLEX),
        choices=d.MULTIPLEX.choices,
        metavar="|".join(d.MULTIPLEX.choices),
        help=help_text(d.MULTIPLEX),
    )
    serving = parser.add_argument_group("browser and metrics")
    serving.add_argument(
        "--serve",
        type=listen_address,
        metavar="[HOST:]PORT",
        help="serve the screen to web browsers (textual-serve; pip install 'guildwatch[web]'); "
        "one screen per tab, the token stays here; HOST defaults to 127.0.0.1",
    )
    serving.add_argument(
        "--serve-public",
        action="store_true",
        help="allow --serve on an address other hosts can reach (no authentication of its "
        "own: put it behind an SSH tunnel or a reverse proxy with auth)",
    )
    serving.add_argument(
        "--metrics",
        type=listen_address,
        metavar="[HOST:]PORT",
        help="Prometheus metrics at http://HOST:PORT/metrics while watching (screen or "
        "--watch; pip install 'guildwatch[metrics]'); HOST defaults to 127.0.0.1",
    )
    output.add_argument(
        "--log-file",
        metavar="PATH",
        help="append connection events (attempts, status codes, backoff, errors) to PATH; "
        "the token is redacted",
    )
    output.add_argument(
        "--debug",
        action="store_true",
        help="show tracebacks for internal errors and log at debug level",
    )
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse ``argv`` (without the program name); raises ConfigError for bad flags."""
    return build_parser().parse_args(argv)
