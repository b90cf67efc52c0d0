"""The status model: guilds, bot heartbeats, the offline threshold and the event ring.

All of it runs on the server's event loop, so it needs no locks. Every change of a guild's
status object becomes one :class:`Event` with an id from a single counter that only grows; the
event goes into the guild's bounded ring (for ``Last-Event-ID`` replay) and to every open stream
of that guild through a bounded :class:`Subscriber`. Going offline is pushed by a timer per
guild the moment the threshold passes, not discovered on the next request.

An event is emitted only when the serialised status changes. ``lastHeartbeat`` has whole-second
precision (as docs/protocol.md's example), so a bot that posts many heartbeats a second costs each
stream at most one event a second; latency is rounded to whole milliseconds for the same reason.

The bot as a whole (``/api/v1/bot/status``) is one more channel with the same ring, subscribers
and offline timer as a guild, under :data:`BOT_KEY`, which no guild id can equal: the stream
machinery serves it unchanged.
"""

from __future__ import annotations

import asyncio
import bisect
import json
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, NamedTuple, NotRequired, TypedDict

from guildwatch.server._vitals import NO_VITALS, BotReport, Shard, Vitals, rfc3339

BOT_KEY = "@bot"
"""The bot-level channel's key: ``@`` is outside the guild id alphabet, so it never collides."""

SHARED_KEY = "@shared"
"""The key of a shared stream's inbox (every guild on one stream); never a guild id either."""


class StatusJSON(TypedDict):
    """The status object of docs/protocol.md, exactly as it goes on the wire.

    The vitals are present only when the bot reported them, so a server whose bot sends none
    answers exactly the three original fields.
    """

    healthy: bool
    lastHeartbeat: str | None
    version: str | None
    latencyMs: NotRequired[int]
    shard: NotRequired[dict[str, object]]
    state: NotRequired[str]
    message: NotRequired[str]
    startedAt: NotRequired[str]


class Event(NamedTuple):
    """One status change of one guild (a named tuple: cheaper to build, 100,000 at a time)."""

    id: int
    guild_id: str
    data: str
    """The status as compact JSON, serialised once for every stream."""


class GuildRecord(NamedTuple):
    """What SQLite keeps per guild (a named tuple: a flush after a bot heartbeat builds 100,000)."""

    guild_id: str
    name: str | None
    last_heartbeat: datetime | None
    version: str | None
    vitals: Vitals | None = None


_EVENT_ID = attrgetter("id")


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
        self.last_id = 0
        """The newest event id handed to this stream (queued or sent first)."""

    def push(self, event: Event) -> None:
        """Queue an event for this stream, or close it if it is too far behind."""
        if self.closed_reason is not None:
            return
        if len(self._pending) >= self._max_pending:
            self.close("overflow")
            return
        self._pending.append(event)
        self.last_id = max(self.last_id, event.id)
        self._wakeup.set()

    def close(self, reason: str) -> None:
        """End the stream after what was already handed out."""
        if self.closed_reason is None:
            self.closed_reason = reason
        self._pending.clear()
        self._wakeup.set()

    @property
    def pending(self) -> int:
        """Events queued and not yet taken by the stream."""
        return len(self._pending)

    @property
    def max_pending(self) -> int:
        """The queue's bound: one more event than this closes the stream (``overflow``)."""
        return self._max_pending

    async def next_batch(self) -> list[Event]:
        """Wait for events; an empty list means the stream is closed."""
        while not self._pending and self.closed_reason is None:
            await self._wakeup.wait()
            self._wakeup.clear()
        batch = list(self._pending)
        self._pending.clear()
        return batch


class Gone(NamedTuple):
    """A shared stream no longer carries a guild (``event: gone`` of docs/protocol.md)."""

    guild_id: str
    reason: str
    """``not_found`` or ``forbidden``."""
    message: str


GuildFilter = Callable[[str], bool]
"""Which guild ids a shared stream carries (the token's grant, a ``?guild=`` subset)."""


