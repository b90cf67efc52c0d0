"""The discord.py and hikari adapters: real client objects (no gateway here, so latency is NaN
and there are no shards: it must become null), and for connected values the smallest stand-ins
of just the public attributes the adapters read, checked against the real classes."""

from __future__ import annotations

import asyncio
import base64
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import discord
import hikari
import hikari.impl
import pytest

from guildwatch.agent import Vitals, bot_body, guild_body
from guildwatch.agent import discordpy as dpy_adapter
from guildwatch.agent import hikari as hikari_adapter
from tests.agent.receiver import Receiver, check_bot_body, check_guild_body

TOKEN = "bot-token-for-guildwatch-" + "z" * 16
# hikari derives the application id from the token's first segment; no request is made.
HIKARI_TOKEN = base64.b64encode(b"123456789012345678").decode().rstrip("=") + ".x.y"


def _guild_on(shard: int, count: int, n: int = 1) -> int:
    """A snowflake whose shard, by Discord's formula, is ``shard`` of ``count``."""
    return ((n * count + shard) << 22) | 12345


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


def _hikari_bot() -> hikari.GatewayBot:
    return hikari.GatewayBot(HIKARI_TOKEN, banner=None, suppress_optimization_warning=True)


# -- the attributes read exist on the real classes -----------------------------------------


def _public(obj: object) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


@pytest.mark.parametrize("name", sorted(dpy_adapter.READS))
def test_discordpy_attributes_read_exist_on_the_real_classes(name: str) -> None:
    cls = getattr(discord, name)
    # Client attributes set in __init__ (shard_id, shard_count) live on instances.
    real = cls(intents=discord.Intents.none()) if name.endswith("Client") else cls
    missing = [attr for attr in dpy_adapter.READS[name] if not hasattr(real, attr)]
    assert not missing, f"discord.{name} no longer has {missing}"


@pytest.mark.parametrize("name", sorted(hikari_adapter.READS))
def test_hikari_attributes_read_exist_on_the_real_classes(name: str) -> None:
    real: object = {
        "GatewayBot": _hikari_bot(),
        "GatewayShardImpl": hikari.impl.GatewayShardImpl,
        "Cache": hikari.api.Cache,
    }[name]
    missing = [attr for attr in hikari_adapter.READS[name] if not hasattr(real, attr)]
    assert not missing, f"hikari {name} no longer has {missing}"


# -- real objects, no gateway: NaN latency, no shards --------------------------------------


def test_a_real_discord_client_before_login_reports_nulls() -> None:
    client = discord.Client(intents=discord.Intents.none())
    assert math.isnan(client.latency)
    vitals = dpy_adapter.read_vitals(client)
    body = bot_body(vitals, "1.0")
    check_bot_body(body)
    assert body["state"] == "starting"
    assert body["shards"] == [{"id": 0, "connected": False, "latencyMs": None}]
    assert body["guilds"] == {}
    guild = guild_body(vitals, "1.0", "111111111111111111")
    check_guild_body(guild)
    assert guild["latencyMs"] is None


def test_a_real_auto_sharded_client_before_login_has_no_shards() -> None:
    client = discord.AutoShardedClient(intents=discord.Intents.none())
    assert client.shards == {}
    body = bot_body(dpy_adapter.read_vitals(client), None)
    check_bot_body(body)
    assert body["shards"] == []
    assert "shardCount" not in body
    assert body["state"] == "starting"


def test_a_real_hikari_bot_before_start_has_no_shards() -> None:
    bot = _hikari_bot()
    assert math.isnan(bot.heartbeat_latency)
    vitals = hikari_adapter.read_vitals(bot, started=False)
    assert vitals.latency is not None
    assert math.isnan(vitals.latency)
    body = bot_body(vitals, None)
    check_bot_body(body)
    assert body["shards"] == []
    assert body["state"] == "starting"
    assert guild_body(vitals, None, "111111111111111111")["latencyMs"] is None


# -- stand-ins for connected values: only the attributes the adapters read ------------------


class DpyGuild:
    __slots__ = ("id", "shard_id")

    def __init__(self, id: int, shard_id: int) -> None:
        self.id = id
        self.shard_id = shard_id


