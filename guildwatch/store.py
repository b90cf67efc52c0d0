"""The status store: the single source of truth for every watched guild.

Writers are the engine's stream consumer and poller; readers are the Textual screen and the
headless outputs. Readers never see a half-written state: every write replaces the guild's
frozen :class:`GuildSnapshot` whole. Readers learn about changes through a
:class:`Subscription`, which coalesces bursts (a reader is woken at most ``max_rate`` times a
second) and always ends on the latest state, because it hands out *which* guilds changed and
the reader then reads the current snapshot.

Plain Python and asyncio only: no I/O, no Textual, testable without a network.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, NamedTuple

from guildwatch import defaults
from guildwatch.latency import LatencyHistory

ConnectionState = Literal["connecting", "connected", "disconnected", "error"]
"""The public connection states (docs/protocol.md): down-and-retrying is ``disconnected``."""

Source = Literal["stream", "poll"]
"""Where the shown status came from."""

Health = Literal["online", "offline", "unknown"]
"""The bot's health as last known; ``unknown`` before any valid status."""

Clock = Callable[[], datetime]
"""Returns the current time as an aware UTC datetime; injected so tests can fix it."""


def utc_now() -> datetime:
    """The default :data:`Clock`."""
    return datetime.now(UTC)


BotState = Literal["up", "degraded", "starting", "maintenance"]
"""The bot's own word about itself, as this version understands it (docs/protocol.md)."""

KNOWN_STATES: frozenset[str] = frozenset(("up", "degraded", "starting", "maintenance"))


class Shard(NamedTuple):
    """The gateway shard that holds a guild (``total`` is the protocol's ``count``)."""

    id: int
    total: int
    connected: bool = True


class BotStatus(NamedTuple):
    """One validated status payload, as the server sent it (see ``engine.parse_status``).

    A named tuple, as Textual's geometry types are: one is built per event, and a frozen
    dataclass costs three times as much to build (``bench/throughput.py``). The vitals after
    the first three fields are optional in the protocol; None means not reported.
    """

    healthy: bool
    """The bot is up in this guild."""
    last_heartbeat: datetime | None
    """When the bot last reported in (aware, UTC), or None if the server does not know."""
    version: str | None
    """The bot's version, raw server text: the UI sanitises it before display."""
    latency_ms: float | None = None
    """Gateway latency of the guild's shard, in milliseconds (finite, >= 0)."""
    shard: Shard | None = None
    state: str | None = None
    """The bot's word as sent, raw server text (may be one this version does not know)."""
    message: str | None = None
    """What the bot says about its state, raw server text (at most 200 characters)."""
    started_at: datetime | None = None
    """When the bot's process started (aware, UTC)."""

    @property
    def bot_state(self) -> BotState:
        """:attr:`state` as understood here: absent is ``up``, an unknown word ``degraded``
        (a new word never reads as healthier than it is)."""
        state = self.state
        if state is None:
            return "up"
        return state if state in KNOWN_STATES else "degraded"  # type: ignore[return-value]


class ShardVitals(NamedTuple):
    """One shard in the bot-level status (``GET /api/v1/bot/status``)."""

    id: int
    connected: bool
    latency_ms: float | None
    guilds: int | None
    """Guilds the bot reported on this shard."""
    last_ack: datetime | None
    """The last heartbeat in which this shard was connected."""


class BotOverview(NamedTuple):
    """The bot as a whole, one validated ``bot/status`` object (``engine.parse_bot_status``)."""

    healthy: bool
    last_heartbeat: datetime | None
    version: str | None
    started_at: datetime | None = None
    state: str | None = None
    message: str | None = None
    guild_count: int = 0
    shard_count: int = 0
    shards: tuple[ShardVitals, ...] = ()

    @property
    def bot_state(self) -> BotState:
        """As :attr:`BotStatus.bot_state`: absent is ``up``, an unknown word ``degraded``."""
        state = self.state
        if state is None:
            return "up"
        return state if state in KNOWN_STATES else "degraded"  # type: ignore[return-value]


