"""Where the server keeps its truth: one interface (:class:`Store`), two implementations.

- :class:`LocalStore` (the default): the in-process :class:`StatusModel` (event ring, fan-out,
  offline timers on the loop) persisted to SQLite by a periodic flush. One process, no network.
- :class:`guildwatch.server._redis.RedisStore` (``--redis URL``): guild state, event ids, event
  history and the per-token stream count in Redis, so several replicas serve one truth.

The routes only ever talk to a :class:`Store`, chosen once at start. Every method that may need
the network is a coroutine; one that cannot reach the storage raises :class:`StoreUnavailable`,
which the routes answer with ``503`` and ``Retry-After`` rather than serving stale state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, Protocol

from guildwatch.server._config import ServerConfig
from guildwatch.server._db import Database
from guildwatch.server._model import (
    Event,
    GuildFilter,
    SharedStart,
    StatusJSON,
    StatusModel,
    Subscriber,
)
from guildwatch.server._vitals import BotReport, Vitals


class StoreUnavailable(Exception):
    """The storage cannot answer now (Redis down or restarting); try again later.

    Args:
        retry_after: Seconds a client should wait before asking again.
    """

    def __init__(self, retry_after: int) -> None:
        super().__init__("storage unavailable")
        self.retry_after = retry_after


class Store(Protocol):
    """What the routes and the server's lifecycle need from the storage."""

    async def start(self) -> None:
        """Restore what was kept, serve the configured guilds, start background work."""

    def end_streams(self) -> None:
        """End every open stream of this process (first step of a stop)."""

    async def close(self) -> None:
        """Stop background work, write what is pending, release connections."""

    @property
    def guild_ids(self) -> list[str]:
        """Known guild ids (a snapshot as of start for a shared store)."""

    async def guilds(self) -> list[tuple[str, str | None]]:
        """Every known guild as (id, name or None), in the order they became known."""

    async def has(self, guild_id: str) -> bool:
        """Whether the guild is known."""

    async def status(self, guild_id: str) -> StatusJSON:
        """The current status object of a known guild."""

    async def bot_status(self) -> dict[str, Any]:
        """The bot-level status object."""

    async def heartbeat(
        self, guild_id: str, version: str | None, vitals: Vitals | None
    ) -> StatusJSON:
        """Record a guild heartbeat; returns once it is stored (the 2xx may then go out)."""

    async def bot_heartbeat(self, report: BotReport) -> int:
        """Record a bot heartbeat and its guilds; returns how many guilds."""

    async def subscribe(
        self, key: str, last_event_id: str | None
    ) -> tuple[Subscriber, list[Event]]:
        """Open an inbox for a stream of a guild (or the bot) and what it sends first.

        The first events follow the protocol's resume rule; the inbox may also receive some of
        them again (a shared store subscribes before it reads), so the stream skips any event
        whose id it has already sent.
        """

    async def subscribe_all(self, carries: GuildFilter, last_event_id: str | None) -> SharedStart:
        """Open a shared stream's inbox (events of every guild ``carries`` accepts, also of
        guilds that appear later) and what it sends first (see :class:`SharedStart`).

        The inbox is open before the first part is read, so nothing falls between; it may
        receive some first-part events again, so the stream skips ids it has sent.
        """

    async def known_guilds(self, guild_ids: Collection[str]) -> set[str]:
        """Which of these guild ids are known."""

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a stream's inbox, a shared one too (idempotent)."""

    def close_streams(self, guild_id: str, reason: str, *, sent_at_least: int = 0) -> None:
        """End this process's open streams of one guild (faults)."""

    async def acquire_stream(self, tag: str, limit: int) -> bool:
        """Count one more open stream for a token; False (nothing counted) at ``limit``."""

    async def release_stream(self, tag: str) -> None:
        """Count one stream fewer for a token (never raises)."""


