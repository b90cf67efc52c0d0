"""guildwatch for a hikari bot (``hikari.GatewayBot``).

::

    from guildwatch.agent.hikari import attach
    attach(bot, api="https://status.example.org", token=os.environ["GUILDWATCH_BOT_TOKEN"],
           version="1.3.0")
    bot.run()

Only documented public attributes are read (listed in :data:`READS`, which the tests check
against the real classes): ``GatewayBot.heartbeat_latency``, ``shards`` (each shard's ``id``,
``heartbeat_latency``, ``is_connected``), ``shard_count`` and the cache's guild view
(``bot.cache.get_guilds_view()``). The shard of a guild is Discord's own formula,
``(guild_id >> 22) % shard_count``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from guildwatch.agent._heartbeat import Heartbeat
from guildwatch.agent._vitals import ShardVitals, Vitals

READS: Mapping[str, tuple[str, ...]] = {
    "GatewayBot": ("heartbeat_latency", "shards", "shard_count", "cache", "subscribe"),
    "GatewayShardImpl": ("id", "heartbeat_latency", "is_connected"),
    "Cache": ("get_guilds_view",),
}
"""The public attributes this adapter reads, per hikari class."""


class ShardLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def heartbeat_latency(self) -> float: ...
    @property
    def is_connected(self) -> bool: ...


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard that holds a guild: Discord's ``(guild_id >> 22) % shard_count``."""
    return (int(guild_id) >> 22) % shard_count


def read_vitals(bot: Any, *, started: bool = True) -> Vitals:
    """The vitals of a ``hikari.GatewayBot`` right now.

    Before it connects there are no shards, ``shard_count`` is 0 and the latency NaN (sent as
    null); ``started`` False reads ``starting`` (:func:`attach` sets it on ``StartedEvent``).
    """
    shards: Mapping[int, ShardLike] = bot.shards
    count = int(bot.shard_count)
    guilds: dict[str, int] = {}
    if count > 0:
        guilds = {str(int(g)): shard_of(int(g), count) for g in bot.cache.get_guilds_view()}
    return Vitals(
        latency=bot.heartbeat_latency,
        shards=tuple(
            ShardVitals(
                shard.id, connected=bool(shard.is_connected), latency=shard.heartbeat_latency
            )
            for shard in shards.values()
        ),
        shard_count=count if count > 0 else None,
        guilds=guilds,
        state="up" if started else "starting",
    )


def attach(
    bot: Any,
    *,
    api: str,
    token: str,
    version: str | None = None,
    interval: float = 30.0,
    **options: Any,
) -> Heartbeat:
    """Send ``bot``'s heartbeats to ``api`` from its start to its stop; returns the sender.

    The sender starts on ``hikari.StartingEvent`` (state ``starting``), reads ``up`` from
    ``hikari.StartedEvent`` on, and stops on ``hikari.StoppingEvent``.

    Args:
        bot: A ``hikari.GatewayBot``.
        api: The guildwatch server's base URL.
        token: The server's bot token (not the Discord token).
        version: The bot's version.
        interval: Seconds between heartbeats.
        options: Passed on to :class:`Heartbeat` (``timeout``, ``endpoint``, ...).
    """
    import hikari  # the library itself, only here: reading vitals needs none of it

    started = False

    def vitals() -> Vitals:
        return read_vitals(bot, started=started)

    heartbeat = Heartbeat(api, token, version=version, vitals=vitals, interval=interval, **options)

    async def on_starting(_event: Any) -> None:
        heartbeat.start()

    async def on_started(_event: Any) -> None:
        nonlocal started
        started = True

    async def on_stopping(_event: Any) -> None:
        await heartbeat.stop()

    bot.subscribe(hikari.StartingEvent, on_starting)
    bot.subscribe(hikari.StartedEvent, on_started)
    bot.subscribe(hikari.StoppingEvent, on_stopping)
    return heartbeat
