"""The argument parser: every flag, its help, and examples in ``--help``.

Parsing only: no defaults are applied here (every option defaults to None), because the flag is
just the first of four sources (flags > environment > config > defaults) that ``_config``
merges. argparse's own error exit (usage plus message, exit 2) is replaced by a
:class:`ConfigError`, so a bad flag gets the same single line as every other bad input.
"""

from __future__ import annotations

import argparse
import math
from typing import NoReturn

from guildwatch import __version__
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
    timing.add_argument(
        "--heartbeat-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="how long a connection may stay silent (no headers, event or comment) before it "
        "is dropped as dead and retried (default 75 = 2.5 x the 30 s server heartbeat)",
    )
    timing.add_argument(
        "--poll-interval",
        type=_seconds,
        metavar="SECONDS",
        help="how often to poll the status while the stream is down (default 60)",
    )
    timing.add_argument(
        "--max-retries",
        type=_count,
        metavar="N",
        help='reconnects after a failure before "Connection lost" (default 3: four failed '
        "attempts in a row; 0 gives up at the first failure)",
    )
    timing.add_argument(
        "--slow-retry",
        type=_seconds,
        metavar="SECONDS",
        help='after "Connection lost" or a refused token/guild, retry this often, for ever '
        "(default 300; r on the screen retries at once)",
    )
    timing.add_argument(
        "--no-stream",
        dest="stream",
        action="store_const",
        const=False,
        help="never open the event stream, poll only (for proxies that break SSE); "
        "also GUILDWATCH_STREAM=0 or `stream = false`",
    )

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
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="--once: give up waiting after this long and report what is known (default 10)",
    )
    output.add_argument(
        "--no-animation",
        dest="animation",
        action="store_const",
        const=False,
        help="screen: no pulsing dot (less output over slow links)",
    )
    output.add_argument(
        "--inline",
        action="store_true",
        default=None,
        help="screen: draw below the prompt; the last frame stays printed after quitting",
    )
    output.add_argument(
        "--no-mouse",
        dest="mouse",
        action="store_const",
        const=False,
        help="screen: no mouse reporting, so the terminal selects and copies text without "
        "Shift (no click-to-retry); also `mouse = false`",
    )
    alerts = parser.add_argument_group("alerts (a guild goes Offline or Connection lost, and back)")
    alerts.add_argument(
        "--bell",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="ring the terminal bell on each alert (default: off; headless: only when stderr is "
        "a terminal)",
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
        "with the change as one JSON object on stdin; killed after 10 s, failures reported",
    )
    alerts.add_argument(
        "--alert-hold-down",
        type=_non_negative_seconds,
        metavar="SECONDS",
        help="a change must hold this long before it is announced, and the way back too, so a "
        "flapping guild alerts once (default 5; 0 = at once)",
    )

    scale = parser.add_argument_group("many guilds")
    scale.add_argument(
        "--http2",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="speak HTTP/2 so every guild's stream shares one connection (default: off; "
        "needs a server that speaks HTTP/2)",
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
