"""Headless output: the status store as lines, for scripts, logs, cron and monitoring systems.

Two views of the same :class:`StatusStore` the screen shows, with the screen's words
(``display.status_word`` and ``display.last_seen``):

- :func:`watch` prints one line per change of a guild's state until cancelled;
- :func:`once` waits (bounded) for each guild's first definite status, prints it, and returns a
  monitoring-plugin exit code: 0 online, 1 warning (Degraded, maintenance, a stale answer),
  2 offline, 3 unknown; the worst wins. A human line ends in Nagios performance data
  (``| latency=42ms;500;1000``) when the bot reports a latency.

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
from guildwatch.store import BotSnapshot, GuildSnapshot, Problem, StatusStore

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
    if kind in ("online", "degraded", "maintenance"):
        return "online"  # the bot is up; ``state`` says how well (the schema's values stay)
    if kind == "offline":
        return kind
    return "unknown"


def state_word(snapshot: GuildSnapshot) -> str | None:
    """``state`` in JSON: the judged state of an up bot (``up``, ``degraded``, ``starting``,
    ``maintenance``), None while the bot is not known to be up."""
    kind = display.status_kind(snapshot)
    if kind == "degraded" or kind == "maintenance":
        return kind
    if kind == "online" and snapshot.status is not None:
        return "starting" if snapshot.status.bot_state == "starting" else "up"
    return None


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
    shard = status.shard if status else None
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
        # Added with the bot vitals (add fields, never rename): the latest reported values.
        "latencyMs": status.latency_ms if status else None,
        "shard": None
        if shard is None
        else {"id": shard.id, "count": shard.total, "connected": shard.connected},
        "state": state_word(snapshot),
        "message": status.message if status else None,
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
        display.headline(snapshot, now),
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
    # Not the latency either: a bot whose latency jitters at every heartbeat must not flood
    # a log; the line printed for another change carries the latest latency. A latency
    # judged too high is a change of state (``status_kind`` says Degraded).
    status = snapshot.status
    return (
        snapshot.name,
        snapshot.connection,
        display.status_kind(snapshot),
        status.healthy if status else None,
        status.version if status else None,
        status.shard if status else None,
        status.state if status else None,
        status.message if status else None,
        snapshot.source,
        snapshot.error,
        snapshot.warning,
    )


def bot_record(bot: BotSnapshot, now: datetime) -> dict[str, Any]:
    """The bot as a whole, one JSON object (``"type": "bot"``; guild lines have no type)."""
    status = bot.status
    assert status is not None
    return {
        "time": rfc3339(now),
        "type": "bot",
        "connection": bot.connection,
        "healthy": status.healthy,
        "version": status.version,
        "state": status.state,
        "message": status.message,
        "startedAt": rfc3339(status.started_at) if status.started_at else None,
        "lastHeartbeat": rfc3339(status.last_heartbeat) if status.last_heartbeat else None,
        "guildCount": status.guild_count,
        "shardCount": status.shard_count,
        "shards": [
            {"id": s.id, "connected": s.connected, "latencyMs": s.latency_ms, "guilds": s.guilds}
            for s in status.shards
        ],
        "source": bot.source,
        "warning": _problem(bot.warning),
    }


def _bot_key(bot: BotSnapshot) -> tuple[object, ...] | None:
    # A change of the bot's state, not of its latencies or heartbeat times: None while the
    # server has not (or never will have) a bot status.
    status = bot.status
    if status is None or bot.availability != "available":
        return None
    if status.last_heartbeat is None and not status.shards:
        return None  # the reference server before any bot heartbeat: nothing reported yet
    shards = tuple((s.id, s.connected, s.guilds) for s in status.shards)
    return (
        bot.connection == "connected",
        status.healthy,
        status.version,
        status.state,
        status.message,
        status.started_at,
        status.guild_count,
        status.shard_count,
        shards,
        bot.warning,
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

    async def follow_bot() -> None:
        # The bot as a whole, one line per change of its state (JSON only: a log of guilds
        # stays a log of guilds). The line carries the latest latencies.
        shown_bot: tuple[object, ...] | None = None
        bot_changes = store.subscribe_bot(max_rate=_MAX_RATE)
        try:
            async for _ in bot_changes:
                key = _bot_key(store.bot)
                if key is not None and key != shown_bot:
                    shown_bot = key
                    record = bot_record(store.bot, store.clock())
                    _emit(out, json.dumps(record, ensure_ascii=True, separators=(", ", ": ")))
        finally:
            bot_changes.close()

    bot_task = asyncio.create_task(follow_bot()) if json_lines else None
    try:
        show(store.guild_ids)
        async for changed in subscription:
            show(changed)
    finally:
        subscription.close()
        if bot_task is not None:
            bot_task.cancel()
            await asyncio.gather(bot_task, return_exceptions=True)


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

    Warning means the bot is up but not well (Degraded, or in maintenance), or the answer is
    less than live: it came from a poll, the stream dropped after it (stale), or the engine
    flagged something (e.g. clock skew).
    """
    kind = display.status_kind(snapshot)
    if kind == "offline":
        return CRITICAL
    if kind in ("degraded", "maintenance"):
        return WARNING
    if kind == "online":
        return WARNING if snapshot.source == "poll" or snapshot.warning else OK
    status = snapshot.status
    if snapshot.connection == "disconnected" and status is not None:
        return WARNING if status.healthy else CRITICAL
    return UNKNOWN


def performance_data(snapshot: GuildSnapshot, warn_ms: float) -> str:
    """Nagios performance data for the gateway latency: ``latency=42ms;500;1000``.

    Warning at ``--latency-warn``, critical at twice it; empty when the bot is not known to be
    up or reports no latency (a stale number would graph as live).
    """
    status = snapshot.status
    if status is None or status.latency_ms is None or verdict(snapshot) != "online":
        return ""
    return f"latency={status.latency_ms:.0f}ms;{warn_ms:g};{2 * warn_ms:g}"


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
        line = format_line(snapshot, now, json_lines=json_lines, silences=silences)
        if not json_lines and (perf := performance_data(snapshot, store.latency_warn)):
            line += f" | {perf}"
        _emit(out, line)
        codes.append(exit_code(snapshot))
    return max(codes)
