"""The Redis store (``guildwatch-server --redis URL``): several replicas, one truth.

Keys (all under ``config.redis_prefix``, ``guildwatch:`` by default):

- ``id``: the event id counter (``INCR``), raised at start to the clock in microseconds, as the
  SQLite path seeds its ids, so ids grow across replicas, restarts and a Redis that lost data;
- ``guilds``: sorted set of the known guild ids, scored by the id of their first event (order);
- ``g:{guild}``: hash with the current status JSON (``data``), the JSON the offline timer will
  emit (``offline``), the ``name`` and, for the bot channel ``@bot``, its ``record``;
- ``s:{guild}``: the guild's events, a capped Stream (``XADD MAXLEN ~ ring_size``) whose entry id
  is ``{event id}-0``: a ``Last-Event-ID`` from any replica is looked up there on any other;
- ``events``: every event once more, a capped Stream every replica reads (fan-out, below),
  at least ``shared_history`` long: it is also the history a shared stream resumes from;
- ``current``: hash guild -> ``"{event id} {status JSON}"``, the event that set each guild's
  current status, so that a shared stream's first part is one ``HGETALL``;
- ``deadlines``: sorted set guild -> when it turns offline (Redis's own clock, so replicas with
  skewed clocks agree);
- ``streams:{token tag}``: hash replica -> open streams of that token on that replica, and
  ``replica:{id}``: a key each live replica refreshes (``PX replica_ttl``).

Every change is one Lua script (:data:`_EMIT`): compare with the current status, ``INCR``, both
``XADD`` and the new status happen atomically, so two replicas never hand out one id twice nor
emit the same change twice. A heartbeat is answered 2xx only after that script returned: what
was acknowledged is in Redis (with ``appendfsync always``, on its disk).

**Fan-out: a Stream read (``XREAD BLOCK``), not pub/sub.** Each replica holds one blocking
connection reading ``events`` from the last id it saw and pushes each event to its local
streams of that guild. Measured (``bench/redis_fanout.py``, docs/benchmarks.md), pub/sub's hop
is faster by about half a millisecond (p50 0.4 ms against 0.85 ms through redis-py), which is
small next to the 5-10 ms a heartbeat takes from one replica's POST to another replica's
stream. The Stream wins on what matters here: a replica whose connection drops (Redis restart,
network blip) or that falls behind under a burst (a 100,000-guild bot heartbeat) continues from
its last id instead of losing messages, which pub/sub drops silently (and past
``client-output-buffer-limit`` it disconnects the subscriber). After any read error the
replica also refills its open streams from the guild Streams (``_fill_gaps``), for the case
that ``events`` was trimmed past it meanwhile. Streams skip ids they already sent, so an event
seen both ways is sent once.

**Offline across replicas.** Each heartbeat sets the guild's deadline; every replica runs a
sweeper that calls :data:`_SWEEP`, which removes due guilds from ``deadlines`` and emits their
offline status in one atomic script: whichever replica runs it first emits the event, exactly
once, and the others find nothing due.

**Redis down.** Every call that fails raises :class:`StoreUnavailable` (the routes answer 503 +
``Retry-After``; nothing stale is served as fresh) and the first failure of an outage logs one
warning; open streams keep their heartbeat comments; the fan-out reader retries by itself and
the first success logs recovery at info level.

**Stream limit across replicas.** :data:`_ACQUIRE` sums the counts of the replicas whose liveness
key still exists (and forgets the others: a crashed replica's streams stop counting after
``replica_ttl``), then records this replica's new count. Each replica rewrites its counts with
its liveness refresh, so a release lost to an outage heals by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Collection, Iterator
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from guildwatch.server._config import ConfigError, ServerConfig
from guildwatch.server._model import (
    BOT_KEY,
    BotStatus,
    Event,
    GuildFilter,
    SharedStart,
    SharedSubscriber,
    StatusJSON,
    Subscriber,
    offline_copy,
    shard_statuses,
)
from guildwatch.server._store import StoreUnavailable, compact
from guildwatch.server._vitals import BotReport, Vitals, rfc3339

logger = logging.getLogger(__name__)

_EMIT = """
local exists = redis.call('EXISTS', KEYS[2]) == 1
if ARGV[8] == 'add' and exists then
  if ARGV[9] ~= '' and not redis.call('HGET', KEYS[2], 'name') then
    redis.call('HSET', KEYS[2], 'name', ARGV[9])
  end
  return 0
