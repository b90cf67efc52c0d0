"""Words for people: the shared vocabulary of the screen and the headless output.

Both the Textual view and ``--watch``/``--once`` describe a :class:`GuildSnapshot` with these
functions, so "Last seen 5 minutes ago" reads the same everywhere. Nothing here imports
Textual; :func:`safe` is the one gate every server string passes before it is shown.
"""

from __future__ import annotations

import math
import unicodedata
from datetime import datetime, timedelta
from typing import Literal

from dateutil.relativedelta import relativedelta
from rich.cells import cell_len

from guildwatch import defaults
from guildwatch.store import GuildSnapshot

StatusKind = Literal[
    "online",
    "degraded",
    "maintenance",
    "offline",
    "connecting",
    "reconnecting",
    "lost",
    "waiting",
]
"""What the dot shows; the UI maps each to a colour and a glyph.

Three kinds of "down" stay apart because each has its own fix: ``offline`` (the bot is down),
``degraded`` (the bot is up, its gateway is sick: a shard down, latency too high, or the bot
says so) and ``lost`` (guildwatch cannot reach the backend; the bot may be fine)."""

CLOCK_SKEW_TOLERANCE = timedelta(seconds=defaults.CLOCK_SKEW_TOLERANCE.value)
"""A heartbeat further in the future than this is clock skew, never "just now": the engine's
threshold for its ``clock_skew`` warning, so the screen and the warning agree."""

_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_INVISIBLE = frozenset("\u200b\u2060\ufeff")
_LAYOUT_BREAKERS = frozenset("\t\n\r\u2028\u2029\x85")


def safe(text: str, max_cells: int = 80) -> str:
    """Make untrusted server text inert and bounded for one line of display.

    Rich and Textual strip only BEL, BS, VT, FF and CR (``rich/control.py``), so an ESC
    sequence or U+202E would reach the terminal: this drops every Cc character and the bidi
    and zero-width format characters, turns line breaks and tabs into spaces, and ellipsizes to
    ``max_cells`` terminal cells. Markup is *not* escaped here: render the result as plain
    ``Content``/``Text`` or with ``markup=False``.
    """
    cleaned: list[str] = []
    for char in text:
        if char in _LAYOUT_BREAKERS:
            cleaned.append(" ")
        elif char in _BIDI_CONTROLS or char in _INVISIBLE or unicodedata.category(char) == "Cc":
            continue
        else:
            cleaned.append(char)
    result = "".join(cleaned)
    return ellipsize(result, max_cells)


def ellipsize(text: str, max_cells: int) -> str:
    """Cut ``text`` to at most ``max_cells`` terminal cells, ending in "…" if it was cut."""
    if cell_len(text) <= max_cells:
        return text
    if max_cells <= 0:
        return ""
    kept: list[str] = []
    width = 0
    for char in text:
        char_width = cell_len(char)
        if width + char_width > max_cells - 1:
            break
        kept.append(char)
        width += char_width
    return "".join(kept) + "…"


def _round_half_up(value: float) -> int:
    # date-fns uses JavaScript's Math.round, which rounds .5 up; Python's round() does not.
    return math.floor(value + 0.5)


def format_distance(then: datetime, now: datetime) -> str:
    """The distance between two times in date-fns ``formatDistance`` words.

    "less than a minute", "1 minute", "5 minutes", "about 1 hour", "about 2 hours", "1 day",
    "3 days", "about 1 month", "4 months", "about 1 year", "over 1 year", "almost 2 years".
    A ``then`` after ``now`` is measured the same way (callers decide what skew means).
    """
    earlier, later = sorted((then, now))
    minutes = _round_half_up((later - earlier).total_seconds() / 60)
    minutes_in_day, minutes_in_month = 1440, 43200
    if minutes < 2:
        return "less than a minute" if minutes == 0 else "1 minute"
    if minutes < 45:
        return f"{minutes} minutes"
    if minutes < 90:
        return "about 1 hour"
    if minutes < minutes_in_day:
        return f"about {_round_half_up(minutes / 60)} hours"
    if minutes < 2520:
        return "1 day"
    if minutes < minutes_in_month:
        return f"{_round_half_up(minutes / minutes_in_day)} days"
    if minutes < 2 * minutes_in_month:
        months = _round_half_up(minutes / minutes_in_month)
        return "about 1 month" if months == 1 else f"about {months} months"
    delta = relativedelta(later, earlier)
    months = delta.years * 12 + delta.months
    if months < 12:
        return f"{_round_half_up(minutes / minutes_in_month)} months"
    years, months_into_year = divmod(months, 12)
    if months_into_year < 3:
        return _plural("about", years)
    if months_into_year < 9:
        return _plural("over", years)
    return _plural("almost", years + 1)


def _plural(prefix: str, years: int) -> str:
    return f"{prefix} {years} year" if years == 1 else f"{prefix} {years} years"