class SharedSubscriber(Subscriber):
    """The inbox of one shared stream (every guild on one stream): events of the guilds it
    carries, plus the ``gone`` notices of guilds it stopped carrying.

    The bound is ``queue_size`` plus the number of known guilds, grown as guilds appear (the
    store calls :meth:`grow`): one bot heartbeat emits one event for each of its guilds at once,
    100,000 in one loop callback, and a reader that keeps up must live through a whole round.
    A reader more than a round plus ``queue_size`` behind is dropped, so the memory per stream
    stays one pointer per guild and event at most.
    """

    def __init__(self, carries: GuildFilter, max_pending: int) -> None:
        super().__init__(SHARED_KEY, max_pending)
        self._carries = carries
        self.dropped: set[str] = set()
        """Guilds this stream stopped carrying mid-stream (a ``gone`` was queued for each)."""
        self._gone: list[Gone] = []

    def carries(self, guild_id: str) -> bool:
        """Whether this stream carries the guild now."""
        return guild_id not in self.dropped and self._carries(guild_id)

    def push(self, event: Event) -> None:
        if self.carries(event.guild_id):
            super().push(event)

    def grow(self, extra: int) -> None:
        """Raise the bound by ``extra`` guilds (new guilds became known)."""
        self._max_pending += extra

    def drop_guild(self, gone: Gone) -> None:
        """Stop carrying a guild and queue its ``gone`` notice (no-op if not carried)."""
        if self.closed_reason is None and self.carries(gone.guild_id):
            self.dropped.add(gone.guild_id)
            self._gone.append(gone)
            self._wakeup.set()

    async def take(self, limit: int) -> tuple[list[Gone], list[Event]]:
        """Wait for something to send: every queued ``gone``, then at most ``limit`` events
        (the rest stays queued, so the queue is the one buffer). Both empty: closed."""
        while not self._pending and not self._gone and self.closed_reason is None:
            await self._wakeup.wait()
            self._wakeup.clear()
        if self.closed_reason is not None:
            return [], []
        gone, self._gone = self._gone, []
        pending = self._pending
        events = [pending.popleft() for _ in range(min(limit, len(pending)))]
        return gone, events


class SharedStart(NamedTuple):
    """What a store hands a new shared stream: its inbox, the first part, the carried count."""

    subscriber: SharedSubscriber
    first: list[Event]
    """The current status of every carried guild in id order, or the events after a known
    ``Last-Event-ID`` in order (the inbox may hold some of them again: skip sent ids)."""
    carried: int
    """How many guilds the stream carries (``event: ready``'s ``guilds``)."""
    resumed: bool = False
    """``first`` replays the events after a known ``Last-Event-ID`` (``ready``'s ``resumed``);
    False: it is the current status of every carried guild."""


class _Channel:
    """What a stream follows: a status, its event ring, open streams and the offline timer."""

    __slots__ = ("batch", "guild_id", "healthy", "last_heartbeat", "ring", "subscribers", "timer")

    def __init__(self, guild_id: str, ring_size: int) -> None:
        self.batch: _Batch | None = None
        """The bot heartbeat whose shared offline timer covers this channel, if any."""
        self.guild_id = guild_id
        self.last_heartbeat: datetime | None = None
        self.healthy = False
        self.ring: deque[Event] = deque(maxlen=ring_size)
        self.subscribers: set[Subscriber] = set()
        self.timer: asyncio.TimerHandle | None = None

    def serialise(self) -> str:
        raise NotImplementedError


class _Batch:
    """The guilds of one bot heartbeat, which share one offline timer.

    100,000 timers cost seconds to arm; one timer per heartbeat costs nothing. A guild that
    heartbeats again later points at its newer batch (or its own timer), so an older batch
    skips it when it fires.
    """

    __slots__ = ("guilds", "timer")

    def __init__(self, guilds: list[_Guild]) -> None:
        self.guilds = guilds
        self.timer: asyncio.TimerHandle | None = None


class _Guild(_Channel):
    __slots__ = ("name", "version", "vitals")

    def __init__(self, guild_id: str, name: str | None, ring_size: int) -> None:
        super().__init__(guild_id, ring_size)
        self.name = name
        self.version: str | None = None
        self.vitals = NO_VITALS

    def status(self) -> StatusJSON:
        status: StatusJSON = {
            "healthy": self.healthy,
            "lastHeartbeat": rfc3339(self.last_heartbeat) if self.last_heartbeat else None,
            "version": self.version,
        }
        if self.vitals is not NO_VITALS:
            status.update(self.vitals.as_json())  # type: ignore[typeddict-item]
        return status

    def serialise(self) -> str:
        return json.dumps(self.status(), separators=(",", ":"))