end
if ARGV[9] ~= '' then redis.call('HSET', KEYS[2], 'name', ARGV[9]) end
if ARGV[10] ~= '' then redis.call('HSET', KEYS[2], 'record', ARGV[10]) end
if ARGV[4] ~= '' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  redis.call('ZADD', KEYS[6], now + tonumber(ARGV[4]), ARGV[1])
  redis.call('HSET', KEYS[2], 'offline', ARGV[3])
end
if redis.call('HGET', KEYS[2], 'data') == ARGV[2] then return 0 end
local id = redis.call('INCR', KEYS[1])
local sid = string.format('%.0f', id) .. '-0'
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], sid, 'd', ARGV[2])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[6], sid, 'g', ARGV[1], 'd', ARGV[2])
redis.call('HSET', KEYS[2], 'data', ARGV[2])
if ARGV[7] == '1' then
  redis.call('ZADD', KEYS[5], 'NX', id, ARGV[1])
  redis.call('HSET', KEYS[7], ARGV[1], string.format('%.0f', id) .. ' ' .. ARGV[2])
end
return id
"""
"""One status change, atomically. KEYS: id, g:{guild}, s:{guild}, events, guilds, deadlines,
current.
ARGV: guild, data, offline data, offline_after ('' = no new deadline), ring size, fan-out
length, listed ('1': a guild, '0': the bot), mode ('add': only if unknown), name, record."""

_SWEEP = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
local emitted = 0
for _, gid in ipairs(due) do
  redis.call('ZREM', KEYS[2], gid)
  local h = ARGV[1] .. 'g:' .. gid
  local off = redis.call('HGET', h, 'offline')
  if off and off ~= redis.call('HGET', h, 'data') then
    local id = redis.call('INCR', KEYS[1])
    local sid = string.format('%.0f', id) .. '-0'
    redis.call('XADD', ARGV[1] .. 's:' .. gid, 'MAXLEN', '~', ARGV[2], sid, 'd', off)
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], sid, 'g', gid, 'd', off)
    redis.call('HSET', h, 'data', off)
    redis.call('HSET', KEYS[4], gid, string.format('%.0f', id) .. ' ' .. off)
    emitted = emitted + 1
  end
end
local nxt = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local wait = '-1'
if nxt[2] then wait = tostring(tonumber(nxt[2]) - now) end
return {emitted, wait}
"""
"""Emit the offline status of every guild past its deadline (each exactly once, whichever
replica runs it). KEYS: id, deadlines, events, current. ARGV: prefix, ring size, fan-out
length, batch. Returns [events emitted, seconds to the next deadline or -1]."""

_SEED = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""

_ACQUIRE = """
local total = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local replica = fields[i]
  if replica ~= ARGV[2] then
    if redis.call('EXISTS', ARGV[1] .. replica) == 1 then
      total = total + tonumber(fields[i + 1])
    else
      redis.call('HDEL', KEYS[1], replica)
    end
  end
end
if total + tonumber(ARGV[3]) > tonumber(ARGV[4]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('SET', ARGV[1] .. ARGV[2], '1', 'PX', ARGV[5])
return 1
"""
"""KEYS: streams:{tag}. ARGV: replica key prefix, this replica, its count with the new stream,
the limit, liveness ttl in ms. 1 if the stream may open (and is counted), else 0."""

NEVER_SEEN = compact({"healthy": False, "lastHeartbeat": None, "version": None})

_ERRORS = (RedisError, OSError)

_BATCH = 1000
"""Guilds of a bot heartbeat per pipeline round trip; due guilds per sweep."""