class DpyShardInfo:
    __slots__ = ("_closed", "id", "latency")

    def __init__(self, id: int, latency: float, closed: bool) -> None:
        self.id = id
        self.latency = latency
        self._closed = closed

    def is_closed(self) -> bool:
        return self._closed


class DpyClient:
    """discord.Client, connected: only what READS["Client"] names."""

    __slots__ = ("guilds", "latency", "setup_hook", "shard_count", "shard_id")

    def __init__(self, guilds: Sequence[DpyGuild], latency: float) -> None:
        self.guilds = guilds
        self.latency = latency
        self.shard_id: int | None = None
        self.shard_count: int | None = None

    def is_ready(self) -> bool:
        return True

    def is_closed(self) -> bool:
        return False


class DpyAutoSharded:
    """discord.AutoShardedClient, connected: only what READS["AutoShardedClient"] names."""

    __slots__ = ("guilds", "setup_hook", "shard_count", "shards")

    def __init__(self, shards: Mapping[int, DpyShardInfo], count: int, guilds: Any) -> None:
        self.shards = shards
        self.shard_count = count
        self.guilds = guilds

    @property
    def latency(self) -> float:
        return 0.05

    @property
    def latencies(self) -> list[tuple[int, float]]:
        return [(i, s.latency) for i, s in self.shards.items()]

    def is_ready(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stand_in", "real"),
    [
        (DpyClient, "Client"),
        (DpyAutoSharded, "AutoShardedClient"),
        (DpyShardInfo, "ShardInfo"),
        (DpyGuild, "Guild"),
    ],
)
def test_discordpy_stand_ins_hold_only_what_the_adapter_reads(stand_in: type, real: str) -> None:
    assert _public(stand_in) <= set(dpy_adapter.READS[real])


def test_a_connected_client_reports_its_latency_and_guilds() -> None:
    client = DpyClient([DpyGuild(111111111111111111, 0)], latency=0.0305)
    body = bot_body(dpy_adapter.read_vitals(client), "1.0")
    check_bot_body(body)
    assert body["shards"] == [{"id": 0, "connected": True, "latencyMs": 30.5}]
    assert body["shardCount"] == 1
    assert body["guilds"] == {"111111111111111111": 0}
    assert body["state"] == "up"


def test_an_auto_sharded_client_reports_each_shard() -> None:
    shards = {0: DpyShardInfo(0, 0.041, False), 1: DpyShardInfo(1, math.nan, True)}
    guilds = [DpyGuild(_guild_on(0, 2), 0), DpyGuild(_guild_on(1, 2), 1)]
    vitals = dpy_adapter.read_vitals(DpyAutoSharded(shards, 2, guilds))
    body = bot_body(vitals, "1.0")
    check_bot_body(body)
    assert body["shards"] == [
        {"id": 0, "connected": True, "latencyMs": 41.0},
        {"id": 1, "connected": False, "latencyMs": None},
    ]
    on_closed = guild_body(vitals, "1.0", str(_guild_on(1, 2)))
    check_guild_body(on_closed)
    assert on_closed["shard"] == {"id": 1, "count": 2, "connected": False}
    assert on_closed["state"] == "degraded"


class HikariShard:
    __slots__ = ("heartbeat_latency", "id", "is_connected")

    def __init__(self, id: int, latency: float, connected: bool) -> None:
        self.id = id
        self.heartbeat_latency = latency
        self.is_connected = connected


class HikariCache:
    __slots__ = ("_guilds",)

    def __init__(self, guilds: Sequence[int]) -> None:
        self._guilds = {hikari.Snowflake(g): object() for g in guilds}

    def get_guilds_view(self) -> Mapping[hikari.Snowflake, object]:
        return self._guilds


class HikariBot:
    __slots__ = ("cache", "heartbeat_latency", "shard_count", "shards")

    def __init__(self, shards: Mapping[int, Any], count: int, guilds: Sequence[int]) -> None:
        self.shards = shards
        self.shard_count = count
        self.cache = HikariCache(guilds)
        self.heartbeat_latency = 0.02