BotAvailability = Literal["unknown", "available", "absent"]
"""Whether the server reports bot status: ``absent`` after a 404 (an optional endpoint)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """An error or warning with a stable kind and a message for people."""

    kind: str
    """Machine name, e.g. ``auth`` or ``clock_skew`` (see ``errors.ErrorKind``)."""
    message: str
    """Plain words; never contains the token."""


@dataclass(frozen=True, slots=True)
class GuildSnapshot:
    """Everything known about one guild at one moment. Immutable; replaced on every write."""

    guild_id: str
    name: str | None = None
    """Display name from the config or the server's guild list."""
    connection: ConnectionState = "connecting"
    status: BotStatus | None = None
    """The last *valid* status; kept while the connection is down or a payload is bad."""
    source: Source | None = None
    received_at: datetime | None = None
    """When :attr:`status` was received (stream) or fetched (poll)."""
    error: Problem | None = None
    """Why the connection is down or given up, if it is."""
    warning: Problem | None = None
    """Something to flag without giving up, e.g. clock skew or a rejected payload."""
    attempt: int = 0
    """Failed connection attempts in a row (resets after a connection lived long enough)."""
    next_retry_at: datetime | None = None
    """When the next reconnect is due, while waiting for it."""
    stream_enabled: bool = True
    """False when the user turned the stream off (``--no-stream``): polling alone."""
    latency_slow: bool = False
    """The gateway latency stayed over the threshold, judged over a window
    (``latency.LatencyHistory``): one spike or a wobble around the threshold does not set it."""
    latency_shown_ms: float | None = None
    """The latency a row shows: it follows the real one past a dead band, so jitter of a few
    ms does not repaint the row at every heartbeat. None while none is reported."""

    @property
    def label(self) -> str:
        """The name if known, else the id."""
        return self.name or self.guild_id

    @property
    def health(self) -> Health:
        """The bot's health as last known; ``unknown`` before any valid status."""
        if self.status is None:
            return "unknown"
        return "online" if self.status.healthy else "offline"


@dataclass(frozen=True, slots=True)
class BotSnapshot:
    """Everything known about the bot as a whole; replaced whole on every write."""

    connection: ConnectionState = "connecting"
    status: BotOverview | None = None
    """The last valid bot status; kept while the connection is down."""
    availability: BotAvailability = "unknown"
    source: Source | None = None
    received_at: datetime | None = None
    error: Problem | None = None
    warning: Problem | None = None
    attempt: int = 0
    next_retry_at: datetime | None = None


BOT_KEY = "@bot"
"""What a bot subscription yields when the bot entry changed (never a guild id)."""


class HistoryEntry(NamedTuple):
    """One change of a guild's connection state or bot health, for the history view.

    A named tuple for the same reason as :class:`BotStatus`: one per change in a burst.
    """

    at: datetime
    connection: ConnectionState
    health: Health
    version: str | None


_Change = tuple[datetime, ConnectionState, Health, str | None]
"""A :class:`HistoryEntry`'s fields as the store keeps them (see ``StatusStore._history``)."""


@dataclass(slots=True)
class GuildCounters:
    """Running totals for one guild since the store was made, for ``/metrics``.

    Mutable and bumped in place by the store's writers: one integer add per write, so the
    metrics collector pays at scrape time and the event path pays next to nothing.
    """

    events: int = 0
    """Valid statuses received on the stream (rejected payloads are not counted)."""
    polls: int = 0
    """Polls that returned a valid status."""
    reconnects: int = 0
    """Times the guild was connected again after its first connection."""
    connected_once: bool = False


class _Unset(enum.Enum):
    """Sentinel type for "argument not given" where None is a meaningful value."""

    UNSET = enum.auto()


_UNSET = _Unset.UNSET


WAKE_BURST = 2
"""Wake-ups a subscription may spend back to back (see :class:`Subscription`)."""