class _ShardState:
    """One shard as the bot-level status keeps it between heartbeats."""

    __slots__ = ("connected", "guilds", "id", "last_ack", "latency_ms")

    def __init__(self, shard_id: int) -> None:
        self.id = shard_id
        self.connected = False
        self.latency_ms: int | None = None
        self.guilds = 0
        self.last_ack: datetime | None = None


class _Bot(_Channel):
    """The bot as a whole, filled from ``POST /api/v1/bot/heartbeat``."""

    __slots__ = (
        "guild_count",
        "message",
        "shard_count",
        "shards",
        "started_at",
        "state",
        "version",
    )

    def __init__(self, ring_size: int) -> None:
        super().__init__(BOT_KEY, ring_size)
        self.version: str | None = None
        self.started_at: datetime | None = None
        self.state: str | None = None
        self.message: str | None = None
        self.guild_count = 0
        self.shard_count = 0
        self.shards: list[_ShardState] = []

    def apply(self, report: BotReport, now: datetime) -> None:
        """Take in a bot heartbeat received at ``now`` (shards keep their last ack)."""
        counts = Counter(report.guilds.values())
        known = {shard.id: shard for shard in self.shards}
        shards = []
        for reported in report.shards:
            shard = known.get(reported.id) or _ShardState(reported.id)
            shard.connected = reported.connected
            shard.latency_ms = reported.latency_ms
            shard.guilds = counts.get(reported.id, 0)
            if reported.connected:
                shard.last_ack = now
            shards.append(shard)
        self.shards = shards
        self.shard_count = report.shard_count
        self.guild_count = len(report.guilds)
        self.version = report.version
        self.started_at = report.started_at
        self.state = report.state
        self.message = report.message
        self.last_heartbeat = now
        self.healthy = True

    def status(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "lastHeartbeat": rfc3339(self.last_heartbeat) if self.last_heartbeat else None,
            "version": self.version,
            "startedAt": rfc3339(self.started_at) if self.started_at else None,
            "state": self.state,
            "message": self.message,
            "guildCount": self.guild_count,
            "shardCount": self.shard_count,
            "shards": [
                {
                    "id": shard.id,
                    "connected": shard.connected,
                    "latencyMs": shard.latency_ms,
                    "guilds": shard.guilds,
                    "lastAck": rfc3339(shard.last_ack) if shard.last_ack else None,
                }
                for shard in self.shards
            ],
        }

    def serialise(self) -> str:
        return json.dumps(self.status(), separators=(",", ":"))

    def record(self) -> dict[str, Any]:
        """What SQLite keeps of the bot (the status plus the exact times)."""
        status = self.status()
        status["lastHeartbeat"] = self.last_heartbeat.isoformat() if self.last_heartbeat else None
        return status

    def restore(self, record: dict[str, Any]) -> None:
        """Read back :meth:`record`; a damaged record is ignored field by field."""

        def moment(value: object) -> datetime | None:
            try:
                return datetime.fromisoformat(value) if isinstance(value, str) else None
            except ValueError:
                return None

        self.last_heartbeat = moment(record.get("lastHeartbeat"))
        self.started_at = moment(record.get("startedAt"))
        for name in ("version", "state", "message"):
            value = record.get(name)
            setattr(self, name, value if isinstance(value, str) else None)
        count = record.get("shardCount")
        self.shard_count = count if type(count) is int else 0
        guilds = record.get("guildCount")
        self.guild_count = guilds if type(guilds) is int else 0
        self.shards = []
        for raw in record.get("shards") or ():
            if not isinstance(raw, dict) or type(raw.get("id")) is not int:
                continue
            shard = _ShardState(raw["id"])
            shard.connected = raw.get("connected") is True
            latency = raw.get("latencyMs")
            shard.latency_ms = latency if type(latency) is int else None
            count = raw.get("guilds")
            shard.guilds = count if type(count) is int else 0
            shard.last_ack = moment(raw.get("lastAck"))
            self.shards.append(shard)


BotStatus = _Bot
"""The bot-level status as an object (the Redis store rebuilds it per bot heartbeat)."""