def format_short_distance(then: datetime, now: datetime) -> str:
    """A compact distance for narrow panes: ``now``, ``5m``, ``2h``, ``3d``."""
    seconds = abs((now - then).total_seconds())
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


def is_clock_skewed(then: datetime, now: datetime) -> bool:
    """The server claims a heartbeat from the future, beyond the tolerance."""
    return then - now > CLOCK_SKEW_TOLERANCE


def last_seen(snapshot: GuildSnapshot, now: datetime, *, short: bool = False) -> str:
    """ "Last seen 5 minutes ago · v1.2.3" (or "5m · v1.2.3" when ``short``).

    Empty before any status. The version is sanitised here; a heartbeat from the future says
    so instead of pretending the bot was seen "just now".
    """
    status = snapshot.status
    if status is None:
        return ""
    if status.last_heartbeat is None:
        seen = "never" if short else "Never seen"
    elif is_clock_skewed(status.last_heartbeat, now):
        seen = "clock skew" if short else "Last seen: server clock ahead"
    elif short:
        seen = format_short_distance(status.last_heartbeat, now)
        if seen == "now" and not status.healthy:
            # A bot reported offline has been silent for the server's offline threshold, or
            # said it is unhealthy: "now" would read as "it is here".
            seen = "<1m"
    else:
        seen = f"Last seen {format_distance(status.last_heartbeat, now)} ago"
    if status.version:
        return f"{seen} · v{safe(status.version, 24 if short else 40)}"
    return seen


FATAL_REASONS: dict[str, str] = {
    "auth": "Unauthorized: check the token",
    "forbidden": "Forbidden for this token",
    "not_found": "Unknown guild",
}
"""The status for answers that retrying cannot fix (401/403/404), by ``error.kind``."""

_SHORT_FATAL_REASONS: dict[str, str] = {
    "Unauthorized: check the token": "Unauthorized",
    "Forbidden for this token": "Forbidden",
    "Unknown guild": "Unknown guild",
}


def fatal_reason(snapshot: GuildSnapshot) -> str | None:
    """The named reason when the stream stopped on 401/403/404, else None."""
    if snapshot.connection != "error" or snapshot.error is None:
        return None
    return FATAL_REASONS.get(snapshot.error.kind)


def status_kind(snapshot: GuildSnapshot) -> StatusKind:
    """Which of the screen's states a snapshot is in (the dot's colour follows from it).

    The connection comes first: a stream that is down never shows "Online" from memory; only
    a fresh poll (``source == "poll"``) may still say whether the bot is up.
    """
    connection = snapshot.connection
    # A poll that answered is knowledge, even after the stream gave up: "stream down but
    # polls answer" must not read like "backend unreachable".
    if connection == "connected" or (
        snapshot.source == "poll" and (connection != "error" or fatal_reason(snapshot) is None)
    ):
        status = snapshot.status
        if status is None:
            return "connecting" if connection == "connecting" else "waiting"
        if not status.healthy:
            return "offline"
        # The common case without a call (a 10,000-guild wake-up asks once per guild).
        if status.state is None and status.shard is None and not snapshot.latency_slow:
            return "online"
        return _vitals_kind(snapshot)
    if connection == "error":
        return "lost"
    if connection == "connecting":
        return "connecting"
    return "reconnecting"


def _vitals_kind(snapshot: GuildSnapshot) -> StatusKind:
    # A healthy bot: what its vitals say. A maintenance the bot declared wins over a shard it
    # took down for it; a shard down, the bot's own "degraded" (or a word this version does not
    # know) and a latency judged too high over a window all read Degraded.
    status = snapshot.status
    assert status is not None
    state = status.bot_state
    if state == "maintenance":
        return "maintenance"
    shard_down = status.shard is not None and not status.shard.connected
    if shard_down or state == "degraded" or snapshot.latency_slow:
        return "degraded"
    return "online"


def degraded_reason(snapshot: GuildSnapshot) -> str:
    """Why a healthy bot reads Degraded: "shard 3 down", "latency 812 ms", or what it said.

    Empty when it is not degraded. A shard that is down is named first: it is the fix.
    """
    status = snapshot.status
    if status is None or status_kind(snapshot) != "degraded":
        return ""
    if status.shard is not None and not status.shard.connected:
        return f"shard {status.shard.id} down"
    if snapshot.latency_slow:
        shown = snapshot.latency_shown_ms
        return "latency high" if shown is None else f"latency {format_latency(shown)}"
    said = bot_word(snapshot)  # "Degraded · rate limited", or an unknown word as written
    if said.startswith("Degraded · "):
        return said.removeprefix("Degraded · ")
    return "" if said == "Degraded" else said


