"""The status model: guilds, bot heartbeats, the offline threshold and the event ring.

All of it runs on the server's event loop, so it needs no locks. Every change of a guild's
status object becomes one :class:`Event` with an id from a single counter that only grows; the
event goes into the guild's bounded ring (for ``Last-Event-ID`` replay) and to every open stream
of that guild through a bounded :class:`Subscriber`. Going offline is pushed by a timer per
guild the moment the threshold passes, not discovered on the next request.

An event is emitted only when the serialised status changes. ``lastHeartbeat`` has whole-second
precision (as docs/protocol.md's example), so a bot that posts many heartbeats a second costs each
stream at most one event a second.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypedDict


class StatusJSON(TypedDict):
    """The status object of docs/protocol.md, exactly as it goes on the wire."""

    healthy: bool
    lastHeartbeat: str | None
    version: str | None


@dataclass(frozen=True, slots=True)
class Event:
    """One status change of one guild."""

    id: int
    guild_id: str
    data: str
    """The status as compact JSON, serialised once for every stream."""


@dataclass(frozen=True, slots=True)
class GuildRecord:
    """What SQLite keeps per guild."""

    guild_id: str
    name: str | None
    last_heartbeat: datetime | None
    version: str | None


def rfc3339(moment: datetime) -> str:
    """``2026-11-22T14:03:00Z``: UTC, whole seconds, ``Z`` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_now() -> datetime:
    """The default wall clock."""
    return datetime.now(UTC)


class Subscriber:
    """One open stream's inbox: a bounded queue of events plus a close reason.

    A client that falls ``max_pending`` events behind is closed (``reason = "overflow"``)
    instead of making the server buffer without bound.
    """

    def __init__(self, guild_id: str, max_pending: int) -> None:
        self.guild_id = guild_id
        self._max_pending = max_pending
        self._pending: deque[Event] = deque()
        self._wakeup = asyncio.Event()
        self.closed_reason: str | None = None
        """Why the stream must end (``overflow``, ``fault``, ``shutdown``), or None."""
        self.sent = 0
        """Events the stream has sent so far (kept by the stream, read by faults)."""

    def push(self, event: Event) -> None:
        """Queue an event for this stream, or close it if it is too far behind."""
        if self.closed_reason is not None:
            return
        if len(self._pending) >= self._max_pending:
            self.close("overflow")
            return
        self._pending.append(event)
        self._wakeup.set()

    def close(self, reason: str) -> None:
        """End the stream after what was already handed out."""
        if self.closed_reason is None:
            self.closed_reason = reason
        self._pending.clear()
        self._wakeup.set()

    async def next_batch(self) -> list[Event]:
        """Wait for events; an empty list means the stream is closed."""
        while not self._pending and self.closed_reason is None:
            await self._wakeup.wait()
            self._wakeup.clear()
        batch = list(self._pending)
        self._pending.clear()
        return batch


class _Guild:
    __slots__ = (
        "guild_id",
        "healthy",
        "last_heartbeat",
        "name",
        "ring",
        "subscribers",
        "timer",
        "version",
    )

    def __init__(self, guild_id: str, name: str | None, ring_size: int) -> None:
        self.guild_id = guild_id
        self.name = name
        self.last_heartbeat: datetime | None = None
        self.version: str | None = None
        self.healthy = False
        self.ring: deque[Event] = deque(maxlen=ring_size)
        self.subscribers: set[Subscriber] = set()
        self.timer: asyncio.TimerHandle | None = None

    def status(self) -> StatusJSON:
        return {
            "healthy": self.healthy,
            "lastHeartbeat": rfc3339(self.last_heartbeat) if self.last_heartbeat else None,
            "version": self.version,
        }


