"""Every default guildwatch has, written once: the engine's settings, the parser's ``--help``,
the config file's checks and the README's table all read :data:`TABLE`.

Pure data and text, no imports from the rest of the package, so every layer may use it (the
engine included) and a mistyped flag costs no import of httpx or Textual.

``python -m guildwatch.defaults README.md`` rewrites the README's table from here (between the
``defaults:start``/``defaults:end`` markers); a test fails while it is stale.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

V = TypeVar("V", bool, int, float, str)


@dataclass(frozen=True, slots=True)
class Default(Generic[V]):
    """One setting: its default, its unit, where a user sets it, and what it does."""

    name: str
    """The field's name in ``EngineSettings``, the CLI's ``Options`` or ``AlertSettings``."""
    value: V
    unit: str
    """``"s"`` for seconds, ``"ms"`` for milliseconds, ``""`` for counts, fractions and
    switches."""
    flag: str | None
    """The command-line flag, None when only code sets it (the engine's inner timings)."""
    config_key: str | None
    """The config file's key, None when only code sets it."""
    help: str
    """One sentence for ``--help`` and the README (without the default: that is added)."""
    zero_allowed: bool = False
    """A number of seconds that may be 0 ("at once"); other seconds must be positive."""
    choices: tuple[str, ...] = ()
    """The words a text setting may take (``auto``, ``on``, ``off``)."""

    @property
    def shown(self) -> str:
        """The default for people: ``75 s``, ``3``, ``on``, ``off``."""
        if isinstance(self.value, bool):
            return "on" if self.value else "off"
        if isinstance(self.value, str):
            return self.value
        number = f"{self.value:g}"
        return f"{number} {self.unit}" if self.unit else number


# Connection (engine) settings a user can change.
HEARTBEAT_TIMEOUT = Default(
    "heartbeat_timeout",
    75.0,
    "s",
    "--heartbeat-timeout",
    "heartbeat_timeout",
    "the watchdog: silence (no headers, event or comment) allowed on a connection before it is "
    "dropped as dead and retried; 2.5 x the protocol's 30 s heartbeat, fractions allowed",
)
POLL_INTERVAL = Default(
    "poll_interval",
    60.0,
    "s",
    "--poll-interval",
    "poll_interval",
    "how often to poll the status while the stream is down; polls of one guild stay this far "
    "apart across outages too",
)
MAX_RETRIES = Default(
    "max_retries",
    3,
    "",
    "--max-retries",
    "max_retries",
    'reconnects after a failure before "Connection lost", so N + 1 failed attempts in a row; '
    "0 gives up at the first failure",
)
SLOW_RETRY = Default(
    "slow_retry",
    300.0,
    "s",
    "--slow-retry",
    "slow_retry",
    'after "Connection lost" or a 401/403/404, retry the stream this often, for ever; '
    "r on the screen retries at once",
)
STREAM = Default(
    "stream",
    True,
    "",
    "--no-stream",
    "stream",
    "never open the event stream, poll only: the kill switch for proxies that break SSE "
    "(also GUILDWATCH_STREAM=0)",
)
HTTP2 = Default(
    "http2",
    False,
    "",
    "--http2",
    "http2",
    "speak HTTP/2 so guilds' streams share connections; needs the h2 package "
    "(guildwatch[http2]) and a server that speaks HTTP/2",
)
MULTIPLEX = Default(
    "multiplex",
    "auto",
    "",
    "--multiplex",
    "multiplex",
    "auto: watch several guilds over the server's one shared stream, one guild over its own; "
    "on: the shared stream even for one guild; off: one stream per guild. A server without "
    "the shared stream (404/405/501) gets per-guild streams either way",
    choices=("auto", "on", "off"),
)

# Connection (engine) settings only code changes (tests shorten them).
CONNECT_TIMEOUT = Default(
    "connect_timeout",
    10.0,
    "s",
    None,
    None,
    "connecting (and each write) may take this long; response headers get this plus the "
    "heartbeat timeout",
)
BACKOFF_BASE = Default(
    "backoff_base", 1.0, "s", None, None, "the first reconnect delay; it doubles per failure"
)
BACKOFF_CAP = Default("backoff_cap", 30.0, "s", None, None, "the reconnect delay's ceiling")
BACKOFF_JITTER = Default(
    "backoff_jitter",
    0.5,
    "",
    None,
    None,
    "up to this fraction of each reconnect delay is added at random, so reconnects spread out",
)
MIN_UPTIME_FOR_RESET = Default(
    "min_uptime_for_reset",
    60.0,
    "s",
    None,
    None,
    "a connection must live this long before the count of failures in a row starts again",
)
CLOCK_SKEW_TOLERANCE = Default(
    "clock_skew_tolerance",
    120.0,
    "s",
    None,
    None,
    "a lastHeartbeat further in the future than this is flagged as clock skew (a warning; "
    '"server clock ahead" on the screen)',
)
MAX_REDIRECTS = Default(
    "max_redirects", 5, "", None, None, "redirects followed before the request fails"
)

# Run, screen and alert settings (the CLI's).
ONCE_TIMEOUT = Default(
    "once_timeout",
    10.0,
    "s",
    "--timeout",
    "timeout",
    "--once: give up waiting after this long and report what is known",
)
ANIMATION = Default(
    "animation",
    True,
    "",
    "--no-animation",
    "animation",
    "screen: no pulsing dot (less output over slow links)",
)
INLINE = Default(
    "inline",
    False,
    "",
    "--inline",
    "inline",
    "screen: draw below the prompt; the last frame stays printed after quitting",
)
MOUSE = Default(
    "mouse",
    True,
    "",
    "--no-mouse",
    "mouse",
    "screen: no mouse reporting, so the terminal selects and copies text without Shift; "
    "no click-to-retry",
)
BELL = Default(
    "bell",
    False,
    "",
    "--bell",
    "bell",
    "ring the terminal bell on each alert; headless, only when stderr is a terminal",
)
ALERT_HOLD_DOWN = Default(
    "alert_hold_down",
    5.0,
    "s",
    "--alert-hold-down",
    "alert_hold_down",
    "a change must hold this long before it is announced, and the way back too, so a flapping "
    "guild alerts once; 0 = at once",
    zero_allowed=True,
)
ALERT_REPEAT = Default(
    "alert_repeat",
    0.0,
    "s",
    "--alert-repeat",
    "alert_repeat",
    'while a guild stays down (and is not silenced), announce it again this often ("still '
    'Offline"); a duration like 30m or 1h, or seconds; 0 = off',
    zero_allowed=True,
)
LATENCY_WARN = Default(
    "latency_warn",
    500.0,
    "ms",
    "--latency-warn",
    "latency_warn",
    "a guild whose gateway latency stays over this many milliseconds (the median of the last "
    "30 s, so one spike does not count) reads Degraded",
)
ON_CHANGE_TIMEOUT = Default(
    "command_timeout",
    10.0,
    "s",
    None,
    None,
    "an --on-change command still running after this long is killed, with its process group",
)

AnyDefault = Default[bool] | Default[int] | Default[float] | Default[str]
"""A row of the table, whatever its value's type."""

TABLE: tuple[AnyDefault, ...] = (
    HEARTBEAT_TIMEOUT,
    POLL_INTERVAL,
    MAX_RETRIES,
    SLOW_RETRY,
    STREAM,
    HTTP2,
    MULTIPLEX,
    ONCE_TIMEOUT,
    ANIMATION,
    INLINE,
    MOUSE,
    BELL,
    ALERT_HOLD_DOWN,
    ALERT_REPEAT,
    LATENCY_WARN,
    CONNECT_TIMEOUT,
    BACKOFF_BASE,
    BACKOFF_CAP,
    BACKOFF_JITTER,
    MIN_UPTIME_FOR_RESET,
    CLOCK_SKEW_TOLERANCE,
    MAX_REDIRECTS,
    ON_CHANGE_TIMEOUT,
)
"""Every default, in the README's order: what users set first, the engine's inner ones last."""

START_MARKER = "<!-- defaults:start (python -m guildwatch.defaults README.md rewrites this) -->"
END_MARKER = "<!-- defaults:end -->"


def _cell(text: str | None) -> str:
    return f"`{text}`" if text else ""


def markdown_table() -> str:
    """The README's table of settings, one row per :data:`TABLE` entry."""
    lines = [
        "| flag | config key | default | what it does |",
        "|---|---|---|---|",
    ]
    for row in TABLE:
        flag = _cell(row.flag) or f"(in code: `{row.name}`)"
        text = row.help.replace("|", "\\|")
        lines.append(f"| {flag} | {_cell(row.config_key)} | {row.shown} | {text} |")
    return "\n".join(lines)


def with_table(readme: str) -> str:
    """``readme`` with the text between the markers replaced by :func:`markdown_table`.

    Raises:
        ValueError: the markers are missing.
    """
    start, end = readme.find(START_MARKER), readme.find(END_MARKER)
    if start < 0 or end < start:
        raise ValueError(f"no {START_MARKER!r} ... {END_MARKER!r} block")
    head = readme[: start + len(START_MARKER)]
    return f"{head}\n{markdown_table()}\n{readme[end:]}"


def main(argv: list[str]) -> int:
    """Rewrite the README named in ``argv`` (or print the table when none is named)."""
    if not argv:
        print(markdown_table())
        return 0
    path = Path(argv[0])
    path.write_text(with_table(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