class Subscription:
    """A reader's view of changes: ``async for changed_ids in subscription``.

    Each iteration yields the set of guild ids that changed since the previous one; the reader
    then reads :meth:`StatusStore.get`. Iterations come at most ``max_rate`` a second (a token
    bucket holding :data:`WAKE_BURST`), so a burst of a thousand writes costs the reader a
    wake-up or two, and the last wake-up always comes after the last write. The bucket lets a
    change right after another one through at once when the reader was quiet before: the
    first event comes a few ms after "connecting", and a plain minimum interval held it back
    for the rest of that interval (~50 ms of start-up to Online).
    """

    def __init__(self, store: StatusStore, max_rate: float) -> None:
        self._store = store
        self._rate = max_rate
        self._changed: set[str] = set()
        self._wakeup = asyncio.Event()
        self._tokens = float(WAKE_BURST)
        self._refilled = time.monotonic()
        self._closed = False

    def _notify(self, guild_id: str) -> None:
        self._changed.add(guild_id)
        self._wakeup.set()

    def _notify_many(self, guild_ids: Iterable[str]) -> None:
        self._changed.update(guild_ids)
        self._wakeup.set()

    def close(self) -> None:
        """Stop receiving changes; a pending ``__anext__`` ends the iteration."""
        self._closed = True
        self._store._unsubscribe(self)
        self._wakeup.set()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> frozenset[str]:
        if self._closed:
            raise StopAsyncIteration
        await self._wakeup.wait()
        now = time.monotonic()
        tokens = min(WAKE_BURST, self._tokens + (now - self._refilled) * self._rate)
        if tokens < 1:
            # Out of wake-ups: let the writes of the next moment gather into this one.
            await asyncio.sleep((1 - tokens) / self._rate)
            now, tokens = time.monotonic(), 1.0
        if self._closed:
            raise StopAsyncIteration
        self._tokens, self._refilled = tokens - 1, now
        self._wakeup.clear()
        changed = frozenset(self._changed)
        self._changed.clear()
        return changed