@pytest.mark.parametrize(
    ("stand_in", "real"),
    [(HikariBot, "GatewayBot"), (HikariShard, "GatewayShardImpl"), (HikariCache, "Cache")],
)
def test_hikari_stand_ins_hold_only_what_the_adapter_reads(stand_in: type, real: str) -> None:
    assert _public(stand_in) <= set(hikari_adapter.READS[real])


def test_a_connected_hikari_bot_places_guilds_by_discords_formula() -> None:
    real_bot = _hikari_bot()
    # A real shard object that never connected: its latency is NaN and it is not connected.
    unconnected = hikari.impl.GatewayShardImpl(
        intents=real_bot.intents,
        http_settings=real_bot.http_settings,
        proxy_settings=real_bot.proxy_settings,
        event_manager=real_bot.event_manager,
        event_factory=real_bot.event_factory,
        token=HIKARI_TOKEN,
        url="wss://gateway.invalid",
        shard_id=2,
        shard_count=3,
    )
    shards = {0: HikariShard(0, 0.021, True), 1: HikariShard(1, 0.5, True), 2: unconnected}
    guilds = [_guild_on(0, 3), _guild_on(1, 3, n=7), _guild_on(2, 3)]
    vitals = hikari_adapter.read_vitals(HikariBot(shards, 3, guilds))
    body = bot_body(vitals, "2.0")
    check_bot_body(body)
    assert body["shards"] == [
        {"id": 0, "connected": True, "latencyMs": 21.0},
        {"id": 1, "connected": True, "latencyMs": 500.0},
        {"id": 2, "connected": False, "latencyMs": None},
    ]
    assert body["guilds"] == {str(guilds[0]): 0, str(guilds[1]): 1, str(guilds[2]): 2}
    assert hikari_adapter.shard_of(guilds[1], 3) == 1


# -- attach: the heartbeat starts with the library's own lifecycle -------------------------


async def test_discordpy_attach_starts_in_setup_hook(receiver: Receiver) -> None:
    calls: list[str] = []

    class MyBot(discord.Client):
        async def setup_hook(self) -> None:
            calls.append("own hook")

    client = MyBot(intents=discord.Intents.none())
    # attach() before run(): no event loop in that thread, so it waits for setup_hook.
    heartbeat = await asyncio.to_thread(
        dpy_adapter.attach, client, api=receiver.url, token=TOKEN, version="3.1", interval=0.05
    )
    assert not heartbeat.running
    await client.setup_hook()  # what discord.py's login() calls
    assert calls == ["own hook"]
    assert heartbeat.running
    await receiver.wait_for(2)
    await heartbeat.stop()
    body = receiver.requests[0].json()
    check_bot_body(body)
    assert body["version"] == "3.1"
    assert body["state"] == "starting"
    assert body["shards"] == [{"id": 0, "connected": False, "latencyMs": None}]
    assert receiver.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


async def test_discordpy_attach_inside_the_loop_starts_at_once(receiver: Receiver) -> None:
    client = discord.AutoShardedClient(intents=discord.Intents.none())
    heartbeat = dpy_adapter.attach(client, api=receiver.url, token=TOKEN, interval=0.05)
    await receiver.wait_for(1)
    await heartbeat.stop()
    assert receiver.requests[0].json()["shards"] == []


async def test_hikari_attach_follows_the_bots_lifetime_events(receiver: Receiver) -> None:
    bot = _hikari_bot()
    heartbeat = hikari_adapter.attach(bot, api=receiver.url, token=TOKEN, interval=0.05)
    assert not heartbeat.running
    await bot.event_manager.dispatch(hikari.StartingEvent(app=bot), return_tasks=True)
    await receiver.wait_for(1)
    assert receiver.requests[0].json()["state"] == "starting"
    await bot.event_manager.dispatch(hikari.StartedEvent(app=bot), return_tasks=True)
    seen = len(receiver.requests)
    await receiver.wait_for(seen + 1)
    assert receiver.requests[-1].json()["state"] == "up"
    await bot.event_manager.dispatch(hikari.StoppingEvent(app=bot), return_tasks=True)
    assert not heartbeat.running, "StoppingEvent stopped the sender"
    assert heartbeat.beats >= 1
    assert isinstance(hikari_adapter.read_vitals(bot), Vitals)