def _event_id(entry_id: str) -> int:
    return int(entry_id.partition("-")[0])


def _safe_url(url: str) -> str:
    """The URL without a password, for messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}:{parts.port or 6379}{parts.path}"


class RedisStore:
    """The shared store; see the module docstring for the data layout and the guarantees.

    Args:
        config: The server's configuration (``redis`` is the URL).
        clock: Wall clock for ``lastHeartbeat`` (deadlines use Redis's clock).
    """

    def __init__(self, config: ServerConfig, clock: Callable[[], datetime]) -> None:
        assert config.redis is not None
        self._config = config
        self._clock = clock
        self._url = config.redis
        self._prefix = config.redis_prefix
        self.replica_id = secrets.token_hex(8)
        """This process's name among the replicas (new on every start)."""
        # Short timeouts and one immediate retry (a pooled connection that Redis closed on a
        # restart): a request fails fast with 503 instead of hanging while Redis is away.
        options: dict[str, Any] = {
            "decode_responses": True,
            "socket_connect_timeout": 1.0,
            "retry": Retry(NoBackoff(), 1),
        }
        # A bounded pool that makes requests wait their turn: 1,000 streams opening at once
        # must queue for connections, not fail (redis-py's default pool raises at its cap).
        pool = aioredis.BlockingConnectionPool.from_url(
            self._url,
            max_connections=config.redis_connections,
            timeout=5.0,
            socket_timeout=5.0,
            **options,
        )
        self._pool = pool
        self._redis = aioredis.Redis(connection_pool=pool, retry=Retry(NoBackoff(), 1))
        # The fan-out reader has its own connection: it blocks up to a second per read.
        self._reader = aioredis.Redis.from_url(self._url, socket_timeout=5.0, **options)
        self._emit = self._redis.register_script(_EMIT)
        self._sweep = self._redis.register_script(_SWEEP)
        self._seed = self._redis.register_script(_SEED)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._shared: set[SharedSubscriber] = set()
        self._known: set[str] = set()
        """Guild ids this replica has seen (the shared inboxes' bound grows with it)."""
        self._fanout_len = max(config.fanout_maxlen, config.shared_history)
        self._open: dict[str, int] = {}
        self._acquire_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._fanout_last = "0-0"
        self._guild_ids: list[str] = []
        self._closing = False
        self._healthy = True
        self._down_since = 0.0
        self.outages = 0
        """Outages seen (each logged once)."""

    def _k(self, name: str) -> str:
        return self._prefix + name

    # -- health --------------------------------------------------------------------------

    def _down(self, exc: BaseException) -> None:
        if self._healthy:
            self._healthy = False
            self._down_since = time.monotonic()
            self.outages += 1
            logger.warning(
                "redis at %s unreachable (%s); answering 503 until it is back",
                _safe_url(self._url),
                exc.__class__.__name__,
            )

    def _up(self) -> None:
        if not self._healthy:
            self._healthy = True
            logger.info("redis reachable again after %.1f s", time.monotonic() - self._down_since)

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn a Redis failure into :class:`StoreUnavailable` (and note the outage)."""
        try:
            yield
        except _ERRORS as exc:
            self._down(exc)
            raise StoreUnavailable(self._config.redis_retry_after) from None
        self._up()

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        config = self._config
        try:
            await self._redis.ping()
            await self._seed(keys=[self._k("id")], args=[time.time_ns() // 1000])
            for guild_id, name in config.guilds:
                await self._run_emit(guild_id, NEVER_SEEN, mode="add", name=name or "")
            self._guild_ids = _strings(await self._redis.zrange(self._k("guilds"), 0, -1))
            self._known = set(self._guild_ids)
            newest = _entries(await self._redis.xrevrange(self._k("events"), count=1))
            self._fanout_last = newest[0][0] if newest else "0-0"
            await self._redis.set(
                self._k("replica:" + self.replica_id), "1", px=int(config.replica_ttl * 1000)
            )
        except _ERRORS as exc:
            await self._close_clients()
            raise ConfigError(
                f"--redis: cannot use {_safe_url(self._url)}: {exc.__class__.__name__}: {exc}"
            ) from None
        self._tasks = [
            asyncio.create_task(self._fan_out_forever()),
            asyncio.create_task(self._sweep_forever()),
            asyncio.create_task(self._liveness_forever()),
        ]

    def end_streams(self) -> None:
        for subscribers in list(self._subscribers.values()):
            for subscriber in list(subscribers):
                subscriber.close("shutdown")
        for shared in list(self._shared):
            shared.close("shutdown")

    async def close(self) -> None:
        self._closing = True
        # redis-py can swallow a cancel that lands mid-connect: cancel again until done (the
        # loops also stop on ``_closing`` after their current call).
        pending = {task for task in self._tasks if not task.done()}
        deadline = time.monotonic() + 5.0
        while pending and time.monotonic() < deadline:
            for task in pending:
                task.cancel()
            _done, pending = await asyncio.wait(pending, timeout=0.2)
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                logger.warning("redis background task failed: %r", task.exception())
        self._tasks = []
        # Best effort: this replica's streams stop counting now rather than after the ttl.
        with contextlib.suppress(*_ERRORS):
            pipe = self._redis.pipeline(transaction=False)
            for tag in self._open:
                pipe.hdel(self._k("streams:" + tag), self.replica_id)
            pipe.delete(self._k("replica:" + self.replica_id))
            await pipe.execute()
        await self._close_clients()

    async def _close_clients(self) -> None:
        for client in (self._redis, self._reader):
            with contextlib.suppress(*_ERRORS):
                await client.aclose()
        with contextlib.suppress(*_ERRORS):
            await self._pool.disconnect()

    # -- reading -------------------------------------------------------------------------

    @property
    def guild_ids(self) -> list[str]:
        return list(self._guild_ids)

    async def guilds(self) -> list[tuple[str, str | None]]:
        with self._guard():
            ids = _strings(await self._redis.zrange(self._k("guilds"), 0, -1))
            pipe = self._redis.pipeline(transaction=False)
            for guild_id in ids:
                pipe.hget(self._k("g:" + guild_id), "name")
            names: list[str | None] = await pipe.execute()
        return [(guild_id, name or None) for guild_id, name in zip(ids, names, strict=True)]

    async def has(self, guild_id: str) -> bool:
        with self._guard():
            score = await self._redis.zscore(self._k("guilds"), guild_id)
        return score is not None

    async def status(self, guild_id: str) -> StatusJSON:
        with self._guard():
            data = await self._redis.hget(self._k("g:" + guild_id), "data")
        return cast(StatusJSON, json.loads(data or NEVER_SEEN))

    async def bot_status(self) -> dict[str, Any]:
        with self._guard():
            data = await self._redis.hget(self._k("g:" + BOT_KEY), "data")
        if data is None:
            return BotStatus(1).status()
        return cast(dict[str, Any], json.loads(data))

    # -- writing -------------------------------------------------------------------------

    async def _run_emit(
        self,
        key: str,
        data: str,
        *,
        offline: str = "",
        deadline: bool = False,
        mode: str = "set",
        name: str = "",
        record: str = "",
        client: Any = None,
    ) -> Any:
        config = self._config
        return await self._emit(
            keys=[
                self._k("id"),
                self._k("g:" + key),
                self._k("s:" + key),
                self._k("events"),
                self._k("guilds"),
                self._k("deadlines"),
                self._k("current"),
            ],
            args=[
                key,
                data,
                offline,
                repr(config.offline_after) if deadline else "",
                config.ring_size,
                self._fanout_len,
                "0" if key == BOT_KEY else "1",
                mode,
                name,
                record,
            ],
            client=client,
        )

    async def heartbeat(
        self, guild_id: str, version: str | None, vitals: Vitals | None
    ) -> StatusJSON:
        status: StatusJSON = {
            "healthy": True,
            "lastHeartbeat": rfc3339(self._clock()),
            "version": version,
        }
        if vitals is not None:
            status.update(vitals.as_json())  # type: ignore[typeddict-item]
        offline = compact({**status, "healthy": False})
        with self._guard():
            await self._run_emit(guild_id, compact(status), offline=offline, deadline=True)
        return status

    async def bot_heartbeat(self, report: BotReport) -> int:
        now = self._clock()
        with self._guard():
            record = await self._redis.hget(self._k("g:" + BOT_KEY), "record")
            bot = BotStatus(1)
            if record:
                with contextlib.suppress(ValueError):
                    previous = json.loads(record)
                    if isinstance(previous, dict):
                        bot.restore(previous)
            bot.apply(report, now)
            bot_status = bot.status()
            await self._run_emit(
                BOT_KEY,
                compact(bot_status),
                offline=compact({**bot_status, "healthy": False}),
                deadline=True,
                record=json.dumps(bot.record()),
            )
            per_shard = shard_statuses(report, rfc3339(now))
            offline = {shard: offline_copy(data) for shard, (_, data) in per_shard.items()}
            items = list(report.guilds.items())
            for start in range(0, len(items), _BATCH):
                pipe = self._redis.pipeline(transaction=False)
                for guild_id, shard_id in items[start : start + _BATCH]:
                    await self._run_emit(
                        guild_id,
                        per_shard[shard_id][1],
                        offline=offline[shard_id],
                        deadline=True,
                        client=pipe,
                    )
                await pipe.execute()
        return len(items)

    # -- streams -------------------------------------------------------------------------

    async def subscribe(
        self, key: str, last_event_id: str | None
    ) -> tuple[Subscriber, list[Event]]:
        subscriber = Subscriber(key, self._config.queue_size)
        self._subscribers.setdefault(key, set()).add(subscriber)
        try:
            with self._guard():
                first = await self._replay(key, last_event_id)
        except BaseException:
            self.unsubscribe(subscriber)
            raise
        if first:
            subscriber.last_id = max(subscriber.last_id, first[-1].id)
        return subscriber, first

    async def _replay(self, key: str, last_event_id: str | None) -> list[Event]:
        stream = self._k("s:" + key)
        if last_event_id is not None and last_event_id.isdigit():
            wanted = int(last_event_id)
            if 0 < wanted < 2**63:
                entries = _entries(await self._redis.xrange(stream, min=f"{wanted}-0"))
                if entries and entries[0][0] == f"{wanted}-0":
                    return [Event(_event_id(eid), key, fields["d"]) for eid, fields in entries[1:]]
        newest = _entries(await self._redis.xrevrange(stream, count=1))
        if not newest and key == BOT_KEY:
            # Lazily, so that a deployment nobody asks about the bot hands out no id for it.
            await self._run_emit(BOT_KEY, BotStatus(1).serialise(), mode="add")
            newest = _entries(await self._redis.xrevrange(stream, count=1))
        return [Event(_event_id(eid), key, fields["d"]) for eid, fields in newest]

    async def subscribe_all(self, carries: GuildFilter, last_event_id: str | None) -> SharedStart:
        subscriber = SharedSubscriber(carries, self._config.queue_size + len(self._known))
        self._shared.add(subscriber)
        try:
            with self._guard():
                later = await self._history_after(last_event_id)
                if later is None:
                    first = await self._current_events(subscriber.carries)
                    carried = len(first)
                else:
                    first = [event for event in later if subscriber.carries(event.guild_id)]
                    ids = _strings(await self._redis.zrange(self._k("guilds"), 0, -1))
                    carried = sum(1 for guild_id in ids if subscriber.carries(guild_id))
        except BaseException:
            self.unsubscribe(subscriber)
            raise
        return SharedStart(subscriber, first, carried, resumed=later is not None)

    async def _history_after(self, last_event_id: str | None) -> list[Event] | None:
        """Guild events after a known id from the fan-out Stream; None: not known (trimmed,
        garbage, from the future). One transaction, so trimming cannot slip in between."""
        if last_event_id is None or not last_event_id.isdigit():
            return None
        wanted = int(last_event_id)
        if not 0 < wanted < 2**63:
            return None
        stream = self._k("events")
        pipe = self._redis.pipeline(transaction=True)
        pipe.xrange(stream, count=1)
        pipe.get(self._k("id"))
        # "{id}-1": after the entry "{id}-0" itself (ids are "{event id}-0").
        pipe.xrange(stream, min=f"{wanted}-1")
        oldest_reply, newest, later_reply = await pipe.execute()
        oldest = _entries(oldest_reply)
        if not oldest or not _event_id(oldest[0][0]) <= wanted <= int(newest or 0):
            return None
        return [
            Event(_event_id(entry_id), fields["g"], fields["d"])
            for entry_id, fields in _entries(later_reply)
            if fields["g"] != BOT_KEY
        ]

    async def _current_events(self, carries: GuildFilter) -> list[Event]:
        """The event that set each carried guild's current status, in id order."""
        current = cast(dict[str, str], await self._redis.hgetall(self._k("current")))
        first = []
        for guild_id, value in current.items():
            if carries(guild_id):
                event_id, _, data = value.partition(" ")
                first.append(Event(int(event_id), guild_id, data))
        if await self._redis.zcard(self._k("guilds")) > len(current):
            # Guilds last changed by a server that did not keep ``current``: their newest
            # event, once (the next change writes ``current``).
            ids = _strings(await self._redis.zrange(self._k("guilds"), 0, -1))
            missing = [g for g in ids if g not in current and carries(g)]
            for start in range(0, len(missing), _BATCH):
                pipe = self._redis.pipeline(transaction=False)
                for guild_id in missing[start : start + _BATCH]:
                    pipe.xrevrange(self._k("s:" + guild_id), count=1)
                replies = await pipe.execute()
                for guild_id, reply in zip(missing[start : start + _BATCH], replies, strict=True):
                    for entry_id, fields in _entries(reply):
                        first.append(Event(_event_id(entry_id), guild_id, fields["d"]))
        first.sort(key=lambda event: event.id)
        return first

    async def known_guilds(self, guild_ids: Collection[str]) -> set[str]:
        ids = list(guild_ids)
        if not ids:
            return set()
        with self._guard():
            pipe = self._redis.pipeline(transaction=False)
            for guild_id in ids:
                pipe.zscore(self._k("guilds"), guild_id)
            scores = await pipe.execute()
        return {guild_id for guild_id, score in zip(ids, scores, strict=True) if score is not None}

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if isinstance(subscriber, SharedSubscriber):
            self._shared.discard(subscriber)
            return
        subscribers = self._subscribers.get(subscriber.guild_id)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._subscribers[subscriber.guild_id]

    def close_streams(self, guild_id: str, reason: str, *, sent_at_least: int = 0) -> None:
        for subscriber in list(self._subscribers.get(guild_id, ())):
            if subscriber.sent >= sent_at_least:
                subscriber.close(reason)

    def _deliver(self, event: Event) -> None:
        guild_id = event.guild_id
        for subscriber in list(self._subscribers.get(guild_id, ())):
            if event.id > subscriber.last_id:
                subscriber.push(event)
        if guild_id == BOT_KEY:
            return
        if guild_id not in self._known:
            # Room for the new guild before its event: a round of new guilds fits too.
            self._known.add(guild_id)
            for shared in self._shared:
                shared.grow(1)
        for shared in self._shared:
            shared.push(event)

    async def _fan_out_forever(self) -> None:
        stream = self._k("events")
        delay = 0.05
        gap = False
        while not self._closing:
            try:
                if gap:
                    await self._fill_gaps()
                    gap = False
                reply = await self._reader.xread(
                    {stream: self._fanout_last}, count=1000, block=1000
                )
            except _ERRORS as exc:
                self._down(exc)
                gap = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            self._up()
            delay = 0.05
            for _name, entries in _stream_entries(reply):
                for entry_id, fields in entries:
                    self._fanout_last = entry_id
                    self._deliver(Event(_event_id(entry_id), fields["g"], fields["d"]))

    async def _fill_gaps(self) -> None:
        """After a read error: what each open stream's guild emitted past its newest event.

        The shared streams cannot be refilled guild by guild: if the fan-out Stream was
        trimmed past this replica's last entry they end, and their clients resume from their
        ``Last-Event-ID`` (or get every current status, if that is too old by then).
        """
        if self._shared and self._fanout_last != "0-0":
            # Every id is one entry of the fan-out Stream: a hole after ours means trimmed.
            oldest = _entries(await self._redis.xrange(self._k("events"), count=1))
            if oldest and _event_id(oldest[0][0]) > _event_id(self._fanout_last) + 1:
                for shared in list(self._shared):
                    shared.close("gap")
        for key, subscribers in list(self._subscribers.items()):
            if not subscribers:
                continue
            since = min(subscriber.last_id for subscriber in subscribers)
            entries = _entries(await self._redis.xrange(self._k("s:" + key), min=f"{since + 1}-0"))
            for entry_id, fields in entries:
                self._deliver(Event(_event_id(entry_id), key, fields["d"]))

    async def _sweep_forever(self) -> None:
        interval = self._config.sweep_interval
        keys = [self._k("id"), self._k("deadlines"), self._k("events"), self._k("current")]
        args: list[str | int] = [
            self._prefix,
            self._config.ring_size,
            self._fanout_len,
            _BATCH,
        ]
        while not self._closing:
            try:
                _emitted, wait = await self._sweep(keys=keys, args=args)
                pause = float(wait)
                delay = interval if pause < 0 else min(max(pause, 0.001), interval)
            except _ERRORS as exc:
                self._down(exc)
                delay = interval
            await asyncio.sleep(delay)

    async def _liveness_forever(self) -> None:
        ttl_ms = int(self._config.replica_ttl * 1000)
        while not self._closing:
            await asyncio.sleep(self._config.replica_ttl / 3)
            with contextlib.suppress(*_ERRORS):
                pipe = self._redis.pipeline(transaction=False)
                pipe.set(self._k("replica:" + self.replica_id), "1", px=ttl_ms)
                for tag, count in list(self._open.items()):
                    if count > 0:
                        pipe.hset(self._k("streams:" + tag), self.replica_id, count)
                    else:
                        pipe.hdel(self._k("streams:" + tag), self.replica_id)
                        del self._open[tag]
                await pipe.execute()

    async def acquire_stream(self, tag: str, limit: int) -> bool:
        async with self._acquire_lock:
            count = self._open.get(tag, 0) + 1
            with self._guard():
                allowed = await self._acquire(
                    keys=[self._k("streams:" + tag)],
                    args=[
                        self._k("replica:"),
                        self.replica_id,
                        count,
                        limit,
                        int(self._config.replica_ttl * 1000),
                    ],
                )
            if not allowed:
                return False
            self._open[tag] = count
            return True

    async def release_stream(self, tag: str) -> None:
        count = max(self._open.get(tag, 0) - 1, 0)
        self._open[tag] = count
        # A failed write heals with the next liveness refresh, which rewrites every count.
        with contextlib.suppress(*_ERRORS):
            if count:
                await self._redis.hset(self._k("streams:" + tag), self.replica_id, count)
            else:
                await self._redis.hdel(self._k("streams:" + tag), self.replica_id)


def _strings(reply: Any) -> list[str]:
    """A list reply of a client with ``decode_responses`` (redis-py types it as bytes or str)."""
    return [str(item) for item in reply]


def _entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """XRANGE / XREVRANGE entries as (entry id, fields)."""
    return cast(list[tuple[str, dict[str, str]]], reply or [])


def _stream_entries(reply: Any) -> list[tuple[str, list[tuple[str, dict[str, str]]]]]:
    """XREAD's answer (RESP2, redis-py's default) as (stream, entries) pairs."""
    return [(name, entries) for name, entries in reply or ()]
