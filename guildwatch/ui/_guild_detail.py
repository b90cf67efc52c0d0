"""Enter on a guild: everything known about it, with exact times, on a screen of its own."""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Sparkline, Static

from guildwatch.display import (
    STATE_WORDS,
    degraded_reason,
    format_distance,
    format_latency,
    headline,
    safe,
    status_kind,
)
from guildwatch.history import (
    TIMELINE_WINDOW,
    TimelineState,
    outage_count,
    timeline,
    uptime_percent,
)
from guildwatch.latency import WINDOW_SECONDS
from guildwatch.ui._footer import KeysFooter
from guildwatch.ui._shards import SHARD_LEGEND, shard_grid
from guildwatch.ui._status_dot import GLYPHS
from guildwatch.ui._ticking import TICK_INTERVAL

if TYPE_CHECKING:
    from datetime import datetime

    from textual.app import App, ComposeResult

    from guildwatch.latency import LatencyHistory
    from guildwatch.store import (
        BotOverview,
        BotStatus,
        Clock,
        GuildSnapshot,
        HistoryEntry,
        StatusStore,
    )
    from guildwatch.ui._engine import EngineLike

RETRYABLE = ("error", "disconnected")
"""Connection states a manual retry acts on (the engine's own test for ``retry(None)``)."""

NOTHING_TO_RETRY_TIMEOUT = 3.0
"""Seconds the "nothing to retry" answer stays."""


def say_nothing_to_retry(app: App[None]) -> None:
    """The answer to r or R when no stream is down. Shown at any size, unlike the store's
    toasts: the operator just asked, and it is gone in seconds."""
    app.notify("Nothing to retry: no stream is down.", timeout=NOTHING_TO_RETRY_TIMEOUT)


_WRAPPED = ("Error ", "Warning ", "Bot says ", "Last said ")
"""Fact lines shown in full, wrapped, rather than cut at the screen's edge."""

_TEXT_CELLS = 200
"""Server text (names, versions, errors) is cut here; the screen then ellipsizes per line."""


def exact(moment: datetime) -> str:
    """A time to the second, in UTC, as the operator would quote it in an incident."""
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def facts(snapshot: GuildSnapshot, now: datetime) -> list[str]:
    """The detail view's "label  value" lines for one snapshot; server text made safe."""
    lines = [f"Guild id    {safe(snapshot.guild_id, 100)}"]
    if snapshot.name:
        lines.append(f"Name        {safe(snapshot.name, _TEXT_CELLS)}")
    source = f" (status via {snapshot.source})" if snapshot.source else ""
    lines.append(f"Connection  {snapshot.connection}{source}")
    status = snapshot.status
    if status is None:
        lines.append("Bot         no status yet")
    else:
        version = f" · v{safe(status.version, 60)}" if status.version else ""
        lines.append(f"Bot         {'online' if status.healthy else 'offline'}{version}")
        if status.last_heartbeat is None:
            lines.append("Heartbeat   never")
        else:
            ago = format_distance(status.last_heartbeat, now)
            lines.append(f"Heartbeat   {exact(status.last_heartbeat)} ({ago} ago)")
        lines.extend(vitals_facts(snapshot, now))
    if snapshot.received_at is not None:
        via = "polled" if snapshot.source == "poll" else "received"
        lines.append(f"Updated     {exact(snapshot.received_at)} ({via})")
    if snapshot.error is not None:
        lines.append(f"Error       {safe(snapshot.error.message, _TEXT_CELLS)}")
    if snapshot.warning is not None:
        lines.append(f"Warning     {safe(snapshot.warning.message, _TEXT_CELLS)}")
    lines.append(f"Backoff     {backoff(snapshot, now)}")
    return lines


def vitals_facts(snapshot: GuildSnapshot, now: datetime) -> list[str]:
    """Latency, shard, the bot's word and its start time, each only when reported."""
    status = snapshot.status
    if status is None:
        return []
    lines = []
    if status.latency_ms is not None:
        latency = f"Latency     {format_latency(status.latency_ms)} (gateway)"
        if snapshot.latency_slow:
            latency += f" · over the threshold for the last {WINDOW_SECONDS:g} s"
        lines.append(latency)
    if status.shard is not None:
        link = "connected" if status.shard.connected else "disconnected: Degraded"
        lines.append(f"Shard       {status.shard.id} of {status.shard.total} · {link}")
    elif (reason := degraded_reason(snapshot)) and status.latency_ms is None:
        lines.append(f"Degraded    {reason}")
    if status.state not in (None, "up") or status.message:
        word = status.state or "up"
        said = STATE_WORDS.get(word, "").lower() or safe(word, 32)
        if status.bot_state == "degraded" and word != "degraded":
            said += " (a word this version does not know: counted as degraded)"
        if status.message:
            said += f" · {safe(status.message, _TEXT_CELLS)}"
        label = "Bot says    " if status.healthy else "Last said   "
        lines.append(label + said)
    if status.started_at is not None:
        lines.append(f"Started     {exact(status.started_at)} (uptime {uptime(status, now)})")
    return lines


