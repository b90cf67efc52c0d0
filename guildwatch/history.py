"""Statistics over a guild's status history: uptime %, outages, a timeline of the last hour.

Pure functions over ``StatusStore.history(guild_id)`` (a bounded ring of
:class:`~guildwatch.store.HistoryEntry`, oldest first) and a "now", so the screen and tests
compute the same figures and nothing here touches Textual or the network.

Each entry holds from its own time until the next entry's time (the last one until "now").
Its :data:`TimelineState` says what the operator could know in that span:

- ``lost``: the connection is in ``error`` (given up; "Connection lost").
- ``online`` / ``offline``: the connection is live (stream, or polls in poll-only mode) and
  the bot's health is known.
- ``unknown``: connecting, reconnecting, or before any status. A stream that is down does not
  vouch for the last health it saw (``display.status_kind`` says the same), so that time
  counts neither for nor against uptime.

"Since start" means since the oldest entry still in the ring: once the ring has dropped old
changes, the figures cover what it still holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from guildwatch.store import HistoryEntry

TimelineState = Literal["online", "offline", "unknown", "lost"]
"""What one span (or one timeline bucket) of a guild's history shows."""

TIMELINE_WINDOW = timedelta(hours=1)
"""The timeline covers this much time, ending at "now"."""

_SEVERITY: dict[TimelineState, int] = {"online": 0, "unknown": 1, "offline": 2, "lost": 3}
"""Worst wins inside a bucket; the order matches the list's sort (error, offline, connecting,
online), so a one-second outage in a minute still shows in that minute."""

_DOWN: frozenset[TimelineState] = frozenset({"offline", "lost"})


def entry_state(entry: HistoryEntry) -> TimelineState:
    """What the operator knew while this entry was current (see the module docstring)."""
    if entry.connection == "error":
        return "lost"
    if entry.connection == "connected":
        return entry.health
    return "unknown"


def uptime_percent(history: Sequence[HistoryEntry], now: datetime) -> float | None:
    """Time online as a percentage of the time with a known health, since start.

    Args:
        history: One guild's history, oldest first.
        now: The end of the last span (the store's clock).

    Returns:
        0.0 to 100.0, or None when no health has been known for any length of time yet (a
        percentage of nothing would read as 0 % or 100 %, and both would be lies).
    """
    online = known = timedelta(0)
    for entry, end in _spans(history, now):
        length = end - entry.at
        if length <= timedelta(0):
            continue
        state = entry_state(entry)
        if state in ("online", "offline"):
            known += length
            if state == "online":
                online += length
    if known <= timedelta(0):
        return None
    return 100.0 * (online / known)


def outage_count(history: Sequence[HistoryEntry]) -> int:
    """Outages since start: each change into ``offline`` or ``lost`` from a known-good state.

    Spans of ``unknown`` (a reconnect) are skipped when deciding where a change came from, so
    offline → reconnecting → offline, or offline → lost, is one outage, not two; and a guild
    found down when watching starts counts as one outage, since it is down now.
    """
    count = 0
    last_known: TimelineState | None = None
    for entry in history:
        state = entry_state(entry)
        if state == "unknown":
            continue
        if state in _DOWN and last_known not in _DOWN:
            count += 1
        last_known = state
    return count


def timeline(
    history: Sequence[HistoryEntry],
    now: datetime,
    *,
    buckets: int = 60,
    window: timedelta = TIMELINE_WINDOW,
) -> list[TimelineState]:
    """The last ``window`` (an hour) as ``buckets`` equal slices, oldest first.

    Each slice shows the worst state that held in it for any length of time (lost, then
    offline, then unknown, then online); a slice no entry reaches (before watching started)
    is ``unknown``. One pass over the entries and buckets, so a thousand guilds redraw
    cheaply.

    Args:
        history: One guild's history, oldest first.
        now: The end of the window (the store's clock).
        buckets: How many slices (the sparkline's width); at least 1.
        window: How much time the slices cover together.

    Raises:
        ValueError: ``buckets`` < 1 or ``window`` not positive (a caller's bug, not input).
    """
    if buckets < 1:
        raise ValueError("buckets must be at least 1")
    if window <= timedelta(0):
        raise ValueError("window must be positive")
    start = now - window
    window_us = _microseconds(window)
    result: list[TimelineState] = ["unknown"] * buckets
    covered = [False] * buckets
    """Whether any span reached this bucket: time before watching started is no evidence."""
    for entry, end in _spans(history, now):
        span_start = max(entry.at, start)
        span_end = min(end, now)
        if span_end <= span_start:
            continue  # zero-length or outside the window
        state = entry_state(entry)
        # Integer microseconds, so a span that ends exactly on a border stays on its left.
        first = _microseconds(span_start - start) * buckets // window_us
        last = (_microseconds(span_end - start) * buckets - 1) // window_us
        for index in range(first, min(last, buckets - 1) + 1):
            if not covered[index] or _SEVERITY[state] > _SEVERITY[result[index]]:
                result[index] = state
            covered[index] = True
    return result


def _spans(history: Sequence[HistoryEntry], now: datetime) -> list[tuple[HistoryEntry, datetime]]:
    """Each entry with the time its span ends (the next entry's time, or ``now``)."""
    if not history:
        return []
    ends = [entry.at for entry in history[1:]]
    ends.append(now)
    return [(entry, max(entry.at, end)) for entry, end in zip(history, ends, strict=True)]


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