def shard_statuses(report: BotReport, beat: str) -> dict[int, tuple[Vitals, str]]:
    """Per shard of a bot heartbeat: the vitals its guilds get and their status as JSON.

    Every guild on one shard says the same thing, so the status is serialised once per shard.
    """
    per_shard: dict[int, tuple[Vitals, str]] = {}
    for reported in report.shards:
        state = report.state
        if not reported.connected and state not in ("maintenance", "starting"):
            state = "degraded"
        vitals = Vitals(
            latency_ms=reported.latency_ms,
            shard=Shard(reported.id, report.shard_count, reported.connected),
            state=state,
            message=report.message,
            started_at=report.started_at,
        )
        status: dict[str, object] = {
            "healthy": True,
            "lastHeartbeat": beat,
            "version": report.version,
            **vitals.as_json(),
        }
        per_shard[reported.id] = (vitals, json.dumps(status, separators=(",", ":")))
    return per_shard


def offline_copy(data: str) -> str:
    """The same status JSON with ``healthy`` false (what the offline timer will emit)."""
    status = json.loads(data)
    status["healthy"] = False
    return json.dumps(status, separators=(",", ":"))


class StatusModel:
    """Guild statuses and their event history.

    Args:
        offline_after: Seconds without a heartbeat before a guild turns unhealthy.
        ring_size: Events kept per guild for replay.
        queue_size: Events buffered per open stream before it is dropped.
        shared_history: Recent guild events kept across guilds, so that a shared stream can
            resume from a ``Last-Event-ID`` (between this many and twice as many are kept).
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
        shared_history: int = 200_000,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._offline_after = offline_after
        self._ring_size = ring_size
        self._queue_size = queue_size
        self._next_id = first_event_id
        self._clock = clock
        self._guilds: dict[str, _Guild] = {}
        self._bot = _Bot(ring_size)
        self._bot_dirty = False
        self._batches: set[_Batch] = set()
        self._dirty: set[str] = set()
        self._shared: set[SharedSubscriber] = set()
        self._history_size = shared_history
        # A list trimmed by halves (amortised O(1) per event) rather than a deque, so that a
        # resume finds its id by bisection.
        self._history: list[Event] = []
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

    def bot_status(self) -> dict[str, Any]:
        """The bot-level status object (docs/protocol.md, ``GET /api/v1/bot/status``)."""
        return self._bot.status()

    def current_event(self, guild_id: str) -> Event:
        """The event that set the current status (every known guild, and the bot, has one)."""
        return self._channel(guild_id).ring[-1]

    def replay(self, guild_id: str, last_event_id: str | None) -> list[Event]:
        """What a stream sends first, given the client's ``Last-Event-ID``.

        A known id yields only the events after it (possibly none); no id, or one that is not
        in the ring (too old, from before a restart, or garbage), yields the current status.
        """
        ring = self._channel(guild_id).ring
        if last_event_id is not None and last_event_id.isdigit():
            wanted = int(last_event_id)
            for index, event in enumerate(ring):
                if event.id == wanted:
                    return list(ring)[index + 1 :]
        return [ring[-1]]

    def current_events(self, carries: GuildFilter) -> list[Event]:
        """The event that set each carried guild's current status, in id order."""
        current = [g.ring[-1] for g in self._guilds.values() if carries(g.guild_id) and g.ring]
        current.sort(key=_EVENT_ID)
        return current

    def history_after(self, last_event_id: str | None) -> list[Event] | None:
        """Every guild event after ``last_event_id``, or None if the id is not known.

        Known: an id from the oldest event kept to the newest one handed out, so that every
        later event is still kept. Anything else (no id, garbage, too old, from before a
        restart, from the future) is None: the stream then starts with the current statuses.
        """
        if last_event_id is None or not last_event_id.isdigit():
            return None
        wanted = int(last_event_id)
        history = self._history
        start = max(0, len(history) - self._history_size)
        if not history or not history[start].id <= wanted <= self.last_event_id:
            return None
        return history[bisect.bisect_right(history, wanted, lo=start, key=_EVENT_ID) :]

    def subscribe_all(self, carries: GuildFilter, last_event_id: str | None) -> SharedStart:
        """Open a shared stream's inbox and read its first part (nothing can land between)."""
        subscriber = SharedSubscriber(carries, self._queue_size + len(self._guilds))
        self._shared.add(subscriber)
        later = self.history_after(last_event_id)
        carried = sum(1 for guild_id in self._guilds if subscriber.carries(guild_id))
        if later is None:
            first = self.current_events(subscriber.carries)
        else:
            first = [event for event in later if subscriber.carries(event.guild_id)]
        return SharedStart(subscriber, first, carried, resumed=later is not None)

    # -- writing -------------------------------------------------------------------------

    def add_guild(
        self,
        guild_id: str,
        *,
        name: str | None = None,
        last_heartbeat: datetime | None = None,
        version: str | None = None,
        vitals: Vitals | None = None,
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
        self._grow_shared(1)
        guild.last_heartbeat = last_heartbeat
        guild.version = version
        guild.vitals = vitals or NO_VITALS
        self._guilds[guild_id] = guild
        if last_heartbeat is not None:
            age = (self._clock() - last_heartbeat).total_seconds()
            remaining = min(self._offline_after - max(age, 0.0), self._offline_after)
            if remaining > 0:
                guild.healthy = True
                self._arm(guild, remaining)
        self._dirty.add(guild_id)
        self._emit(guild)

    def heartbeat(self, guild_id: str, version: str | None, vitals: Vitals | None = None) -> None:
        """A bot reported in: the guild is healthy until ``offline_after`` passes silently.

        An unknown guild is created (a bot may start before anyone configured it). The
        vitals replace the previous ones whole: each heartbeat is the bot's whole word.
        """
        if guild_id not in self._guilds:
            self.add_guild(guild_id)
        guild = self._guilds[guild_id]
        guild.last_heartbeat = self._clock()
        guild.version = version
        guild.vitals = vitals or NO_VITALS
        guild.healthy = True
        self._arm(guild, self._offline_after)
        self._dirty.add(guild_id)
        self._emit(guild)

    def update_bot(self, report: BotReport) -> None:
        """Record the bot-level part of a bot heartbeat (the guilds are :meth:`bot_heartbeat`'s)."""
        bot = self._bot
        bot.apply(report, self._clock())
        self._arm(bot, self._offline_after)
        self._bot_dirty = True
        self._emit(bot)

    def bot_heartbeat(self, report: BotReport) -> int:
        """One heartbeat for the bot and every guild it listed; returns how many guilds.

        Every guild on one shard says the same thing, so the status is serialised once per
        shard, not once per guild: 100,000 guilds cost 100,000 ring appends, not dumps.
        """
        self.update_bot(report)
        now = self._bot.last_heartbeat
        assert now is not None
        beat = rfc3339(now)
        per_shard = shard_statuses(report, beat)
        guilds = self._guilds
        # Before the events: the shared streams' bounds must make room for the new guilds.
        self._grow_shared(sum(1 for guild_id in report.guilds if guild_id not in guilds))
        covered: list[_Guild] = []
        batch = _Batch(covered)
        for guild_id, shard_id in report.guilds.items():
            guild = guilds.get(guild_id)
            if guild is None:
                # No initial "never seen" event: no stream can be open for an unknown guild,
                # and the heartbeat's event follows at once.
                guild = guilds[guild_id] = _Guild(guild_id, None, self._ring_size)
            vitals, data = per_shard[shard_id]
            guild.last_heartbeat = now
            guild.version = report.version
            guild.vitals = vitals
            guild.healthy = True
            if guild.timer is not None:
                guild.timer.cancel()
                guild.timer = None
            guild.batch = batch
            covered.append(guild)
            self._emit(guild, data)
        if covered:
            self._batches.add(batch)
            batch.timer = self._loop.call_later(self._offline_after, self._expire_batch, batch)
        self._dirty.update(report.guilds)
        return len(report.guilds)

    def restore_bot(self, record: dict[str, Any]) -> None:
        """The bot-level status after a restart (healthy until the threshold passes)."""
        bot = self._bot
        bot.restore(record)
        if bot.last_heartbeat is not None:
            age = (self._clock() - bot.last_heartbeat).total_seconds()
            remaining = min(self._offline_after - max(age, 0.0), self._offline_after)
            if remaining > 0:
                bot.healthy = True
                self._arm(bot, remaining)

    def subscribe(self, guild_id: str) -> Subscriber:
        """Open an inbox for a stream of a known guild (or of :data:`BOT_KEY`)."""
        subscriber = Subscriber(guild_id, self._queue_size)
        self._channel(guild_id).subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a stream's inbox (idempotent)."""
        if isinstance(subscriber, SharedSubscriber):
            self._shared.discard(subscriber)
            return
        key = subscriber.guild_id
        channel = self._bot if key == BOT_KEY else self._guilds.get(key)
        if channel is not None:
            channel.subscribers.discard(subscriber)

    def close_streams(self, guild_id: str, reason: str, *, sent_at_least: int = 0) -> None:
        """End the open streams of one guild that sent at least that many events (faults)."""
        guild = self._guilds.get(guild_id)
        for subscriber in list(guild.subscribers if guild else ()):
            if subscriber.sent >= sent_at_least:
                subscriber.close(reason)

    def shutdown(self) -> None:
        """Stop the offline timers and end every open stream."""
        for batch in self._batches:
            if batch.timer is not None:
                batch.timer.cancel()
        self._batches.clear()
        channels: list[_Channel] = [*self._guilds.values(), self._bot]
        for channel in channels:
            if channel.timer is not None:
                channel.timer.cancel()
                channel.timer = None
            for subscriber in list(channel.subscribers):
                subscriber.close("shutdown")
        for shared in list(self._shared):
            shared.close("shutdown")

    def take_dirty(self) -> Callable[[], list[GuildRecord]] | None:
        """Guilds changed since the last call, for the SQLite flush, as a function to call
        (None when none changed).

        The set is taken here, on the loop; the records are built when the function is called,
        in the flush's worker thread, so 100,000 guilds do not stall the loop. A record read
        while a heartbeat lands may mix two heartbeats; the guild is dirty again then, and
        the next flush writes it whole.
        """
        if not self._dirty:
            return None
        dirty, self._dirty = self._dirty, set()
        guilds = self._guilds

        def build() -> list[GuildRecord]:
            records = []
            for guild_id in dirty:
                g = guilds[guild_id]
                vitals = None if g.vitals is NO_VITALS else g.vitals
                records.append(GuildRecord(g.guild_id, g.name, g.last_heartbeat, g.version, vitals))
            return records

        return build

    def take_bot_record(self) -> dict[str, Any] | None:
        """The bot-level status if it changed since the last call, for the SQLite flush."""
        if not self._bot_dirty:
            return None
        self._bot_dirty = False
        return self._bot.record()

    # -- internals -----------------------------------------------------------------------

    def _grow_shared(self, extra: int) -> None:
        if extra:
            for subscriber in self._shared:
                subscriber.grow(extra)

    def _channel(self, key: str) -> _Channel:
        if key != BOT_KEY:
            return self._guilds[key]
        if not self._bot.ring:
            # Lazily, so that a server nobody asks about the bot hands out no id for it.
            self._emit(self._bot)
        return self._bot

    def _arm(self, channel: _Channel, delay: float) -> None:
        if channel.timer is not None:
            channel.timer.cancel()
        channel.batch = None
        channel.timer = self._loop.call_later(delay, self._expire, channel)

    def _expire_batch(self, batch: _Batch) -> None:
        self._batches.discard(batch)
        # Guilds still in the batch mostly say the same: serialise once per distinct status.
        shared: dict[tuple[str | None, datetime | None, int], str] = {}
        for guild in batch.guilds:
            if guild.batch is batch:
                guild.batch = None
                guild.healthy = False
                key = (guild.version, guild.last_heartbeat, id(guild.vitals))
                data = shared.get(key)
                if data is None:
                    data = shared[key] = guild.serialise()
                self._emit(guild, data)

    def _expire(self, channel: _Channel) -> None:
        channel.timer = None
        channel.healthy = False
        self._emit(channel)

    def _emit(self, channel: _Channel, data: str | None = None) -> None:
        """One event if the serialised status changed; ``data`` if the caller has it already."""
        if data is None:
            data = channel.serialise()
        ring = channel.ring
        if ring and ring[-1].data == data:
            return
        event = Event(self._next_id, channel.guild_id, data)
        self._next_id += 1
        self.events_emitted += 1
        ring.append(event)
        for subscriber in list(channel.subscribers):
            subscriber.push(event)
        if channel is self._bot:
            return
        history = self._history
        history.append(event)
        if len(history) > 2 * self._history_size:
            del history[: len(history) - self._history_size]
        for shared in self._shared:  # push never adds or removes inboxes
            shared.push(event)