class StatusModel:
    """Guild statuses and their event history.

    Args:
        offline_after: Seconds without a heartbeat before a guild turns unhealthy.
        ring_size: Events kept per guild for replay.
        queue_size: Events buffered per open stream before it is dropped.
        first_event_id: Where the id counter starts; the caller makes it larger than any id
            handed out before a restart.
        clock: Wall clock for ``lastHeartbeat`` (timers use the loop's monotonic clock).
    """

    def __init__(
        self,
        *,
        offline_after: float,
        ring_size: int,
        queue_size: int,
        first_event_id: int,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._offline_after = offline_after
        self._ring_size = ring_size
        self._queue_size = queue_size
        self._next_id = first_event_id
        self._clock = clock
        self._guilds: dict[str, _Guild] = {}
        self._dirty: set[str] = set()
        self.events_emitted = 0
        """Events created since start (for figures and tests)."""

    # -- reading -------------------------------------------------------------------------

    @property
    def guild_ids(self) -> list[str]:
        """Known guild ids, in the order they became known."""
        return list(self._guilds)

    @property
    def last_event_id(self) -> int:
        """The id of the newest event (the counter's previous value)."""
        return self._next_id - 1

    def has(self, guild_id: str) -> bool:
        """Whether the guild is known."""
        return guild_id in self._guilds

    def name(self, guild_id: str) -> str | None:
        """The guild's display name, if one is known."""
        return self._guilds[guild_id].name

    def status(self, guild_id: str) -> StatusJSON:
        """The current status object of a known guild."""
        return self._guilds[guild_id].status()

    def current_event(self, guild_id: str) -> Event:
        """The event that set the current status (every known guild has one)."""
        return self._guilds[guild_id].ring[-1]

    def replay(self, guild_id: str, last_event_id: str | None) -> list[Event]:
        """What a stream sends first, given the client's ``Last-Event-ID``.

        A known id yields only the events after it (possibly none); no id, or one that is not
        in the ring (too old, from before a restart, or garbage), yields the current status.
        """
        ring = self._guilds[guild_id].ring
        if last_event_id is not None and last_event_id.isdigit():
            wanted = int(last_event_id)
            for index, event in enumerate(ring):
                if event.id == wanted:
                    return list(ring)[index + 1 :]
        return [ring[-1]]

    # -- writing -------------------------------------------------------------------------

    def add_guild(
        self,
        guild_id: str,
        *,
        name: str | None = None,
        last_heartbeat: datetime | None = None,
        version: str | None = None,
    ) -> None:
        """Serve a guild (idempotent: a known guild only gets a missing name filled in).

        ``last_heartbeat`` restores "last seen" after a restart; if it is recent the guild
        starts healthy and turns offline when the rest of the threshold has passed.
        """
        known = self._guilds.get(guild_id)
        if known is not None:
            if name and not known.name:
                known.name = name
                self._dirty.add(guild_id)
            return
        guild = _Guild(guild_id, name, self._ring_size)
        guild.last_heartbeat = last_heartbeat
        guild.version = version
        self._guilds[guild_id] = guild
        if last_heartbeat is not None:
            age = (self._clock() - last_heartbeat).total_seconds()
            remaining = min(self._offline_after - max(age, 0.0), self._offline_after)
            if remaining > 0:
                guild.healthy = True
                self._arm(guild, remaining)
        self._dirty.add(guild_id)
        self._emit(guild)

    def heartbeat(self, guild_id: str, version: str | None) -> None:
        """A bot reported in: the guild is healthy until ``offline_after`` passes silently.

        An unknown guild is created (a bot may start before anyone configured it).
        """
        if guild_id not in self._guilds:
            self.add_guild(guild_id)
        guild = self._guilds[guild_id]
        guild.last_heartbeat = self._clock()
        guild.version = version
        guild.healthy = True
        self._arm(guild, self._offline_after)
        self._dirty.add(guild_id)
        self._emit(guild)

    def subscribe(self, guild_id: str) -> Subscriber:
        """Open an inbox for a stream of a known guild."""
        subscriber = Subscriber(guild_id, self._queue_size)
        self._guilds[guild_id].subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a stream's inbox (idempotent)."""
        guild = self._guilds.get(subscriber.guild_id)
        if guild is not None:
            guild.subscribers.discard(subscriber)

    def close_streams(self, guild_id: str, reason: str, *, sent_at_least: int = 0) -> None:
        """End the open streams of one guild that sent at least that many events (faults)."""
        guild = self._guilds.get(guild_id)
        for subscriber in list(guild.subscribers if guild else ()):
            if subscriber.sent >= sent_at_least:
                subscriber.close(reason)

    def shutdown(self) -> None:
        """Stop the offline timers and end every open stream."""
        for guild in self._guilds.values():
            if guild.timer is not None:
                guild.timer.cancel()
                guild.timer = None
            for subscriber in list(guild.subscribers):
                subscriber.close("shutdown")

    def take_dirty(self) -> list[GuildRecord]:
        """Guilds changed since the last call, for the SQLite flush."""
        records = [
            GuildRecord(g.guild_id, g.name, g.last_heartbeat, g.version)
            for g in (self._guilds[guild_id] for guild_id in self._dirty)
        ]
        self._dirty.clear()
        return records

    # -- internals -----------------------------------------------------------------------

    def _arm(self, guild: _Guild, delay: float) -> None:
        if guild.timer is not None:
            guild.timer.cancel()
        guild.timer = self._loop.call_later(delay, self._expire, guild)

    def _expire(self, guild: _Guild) -> None:
        guild.timer = None
        guild.healthy = False
        self._emit(guild)

    def _emit(self, guild: _Guild) -> None:
        data = json.dumps(guild.status(), separators=(",", ":"))
        if guild.ring and guild.ring[-1].data == data:
            return
        event = Event(self._next_id, guild.guild_id, data)
        self._next_id += 1
        self.events_emitted += 1
        guild.ring.append(event)
        for subscriber in list(guild.subscribers):
            subscriber.push(event)