def status_word(snapshot: GuildSnapshot, now: datetime, *, short: bool = False) -> str:
    """The status written out, so the screen reads right without colour.

    ``short`` gives forms that fit an 18-cell pane ("Retry in 12 s", "Waiting…") for callers
    that have measured that the long one does not fit.
    """
    kind = status_kind(snapshot)
    if kind == "reconnecting":
        if snapshot.next_retry_at is not None:
            seconds = math.ceil((snapshot.next_retry_at - now).total_seconds())
            if seconds > 0:
                return f"Retry in {seconds} s" if short else f"Reconnecting in {seconds} s"
        return "Retrying…" if short else "Reconnecting…"
    if short and kind == "waiting":
        return "Waiting…"
    if kind == "lost":
        reason = fatal_reason(snapshot)
        if reason is not None:
            return _SHORT_FATAL_REASONS[reason] if short else reason
    return {
        "online": "Online",
        "degraded": "Degraded",
        "maintenance": "Maintenance",
        "offline": "Offline",
        "connecting": "Connecting…",
        "lost": "Connection lost",
        "waiting": "Waiting for status…",
    }[kind]


STATE_WORDS: dict[str, str] = {
    "degraded": "Degraded",
    "starting": "Starting",
    "maintenance": "Maintenance",
}
"""The bot's own words (docs/protocol.md "Bot vitals"); ``up`` reads as the status itself."""

_STATE_CELLS = 32
_BOT_MESSAGE_CELLS = 80
"""A bot's message in a headline; the detail view shows up to 200 characters."""


def format_latency(latency_ms: float) -> str:
    """ "42 ms" (whole milliseconds), "12.3 s" past ten seconds, capped for absurd values."""
    if latency_ms < 10_000:
        return f"{math.floor(latency_ms + 0.5)} ms"
    if latency_ms < 1_000_000:
        return f"{latency_ms / 1000:.1f} s"
    return "> 1000 s"


def bot_word(snapshot: GuildSnapshot) -> str:
    """The bot's own word and message, made safe: "Maintenance · deploying v1.3".

    Empty when the bot reported no state (or ``up``) and no message. A word this version does
    not know is shown as the bot wrote it.
    """
    status = snapshot.status
    if status is None or (status.state in (None, "up") and not status.message):
        return ""
    state = status.state
    if state in (None, "up"):
        label = ""
    else:
        label = STATE_WORDS.get(state) or safe(state, _STATE_CELLS) or "Degraded"
    message = safe(status.message, _BOT_MESSAGE_CELLS) if status.message else ""
    return " · ".join(part for part in (label, message) if part)


def shown_latency(snapshot: GuildSnapshot) -> float | None:
    """The latency a row shows: the store's dead-banded value, else the one reported.

    The store moves its value only when the latency moved by 10 % (at least 10 ms), so a
    latency that jitters by a few ms at every heartbeat leaves the row's text, and the
    terminal, alone (``latency.LatencyHistory``).
    """
    if snapshot.latency_shown_ms is not None:
        return snapshot.latency_shown_ms
    return snapshot.status.latency_ms if snapshot.status is not None else None


def headline(snapshot: GuildSnapshot, now: datetime, *, short: bool = False) -> str:
    """The status word with the bot's vitals while it is up: "Online · 42 ms",
    "Degraded · shard 3 down", "Maintenance · deploying v1.3".

    Anything else reads as :func:`status_word` alone: a latency or a "maintenance" from
    memory must not make a bot that stopped reporting look alive.
    """
    word = status_word(snapshot, now, short=short)
    status = snapshot.status
    kind = status_kind(snapshot)
    if status is None or kind not in ("online", "degraded", "maintenance"):
        return word
    if kind == "degraded":
        reason = degraded_reason(snapshot)
        if short and reason:
            # 18 cells: "Degraded: shard 3", "Degraded: 812 ms" keep the word and the fix.
            return f"{word}: {reason.removeprefix('latency ').removesuffix(' down')}"
        return f"{word} · {reason}" if reason else word
    if kind == "maintenance":
        said = bot_word(snapshot)
        return said or word
    if status.bot_state != "up":  # "starting": the bot's own word
        return bot_word(snapshot)
    latency = shown_latency(snapshot)
    extra = [format_latency(latency)] if latency is not None else []
    said = bot_word(snapshot)  # "up" with a message
    if said:
        extra.append(said)
    return " · ".join([word, *extra])


def polled_marker(snapshot: GuildSnapshot, now: datetime) -> str:
    """ "polled 30 s ago" while the shown status came from the poller, else empty."""
    if snapshot.source != "poll" or snapshot.received_at is None:
        return ""
    age = max(0, int((now - snapshot.received_at).total_seconds()))
    if age < 60:
        return f"polled {age} s ago"
    return f"polled {format_distance(snapshot.received_at, now)} ago"


def hint(snapshot: GuildSnapshot) -> str:
    """What the operator can do: "Check Discord" while offline, "Press r to retry" when lost."""
    kind = status_kind(snapshot)
    if kind in ("offline", "degraded"):
        return "Check Discord"
    if kind == "lost":
        return "Press r to retry"
    return ""
