"""Headless output: the status store as lines, for scripts, logs, cron and monitoring systems.

Two views of the same :class:`StatusStore` the screen shows, with the screen's words
(``display.status_word`` and ``display.last_seen``):

- :func:`watch` prints one line per change of a guild's state until cancelled;
- :func:`once` waits (bounded) for each guild's first definite status, prints it, and returns a
  monitoring-plugin exit code: 0 online, 1 warning, 2 offline, 3 unknown; the worst wins.

Human lines pass every server string through ``display.safe``. JSON lines are data: they keep
server text as it came, and ``json.dumps`` (ASCII only) escapes every control character, so
neither kind of line can move the cursor or reorder text in a terminal.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from guildwatch import display
from guildwatch.alerts import Silences, alert_state
from guildwatch.durations import UNTIL_BACK
from guildwatch.store import GuildSnapshot, Problem, StatusStore

ExitCode = Literal[0, 1, 2, 3]
OK: ExitCode = 0
WARNING: ExitCode = 1
CRITICAL: ExitCode = 2
UNKNOWN: ExitCode = 3

_MAX_RATE = 20.0
"""Store wake-ups per second: fast enough that no state is shown late, cheap in a burst."""


def rfc3339(moment: datetime) -> str:
    """``2026-11-22T14:03:00Z``, with milliseconds only when the time has a fraction."""
    utc = moment.astimezone(UTC)
    text = utc.isoformat(timespec="milliseconds" if utc.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def verdict(snapshot: GuildSnapshot) -> Literal["online", "offline", "unknown"]:
    """What guildwatch claims about the bot right now: the screen's rule, not memory.

    A stream that is down does not say "online" from its last event; only a connected stream
    or a poll does (``display.status_kind``).
    """
    kind = display.status_kind(snapshot)
    if kind == "online" or kind == "offline":
        return kind
    return "unknown"


def _problem(problem: Problem | None) -> dict[str, str] | None:
    return None if problem is None else {"kind": problem.kind, "message": problem.message}


def silenced_until(silences: Silences | None, guild_id: str) -> str | None:
    """``silencedUntil``: the operator's silence's end (RFC 3339), ``until-back``, or None."""
    entry = silences.get(guild_id) if silences is not None else None
    if entry is None:
        return None
    return UNTIL_BACK if entry.until is None else rfc3339(entry.until)


def json_record(
    snapshot: GuildSnapshot, now: datetime, silences: Silences | None = None
) -> dict[str, Any]:
    """One guild as the stable JSON object documented in the README (add fields, never rename)."""
    status = snapshot.status
    last_heartbeat = status.last_heartbeat if status else None
    return {
        "time": rfc3339(now),
        "guild": snapshot.guild_id,
        "name": snapshot.name,
        "connection": snapshot.connection,
        "status": verdict(snapshot),
        "healthy": status.healthy if status else None,
        "version": status.version if status else None,
        "lastHeartbeat": rfc3339(last_heartbeat) if last_heartbeat else None,
        "lastSeen": display.last_seen(snapshot, now) or None,
        "source": snapshot.source,
        "error": _problem(snapshot.error),
        "warning": _problem(snapshot.warning),
        "silencedUntil": silenced_until(silences, snapshot.guild_id),
    }


def json_line(snapshot: GuildSnapshot, now: datetime, silences: Silences | None = None) -> str:
    """:func:`json_record` as one line of ASCII JSON."""
    record = json_record(snapshot, now, silences)
    return json.dumps(record, ensure_ascii=True, separators=(", ", ": "))


def human_line(snapshot: GuildSnapshot, now: datetime, silences: Silences | None = None) -> str:
    """``2026-11-22T14:03:00Z  My guild (1234)  Offline  Last seen 5 minutes ago · v1.2.3``."""
    label = snapshot.guild_id
    if snapshot.name:
        label = f"{display.safe(snapshot.name, 40)} ({snapshot.guild_id})"
    parts = [
        rfc3339(now),
        label,
        display.status_word(snapshot, now),
        display.last_seen(snapshot, now),
        display.polled_marker(snapshot, now),
    ]
    if not snapshot.stream_enabled:
        parts.append("stream off")
    if snapshot.error is not None:
        parts.append(f"error: {display.safe(snapshot.error.message, 200)}")
    if snapshot.warning is not None:
        parts.append(f"warning: {display.safe(snapshot.warning.message, 200)}")
    until = silenced_until(silences, snapshot.guild_id)
    if until is not None:
        parts.append("silenced until back" if until == UNTIL_BACK else f"silenced until {until}")
    return "  ".join(part for part in parts if part)


def format_line(
    snapshot: GuildSnapshot, now: datetime, *, json_lines: bool, silences: Silences | None = None
) -> str:
    """The line for one guild in the chosen format."""
    if json_lines:
        return json_line(snapshot, now, silences)
    return human_line(snapshot, now, silences)


def _state_key(snapshot: GuildSnapshot) -> tuple[object, ...]:
    # What counts as "a change of a guild's state" for --watch: not every heartbeat
    # (lastHeartbeat moves each time the bot reports in), not the retry countdown.
    status = snapshot.status
    return (
        snapshot.name,
        snapshot.connection,
        display.status_kind(snapshot),
        status.healthy if status else None,
        status.version if status else None,
        snapshot.source,
        snapshot.error,
        snapshot.warning,
    )


def _emit(out: TextIO, line: str) -> None:
    out.write(line + "\n")
    out.flush()  # a pipe or a log file must get each line as it happens


async def watch(
    store: StatusStore, out: TextIO, *, json_lines: bool, silences: Silences | None = None
) -> None:
    """Print each guild's state now and then one line per change, until cancelled."""
    shown: dict[str, tuple[object, ...]] = {}
    subscription = store.subscribe(max_rate=_MAX_RATE)

    def show(changed: frozenset[str] | tuple[str, ...]) -> None:
        now = store.clock()
        for guild_id in store.guild_ids:
            if guild_id not in changed:
                continue
            snapshot = store.get(guild_id)
            if silences is not None:  # an "until back" silence ends when the guild is back
                state = alert_state(snapshot)
                silences.observe(guild_id, None if state is None else state == "online")
            # A silence that ended is part of the guild's state: its line says so.
            key = (*_state_key(snapshot), silenced_until(silences, guild_id))
            if shown.get(guild_id) != key:
                shown[guild_id] = key
                line = format_line(snapshot, now, json_lines=json_lines, silences=silences)
                _emit(out, line)

    try:
        show(store.guild_ids)
        async for changed in subscription:
            show(changed)
    finally:
        subscription.close()