class LocalStore:
    """The single-process store: :class:`StatusModel` in memory, SQLite underneath.

    Args:
        config: The server's configuration (``db``, ring and queue sizes, guilds).
        clock: Wall clock for heartbeat times.
    """

    def __init__(self, config: ServerConfig, clock: Callable[[], datetime]) -> None:
        self._config = config
        self._clock = clock
        self._db: Database | None = None
        self._model: StatusModel | None = None
        self._saved_event_id = 0
        self._flush_task: asyncio.Task[None] | None = None
        self._open: Counter[str] = Counter()

    @property
    def model(self) -> StatusModel:
        """The live model (started stores only)."""
        if self._model is None:
            raise RuntimeError("the store is not started")
        return self._model

    async def start(self) -> None:
        config = self._config
        db = Database(config.db)
        try:
            records, last_event_id = db.load()
            bot_record = db.load_bot()
        except BaseException:
            db.close()
            raise
        self._db = db
        self._saved_event_id = last_event_id
        # Ids only grow, also across a restart that lost the database: seed from the clock
        # (microseconds since 1970) and from the last id stored, whichever is larger.
        first_id = max(last_event_id + 1, time.time_ns() // 1000)
        model = StatusModel(
            offline_after=config.offline_after,
            ring_size=config.ring_size,
            queue_size=config.queue_size,
            first_event_id=first_id,
            shared_history=config.shared_history,
            clock=self._clock,
        )
        for record in records:
            model.add_guild(
                record.guild_id,
                name=record.name,
                last_heartbeat=record.last_heartbeat,
                version=record.version,
                vitals=record.vitals,
            )
        if bot_record is not None:
            model.restore_bot(bot_record)
        for guild_id, name in config.guilds:
            model.add_guild(guild_id, name=name)
        self._model = model
        self._flush_task = asyncio.create_task(self._flush_forever())

    def end_streams(self) -> None:
        if self._model is not None:
            self._model.shutdown()

    async def close(self) -> None:
        if self._flush_task is not None:
            self._flush_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush_task
            self._flush_task = None
        await self._flush()
        if self._db is not None:
            self._db.close()
        self._db = None

    @property
    def guild_ids(self) -> list[str]:
        return self.model.guild_ids

    async def guilds(self) -> list[tuple[str, str | None]]:
        model = self.model
        return [(guild_id, model.name(guild_id)) for guild_id in model.guild_ids]

    async def has(self, guild_id: str) -> bool:
        return self.model.has(guild_id)

    async def status(self, guild_id: str) -> StatusJSON:
        return self.model.status(guild_id)

    async def bot_status(self) -> dict[str, Any]:
        return self.model.bot_status()

    async def heartbeat(
        self, guild_id: str, version: str | None, vitals: Vitals | None
    ) -> StatusJSON:
        self.model.heartbeat(guild_id, version, vitals)
        return self.model.status(guild_id)

    async def bot_heartbeat(self, report: BotReport) -> int:
        return self.model.bot_heartbeat(report)

    async def subscribe(
        self, key: str, last_event_id: str | None
    ) -> tuple[Subscriber, list[Event]]:
        subscriber = self.model.subscribe(key)
        return subscriber, self.model.replay(key, last_event_id)

    async def subscribe_all(self, carries: GuildFilter, last_event_id: str | None) -> SharedStart:
        return self.model.subscribe_all(carries, last_event_id)

    async def known_guilds(self, guild_ids: Collection[str]) -> set[str]:
        model = self.model
        return {guild_id for guild_id in guild_ids if model.has(guild_id)}

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.model.unsubscribe(subscriber)

    def close_streams(self, guild_id: str, reason: str, *, sent_at_least: int = 0) -> None:
        self.model.close_streams(guild_id, reason, sent_at_least=sent_at_least)

    async def acquire_stream(self, tag: str, limit: int) -> bool:
        if self._open[tag] >= limit:
            return False
        self._open[tag] += 1
        return True

    async def release_stream(self, tag: str) -> None:
        self._open[tag] -= 1
        if self._open[tag] <= 0:
            del self._open[tag]

    async def _flush(self) -> None:
        if self._model is None or self._db is None:
            return
        model = self._model
        build_records = model.take_dirty()
        bot = model.take_bot_record()
        last_event_id = model.last_event_id
        db = self._db
        if build_records is None and bot is None and last_event_id == self._saved_event_id:
            return

        def save() -> None:
            db.save(build_records() if build_records is not None else [], last_event_id, bot)

        await asyncio.to_thread(save)
        self._saved_event_id = last_event_id

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self._config.flush_interval)
            await self._flush()


def compact(value: object) -> str:
    """JSON as the streams carry it (no spaces)."""
    return json.dumps(value, separators=(",", ":"))