def uptime(status: BotStatus | BotOverview, now: datetime) -> str:
    """How long the bot's process has been up, from ``startedAt``: "about 2 hours"."""
    if status.started_at is None:
        return "not reported"
    if status.started_at > now:
        return "not known (its start time is in the future)"
    return format_distance(status.started_at, now)


def latency_lines(history: LatencyHistory) -> list[str]:
    """ "Latency 1h  min 38 ms · median 42 ms · p95 61 ms (120 samples)", or nothing."""
    stats = history.stats()
    if stats is None:
        return []
    numbers = " · ".join(
        f"{name} {format_latency(value)}"
        for name, value in (("min", stats.minimum), ("median", stats.median), ("p95", stats.p95))
    )
    samples = "1 sample" if stats.samples == 1 else f"{stats.samples} samples"
    return [f"Latency 1h  {numbers} ({samples})"]


def backoff(snapshot: GuildSnapshot, now: datetime) -> str:
    """ "attempt 2 · next retry in 4 s (14:00:04 UTC)", or why there is none."""
    if snapshot.connection == "connected":
        return "none (connected)"
    attempt = f"attempt {snapshot.attempt}" if snapshot.attempt else "no failed attempt yet"
    if snapshot.connection == "error":
        return f"{attempt} · gave up: press r to retry"
    if snapshot.next_retry_at is None:
        return attempt
    seconds = max(0, math.ceil((snapshot.next_retry_at - now).total_seconds()))
    return f"{attempt} · next retry in {seconds} s ({exact(snapshot.next_retry_at)})"


TIMELINE_GLYPHS: dict[TimelineState, str] = {
    "online": "█",
    "offline": "▁",
    "lost": "▒",
    "unknown": ".",
}
"""One glyph per state, different in shape, so the timeline reads without colour."""

TIMELINE_LEGEND = "█ online  ▁ offline  ▒ connection lost  . unknown / not watching"

_BUCKET_CHOICES = (60, 30, 20, 12, 6)
"""Slices of the hour: one per 1, 2, 3, 5 or 10 minutes, the finest that fits the width."""


def uptime_line(entries: tuple[HistoryEntry, ...], now: datetime) -> str:
    """ "99.2 % online since 13:00:00 UTC · 3 outages" from the store's history."""
    outages = outage_count(entries)
    counted = f"{outages} outage" if outages == 1 else f"{outages} outages"
    percent = uptime_percent(entries, now)
    if percent is None or not entries:
        return f"not known yet · {counted}"
    return f"{percent:.1f} % online since {entries[0].at:%H:%M:%S} UTC · {counted}"


def timeline_lines(entries: tuple[HistoryEntry, ...], now: datetime, width: int) -> list[str]:
    """The last hour as one row of glyphs, its time axis, and the legend."""
    buckets = next((b for b in _BUCKET_CHOICES if b <= width - 12), _BUCKET_CHOICES[-1])
    row = "".join(TIMELINE_GLYPHS[state] for state in timeline(entries, now, buckets=buckets))
    minutes = 60 // buckets
    start = now - TIMELINE_WINDOW
    return [
        f"Last hour   {row}",
        f"            {start:%H:%M} → {now:%H:%M} UTC, 1 mark = {minutes} min",
        f"            {TIMELINE_LEGEND}",
    ]


def history_lines(entries: tuple[HistoryEntry, ...]) -> list[str]:
    """Every recorded change, newest first, with exact times; a new version is a deploy."""
    lines = []
    previous: list[str | None] = [None, *(entry.version for entry in entries)]
    for entry, before in reversed(list(zip(entries, previous, strict=False))):
        version = f"v{safe(entry.version, 40)}" if entry.version else ""
        line = f"{exact(entry.at)}  {entry.connection:<12} {entry.health:<8} {version}"
        if before is not None and entry.version is not None and entry.version != before:
            line += f"  deploy (was v{safe(before, 40)})"
        lines.append(line.rstrip())
    return lines


