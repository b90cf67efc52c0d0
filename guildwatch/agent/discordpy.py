"""guildwatch for a discord.py bot (and its forks that keep the same public API).

::

    from guildwatch.agent.discordpy import attach
    attach(bot, api="https://status.example.org", token=os.environ["GUILDWATCH_BOT_TOKEN"],
           version="1.3.0")
    bot.run(DISCORD_TOKEN)

Only documented public attributes are read (listed in :data:`READS`, which the tests check
against the real classes): ``Client.latency``, ``is_ready()``, ``is_closed()``, ``guilds``,
``shard_id``, ``shard_count``; for an ``AutoShardedClient`` also ``shards`` (``ShardInfo``:
``id``, ``latency``, ``is_closed()``); ``Guild.id`` and ``Guild.shard_id``. discord.py itself
is not imported, so any fork works.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from guildwatch.agent._heartbeat import Heartbeat
from guildwatch.agent._vitals import ShardVitals, Vitals

READS: Mapping[str, tuple[str, ...]] = {
    "Client": (
        "latency",
        "is_ready",
        "is_closed",
        "guilds",
        "shard_id",
        "shard_count",
        "setup_hook",
    ),
    "AutoShardedClient": (
        "latency",
        "latencies",
        "is_ready",
        "guilds",
        "shards",
        "shard_count",
        "setup_hook",
    ),
    "ShardInfo": ("id", "latency", "is_closed"),
    "Guild": ("id", "shard_id"),
}
"""The public attributes this adapter reads, per discord.py class."""


class GuildLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def shard_id(self) -> int: ...


class ShardInfoLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def latency(self) -> float: ...
    def is_closed(self) -> bool: ...


def _is_auto_sharded(client: Any) -> bool:
    # AutoShardedClient is the class with ``latencies``; checked on the type, not the
    # instance, so that reading it costs nothing and a plain Client never pretends to shard.
    return hasattr(type(client), "latencies")


def read_vitals(client: Any) -> Vitals:
    """The vitals of a ``discord.Client`` or ``discord.AutoShardedClient`` right now.

    Before the gateway answers, latency is NaN (sent as null) and an ``AutoShardedClient`` has
    no shards yet; the state reads ``starting`` until ``is_ready()``.
    """
    ready = bool(client.is_ready())
    guilds: Sequence[GuildLike] = client.guilds
    if _is_auto_sharded(client):
        infos: Mapping[int, ShardInfoLike] = client.shards
        shards = tuple(
            ShardVitals(info.id, connected=not info.is_closed(), latency=info.latency)
            for info in infos.values()
        )
    else:
        connected = ready and not client.is_closed()
        shard_id = client.shard_id if client.shard_id is not None else 0
        shards = (ShardVitals(shard_id, connected=connected, latency=client.latency),)
    return Vitals(
        latency=client.latency,
        shards=shards,
        shard_count=client.shard_count,
        guilds={str(guild.id): guild.shard_id for guild in guilds},
        state="up" if ready else "starting",
    )


def attach(
    client: Any,
    *,
    api: str,
    token: str,
    version: str | None = None,
    interval: float = 30.0,
    **options: Any,
) -> Heartbeat:
    """Send ``client``'s heartbeats to ``api`` for as long as it runs; returns the sender.

    Called before ``bot.run()``/``bot.start()``, the sender starts in the client's
    ``setup_hook`` (which runs first, whatever the subclass's own hook does); called from
    running async code (e.g. ``setup_hook`` or ``on_ready``), it starts at once. It stops when
    the client's event loop ends, or on ``await heartbeat.stop()``.

    Args:
        client: A ``discord.Client``, ``discord.AutoShardedClient`` or ``commands.Bot``.
        api: The guildwatch server's base URL.
        token: The server's bot token (not the Discord token).
        version: The bot's version.
        interval: Seconds between heartbeats.
        options: Passed on to :class:`Heartbeat` (``timeout``, ``endpoint``, ...).
    """
    heartbeat = Heartbeat(
        api,
        token,
        version=version,
        vitals=lambda: read_vitals(client),
        interval=interval,
        **options,
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        original = client.setup_hook

        async def setup_hook() -> None:
            heartbeat.start()
            await original()

        # An instance attribute shadows the class's hook; discord.py calls
        # ``self.setup_hook()`` during login, so this runs for subclasses too.
        client.setup_hook = setup_hook
    else:
        heartbeat.start()
    return heartbeat