class StatusStore:
    """Holds one :class:`GuildSnapshot` per guild plus a bounded history of changes.

    Args:
        clock: Source of "now" for ``received_at`` and history times.
        history_size: Changes kept per guild (a ring buffer; the oldest are dropped).
        latency_warn: Milliseconds of gateway latency (the median over a window) past which
            a guild is Degraded.
    """

    def __init__(
        self,
        *,
        clock: Clock = utc_now,
        history_size: int = 1000,
        latency_warn: float = defaults.LATENCY_WARN.value,
    ) -> None:
        self.clock = clock
        self.latency_warn = latency_warn
        self._history_size = history_size
        # Per guild, kept small for 100,000 guilds: history is a plain list trimmed by hand (a
        # bounded deque allocates a 64-slot block, ~620 bytes, for the two or three changes
        # most guilds ever have), and a latency history exists only once a guild reports one.
        self._latency: dict[str, LatencyHistory] = {}
        self._guilds: dict[str, GuildSnapshot] = {}
        self._history: dict[str, list[_Change]] = {}
        """Plain tuples, made :class:`HistoryEntry` on read: the collector stops tracking an
        exact tuple of atoms, never a named tuple, and 10,000 guilds' changes kept as named
        tuples made every full collection scan them (16-21 ms per pass at 80,000)."""
        self._counters: dict[str, GuildCounters] = {}
        self._subscriptions: list[Subscription] = []
        self._bot = BotSnapshot()
        self._bot_subscriptions: list[Subscription] = []

    # -- reading -------------------------------------------------------------------------

    @property
    def guild_count(self) -> int:
        """How many guilds are watched (no tuple of ids built to count them; not ``__len__``,
        which would make an empty store falsy)."""
        return len(self._guilds)

    @property
    def guild_ids(self) -> tuple[str, ...]:
        """Watched guild ids, in the order they were added."""
        return tuple(self._guilds)

    def get(self, guild_id: str) -> GuildSnapshot:
        """The current snapshot of one guild. Raises KeyError for an unknown guild."""
        return self._guilds[guild_id]

    def snapshots(self) -> tuple[GuildSnapshot, ...]:
        """Current snapshots of all guilds, in the order they were added."""
        return tuple(self._guilds.values())

    def snapshots_of(self, guild_ids: Collection[str]) -> list[GuildSnapshot]:
        """The current snapshots of some guilds, in the order they were added.

        For a subscription's wake-up: one pass over the store and no tuple of ids built (a
        scan of 10,000 guilds costs ~0.3 ms, less than sorting a few by their position).
        """
        return [snapshot for guild_id, snapshot in self._guilds.items() if guild_id in guild_ids]

    def history(self, guild_id: str) -> tuple[HistoryEntry, ...]:
        """The recorded changes of one guild, oldest first."""
        return tuple(map(HistoryEntry._make, self._history[guild_id]))

    def latency(self, guild_id: str) -> LatencyHistory:
        """The guild's latency buffer (live: read it, never change it)."""
        self._guilds[guild_id]  # KeyError for an unknown guild, as before
        latency = self._latency.get(guild_id)
        if latency is None:
            latency = self._latency[guild_id] = LatencyHistory()
        return latency

    def counters(self, guild_id: str) -> GuildCounters:
        """The running totals of one guild (live: read them, never change them)."""
        return self._counters[guild_id]

    def subscribe(self, *, max_rate: float = 10.0) -> Subscription:
        """Start receiving change notifications, at most ``max_rate`` wake-ups a second."""
        subscription = Subscription(self, max_rate)
        self._subscriptions.append(subscription)
        return subscription

    @property
    def bot(self) -> BotSnapshot:
        """The bot as a whole (``bot/status``), ``connecting`` until a bot watcher writes."""
        return self._bot

    def subscribe_bot(self, *, max_rate: float = 10.0) -> Subscription:
        """Wake-ups for changes of :attr:`bot` only (each yields ``{BOT_KEY}``)."""
        subscription = Subscription(self, max_rate)
        self._bot_subscriptions.append(subscription)
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
        if subscription in self._bot_subscriptions:
            self._bot_subscriptions.remove(subscription)

    def update_bot(self, **changes: object) -> None:
        """Replace the bot entry with ``changes`` applied (the bot watcher's only write).

        A status sets ``received_at`` from the clock; ``connected`` clears the error and the
        retry countdown, as for a guild.
        """
        if "status" in changes:
            changes.setdefault("received_at", self.clock())
            changes.setdefault("availability", "available")
        if changes.get("connection") == "connected":
            changes.setdefault("error", None)
            changes.setdefault("next_retry_at", None)
        after = dataclasses.replace(self._bot, **changes)  # type: ignore[arg-type]
        if after == self._bot:
            return
        self._bot = after
        for subscription in self._bot_subscriptions:
            subscription._notify(BOT_KEY)

    # -- writing -------------------------------------------------------------------------

    def add_guild(self, guild_id: str, *, name: str | None = None, stream: bool = True) -> None:
        """Start tracking a guild (idempotent: an existing guild only gets its name updated)."""
        if guild_id in self._guilds:
            if name is not None:
                self._replace(guild_id, name=name)
            return
        snapshot = GuildSnapshot(guild_id=guild_id, name=name, stream_enabled=stream)
        self._guilds[guild_id] = snapshot
        self._history[guild_id] = []
        self._counters[guild_id] = GuildCounters()
        self._record(snapshot)
        self._notify(guild_id)

    def add_guilds(self, guild_ids: Iterable[str]) -> None:
        """Track several guilds at once."""
        for guild_id in guild_ids:
            self.add_guild(guild_id)

    def set_connection(
        self,
        guild_id: str,
        connection: ConnectionState,
        *,
        error: Problem | _Unset | None = _UNSET,
        attempt: int | None = None,
        next_retry_at: datetime | None = None,
    ) -> None:
        """Record a connection state change (the stream consumer's job).

        ``error`` is kept as it is unless given; ``connected`` always clears it, and always
        clears the retry countdown.
        """
        if self._set_connection(guild_id, connection, error, attempt, next_retry_at):
            self._notify(guild_id)

    def set_connections(
        self,
        guild_ids: Iterable[str],
        connection: ConnectionState,
        *,
        error: Problem | _Unset | None = _UNSET,
        attempt: int | None = None,
        next_retry_at: datetime | None = None,
    ) -> None:
        """:meth:`set_connection` for many guilds that share one connection (the shared
        stream), history and counters included, with one notification for them all."""
        changed = [
            guild_id
            for guild_id in guild_ids
            if self._set_connection(guild_id, connection, error, attempt, next_retry_at)
        ]
        if changed:
            for subscription in self._subscriptions:
                subscription._notify_many(changed)

    def _set_connection(
        self,
        guild_id: str,
        connection: ConnectionState,
        error: Problem | _Unset | None,
        attempt: int | None,
        next_retry_at: datetime | None,
    ) -> bool:
        changes: dict[str, object] = {"connection": connection, "next_retry_at": next_retry_at}
        if connection == "connected":
            changes["error"] = None
            counters = self._counters[guild_id]
            if self._guilds[guild_id].connection != "connected":
                if counters.connected_once:
                    counters.reconnects += 1
                counters.connected_once = True
        elif error is not _UNSET:
            changes["error"] = error
        if attempt is not None:
            changes["attempt"] = attempt
        return self._replace_quietly(guild_id, changes)

    def apply_status(
        self,
        guild_id: str,
        status: BotStatus,
        *,
        source: Source,
        warning: Problem | None = None,
    ) -> None:
        """Record a validated status from the stream or the poller."""
        self.apply_statuses(guild_id, [(status, warning)], source=source)

    def apply_statuses(
        self,
        guild_id: str,
        statuses: Sequence[tuple[BotStatus, Problem | None]],
        *,
        source: Source,
    ) -> None:
        """Record statuses that arrived together (one read of the stream), oldest first.

        The same as :meth:`apply_status` for each in turn, history included, but the
        snapshot is built and subscribers are told once: a burst of a thousand events in one
        read costs one write, not a thousand (``bench/throughput.py``).
        """
        if not statuses:
            return
        before = self._guilds[guild_id]
        counters = self._counters[guild_id]
        if source == "stream":
            counters.events += len(statuses)
        else:
            counters.polls += len(statuses)
        now = self.clock()
        history = self._history[guild_id]
        # One pass, every status: a change of health or version goes to the history, a
        # latency to its buffer (made on the first latency); only the last status makes the
        # snapshot.
        healthy = None if before.status is None else before.status.healthy
        version, connection = _version(before), before.connection
        latency = self._latency.get(guild_id)
        at, warn = now.timestamp(), self.latency_warn
        changed: list[BotStatus] = []  # the statuses that change it; entries made below
        append = changed.append
        for status, _ in statuses:
            if status.healthy is not healthy or status.version != version:
                healthy, version = status.healthy, status.version
                append(status)
            if status.latency_ms is not None:
                if latency is None:
                    latency = self._latency[guild_id] = LatencyHistory()
                latency.add(at, status.latency_ms, warn)
        # Only the newest history_size changes survive the trim: a burst builds no entry
        # that would be dropped at once (all share this write's time and connection).
        history.extend(
            (now, connection, "online" if s.healthy else "offline", s.version)
            for s in changed[-self._history_size :]
        )
        self._trim(history)
        status, warning = statuses[-1]
        if latency is not None and status.latency_ms is None:
            latency.clear_judgement()
        after = dataclasses.replace(
            before,
            status=status,
            source=source,
            received_at=now,
            warning=warning,
            latency_slow=latency.slow if latency is not None else False,
            latency_shown_ms=latency.shown if latency is not None else None,
        )
        if after != before:
            self._guilds[guild_id] = after
            self._notify(guild_id)

    def set_warning(self, guild_id: str, warning: Problem | None) -> None:
        """Flag (or clear) a warning without touching the status, e.g. a rejected payload."""
        self._replace(guild_id, warning=warning)

    # -- internals -----------------------------------------------------------------------

    def _replace(self, guild_id: str, **changes: object) -> None:
        if self._replace_quietly(guild_id, changes):
            self._notify(guild_id)

    def _replace_quietly(self, guild_id: str, changes: dict[str, object]) -> bool:
        """Write the changed snapshot and its history entry; True if anything changed (the
        caller then tells the subscribers)."""
        before = self._guilds[guild_id]
        after = dataclasses.replace(before, **changes)  # type: ignore[arg-type]
        if after == before:
            return False
        self._guilds[guild_id] = after
        if (after.connection, after.health, _version(after)) != (
            before.connection,
            before.health,
            _version(before),
        ):
            self._record(after)
        return True

    def _record(self, snapshot: GuildSnapshot) -> None:
        history = self._history[snapshot.guild_id]
        history.append((self.clock(), snapshot.connection, snapshot.health, _version(snapshot)))
        self._trim(history)

    def _trim(self, history: list[_Change]) -> None:
        """Drop the oldest changes past ``history_size`` (what a bounded deque did)."""
        excess = len(history) - self._history_size
        if excess > 0:
            del history[:excess]

    def _notify(self, guild_id: str) -> None:
        for subscription in self._subscriptions:
            subscription._notify(guild_id)


def _version(snapshot: GuildSnapshot) -> str | None:
    return snapshot.status.version if snapshot.status else None