class GuildDetail(Screen[None]):
    """One guild in full: state, exact times, error, backoff and its whole history.

    Follows the store while open (the app forwards each wake-up for this guild) and re-reads
    the clock once a second, repainting only when the text changed.

    Args:
        store: Where the snapshot and the history are read.
        guild_id: The guild to show.
        engine: ``r`` here retries this guild.
        clock: Source of "now" for countdowns and "ago".
    """

    DEFAULT_CSS = """
    GuildDetail VerticalScroll {
        padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    GuildDetail Static {
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    GuildDetail #title {
        text-style: bold;
        margin-bottom: 1;
    }
    GuildDetail .heading {
        text-style: bold;
        margin-top: 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close"),
        Binding("r", "retry", "Retry"),
    ]

    def __init__(self, store: StatusStore, guild_id: str, engine: EngineLike, clock: Clock) -> None:
        super().__init__()
        self.store = store
        self.guild_id = guild_id
        """The guild shown."""
        self._engine = engine
        self._clock = clock
        self._shown: dict[str, str] = {}
        self._spark_data: list[float] = []

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="title", markup=False)
            yield Static(id="facts", markup=False)
            yield Static(id="timeline", markup=False)
            yield Static("Latency, last hour (worst per 5 s)", id="spark-title", markup=False)
            yield Sparkline([], id="sparkline")
            yield Static(id="shards", markup=False)
            yield Static("History (newest first)", classes="heading", markup=False)
            yield Static(id="history", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.refresh_from_store()
        self.set_interval(TICK_INTERVAL, self.refresh_from_store)

    def texts(self) -> dict[str, str]:
        """What each part of the screen says now (the tests read this too)."""
        snapshot = self.store.get(self.guild_id)
        now = self._clock()
        kind = status_kind(snapshot)
        title = f"{GLYPHS[kind]} {headline(snapshot, now)} · {safe(snapshot.label, 60)}"
        entries = self.store.history(self.guild_id)
        lines = [*facts(snapshot, now), *latency_lines(self.store.latency(self.guild_id))]
        lines.append(f"Uptime      {uptime_line(entries, now)}")
        # The screen ellipsizes every line to its width; the error and the warning are the
        # lines read in full (the list had to cut them), so those wrap under their value.
        width = max(20, self.size.width - 3)  # padding and the scrollbar
        wrapped = [
            part
            for line in lines
            for part in (
                textwrap.wrap(line, width, subsequent_indent=" " * 12)
                if line.startswith(_WRAPPED)
                else [line]
            )
        ]
        return {
            "title": title,
            "facts": "\n".join(wrapped),
            "timeline": "\n".join(timeline_lines(entries, now, self.size.width - 2)),
            "history": "\n".join(history_lines(entries)),
            "shards": "\n".join(self._shard_lines(snapshot)),
        }

    def _shard_lines(self, snapshot: GuildSnapshot) -> list[str]:
        # The whole bot's shards, when a bot watcher has them: is it this shard or all?
        bot = self.store.bot.status
        if bot is None or not bot.shards:
            return []
        width = max(20, self.size.width - 3)
        grid = shard_grid(sorted(bot.shards), width, self.store.latency_warn)
        mine = snapshot.status.shard.id if snapshot.status and snapshot.status.shard else None
        title = "Shards" + (f" (this guild: {mine})" if mine is not None else "")
        return [title, *grid, SHARD_LEGEND]

    def refresh_from_store(self) -> None:
        """Re-read the guild and the clock; update only the parts whose text changed."""
        for part, text in self.texts().items():
            if self._shown.get(part) != text:
                self._shown[part] = text
                self.query_one(f"#{part}", Static).update(Content(text))
        data = self.store.latency(self.guild_id).hour()
        sparkline = self.query_one(Sparkline)
        if data != self._spark_data:
            self._spark_data = data
            sparkline.data = data
            # One cell per sample until the hour fills the width (then the worst per cell):
            # a Sparkline stretches a few samples over the whole line, which reads as an hour.
            sparkline.styles.width = min(len(data), max(1, self.size.width - 3)) or 1
        has_data = bool(data)
        self.query_one("#spark-title").display = has_data
        sparkline.display = has_data

    def action_close(self) -> None:
        """Back to the list."""
        self.dismiss()

    def action_retry(self) -> None:
        """Retry this guild now."""
        self._engine.retry(self.guild_id)
        if self.store.get(self.guild_id).connection not in RETRYABLE:
            say_nothing_to_retry(self.app)