def is_definite(snapshot: GuildSnapshot) -> bool:
    """Whether ``--once`` may stop waiting for this guild.

    A poll answers only if the stream is off or has already failed: the engine polls at once
    while the stream connects, and a fast poll must not turn a healthy stream into a warning.
    """
    if snapshot.connection == "error":
        return True
    if snapshot.connection == "connected":
        return snapshot.status is not None
    if snapshot.source == "poll" and snapshot.status is not None:
        return not snapshot.stream_enabled or snapshot.error is not None
    return False


def exit_code(snapshot: GuildSnapshot) -> ExitCode:
    """The monitoring-plugin code for one guild: 0 online, 1 warning, 2 offline, 3 unknown.

    Warning means the answer is less than live: it came from a poll, the stream dropped after
    it (stale), or the engine flagged something (e.g. clock skew).
    """
    kind = display.status_kind(snapshot)
    if kind == "offline":
        return CRITICAL
    if kind == "online":
        return WARNING if snapshot.source == "poll" or snapshot.warning else OK
    status = snapshot.status
    if snapshot.connection == "disconnected" and status is not None:
        return WARNING if status.healthy else CRITICAL
    return UNKNOWN


async def once(
    store: StatusStore,
    out: TextIO,
    *,
    json_lines: bool,
    wait_seconds: float,
    silences: Silences | None = None,
) -> ExitCode:
    """Wait up to ``wait_seconds`` for every guild to be definite, print one line each.

    Returns:
        The worst (highest) :func:`exit_code` over all guilds.
    """
    subscription = store.subscribe(max_rate=_MAX_RATE)
    try:
        async with asyncio.timeout(wait_seconds):
            while not all(is_definite(snapshot) for snapshot in store.snapshots()):
                await anext(subscription)
    except TimeoutError:
        pass
    finally:
        subscription.close()
    now = store.clock()
    codes: list[ExitCode] = [OK]
    for snapshot in store.snapshots():
        if not is_definite(snapshot) and snapshot.error is None:
            # Say why the answer is not definite: nothing arrived in time.
            problem = Problem("timeout", f"no definite status within {wait_seconds:g} s")
            snapshot = replace(snapshot, error=problem)
        _emit(out, format_line(snapshot, now, json_lines=json_lines, silences=silences))
        codes.append(exit_code(snapshot))
    return max(codes)
