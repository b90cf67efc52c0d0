"""The bot watcher: the bot-level status from the real server into ``store.bot``, a bad
object rejected whole, and a server without the endpoint (404) read calmly."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from guildwatch.engine._payload import parse_bot_status
from guildwatch.errors import PayloadError
from guildwatch.store import BotStatus, Shard, ShardVitals
from tests.engine.rawserver import Conn, RawServer
from tests.engine.support import fast_settings, make_store, running, wait_until
from tests.harness import GUILDS, RunningServer

REAL_GUILD = GUILDS[0][0]

BOT_HEARTBEAT = {
    "version": "1.3.0",
    "startedAt": "2026-11-22T13:58:12Z",
    "state": "up",
    "shardCount": 2,
    "shards": [
        {"id": 0, "connected": True, "latencyMs": 41.2},
        {"id": 1, "connected": False, "latencyMs": None},
    ],
    "guilds": {REAL_GUILD: 1},
}


def _shard_of(status: BotStatus | None) -> Shard | None:
    return status.shard if status is not None else None


def _post_bot(server: RunningServer, body: Any) -> None:
    answer = httpx.post(
        f"{server.url}/api/v1/bot/heartbeat", json=body, headers=server.bot_auth, timeout=10
    )
    assert answer.status_code == 200, answer.text


async def test_the_bot_status_stream_reaches_the_store(real_server: RunningServer) -> None:
    store = make_store(REAL_GUILD)
    settings = fast_settings(real_server.url, token=real_server.token, watch_bot=True)
    async with running(settings, store):
        await wait_until(lambda: store.bot.connection == "connected")
        await asyncio.to_thread(_post_bot, real_server, BOT_HEARTBEAT)
        await wait_until(lambda: store.bot.status is not None and store.bot.status.healthy)
        bot = store.bot
        # The guild's own status says its shard is down, from the same heartbeat.
        await wait_until(lambda: _shard_of(store.get(REAL_GUILD).status) is not None)
    assert bot.availability == "available"
    assert bot.source == "stream"
    assert bot.status is not None
    assert bot.status.version == "1.3.0"
    assert (bot.status.guild_count, bot.status.shard_count) == (1, 2)
    assert [(s.id, s.connected, s.latency_ms, s.guilds) for s in bot.status.shards] == [
        (0, True, 41.0, 0),
        (1, False, None, 1),
    ]
    status = store.get(REAL_GUILD).status
    assert status is not None
    assert status.shard is not None
    assert not status.shard.connected


async def test_no_bot_watcher_unless_asked(real_server: RunningServer) -> None:
    store = make_store(REAL_GUILD)
    async with running(fast_settings(real_server.url, token=real_server.token), store) as engine:
        await wait_until(lambda: store.get(REAL_GUILD).connection == "connected")
        await asyncio.sleep(0.2)
        assert store.bot.connection == "connecting"
        assert store.bot.availability == "unknown"
        # The screen's bot view asks on first use: the watcher starts while running.
        engine.watch_bot()
        engine.watch_bot()  # twice is once
        await wait_until(lambda: store.bot.connection == "connected")
        await asyncio.to_thread(_post_bot, real_server, BOT_HEARTBEAT)
        await wait_until(lambda: store.bot.status is not None and store.bot.status.healthy)
        assert sum(t.get_name() == "guildwatch-bot" for t in engine._tasks) == 1


async def test_a_server_without_bot_status_is_told_apart_calmly() -> None:
    async def handler(conn: Conn) -> None:
        if conn.request.target.startswith("/api/v1/bot/"):
            await conn.respond(404, b'{"error": "not found"}')
            return
        await conn.head()
        await conn.send(b'id: 1\ndata: {"healthy": true, "lastHeartbeat": null}\n\n')
        await conn.hold()

    store = make_store()
    async with RawServer(handler) as server:
        async with running(fast_settings(server.url, watch_bot=True), store):
            await wait_until(lambda: store.bot.availability == "absent")
            guild = store.get(store.guild_ids[0])
            await wait_until(lambda: store.get(guild.guild_id).connection == "connected")
        bot_requests = [r for r in server.stream_requests if "/bot/" in r.target]
    assert store.bot.connection == "error"  # fatal: retried only at the slow cadence
    assert store.bot.error is not None
    assert store.bot.error.kind == "not_found"
    assert len(bot_requests) == 1


def _bot_object(**changes: Any) -> str:
    document: dict[str, Any] = {
        "healthy": True,
        "lastHeartbeat": "2026-11-22T14:03:00Z",
        "version": "1.3.0",
        "startedAt": "2026-11-22T13:58:12Z",
        "state": "up",
        "message": None,
        "guildCount": 5000,
        "shardCount": 2,
        "shards": [
            {"id": 0, "connected": True, "latencyMs": 41, "guilds": 2503, "lastAck": None},
            {"id": 1, "connected": False, "latencyMs": None, "guilds": 2497},
        ],
    }
    document.update(changes)
    return json.dumps(document)


def test_the_bot_object_of_the_protocol_parses() -> None:
    overview, warning = parse_bot_status(_bot_object())
    assert warning is None
    assert overview.guild_count == 5000
    assert overview.shards[1] == ShardVitals(1, False, None, 2497, None)
    empty, _ = parse_bot_status('{"healthy": false, "lastHeartbeat": null, "version": null}')
    assert (empty.guild_count, empty.shard_count, empty.shards) == (0, 0, ())


@pytest.mark.parametrize(
    "changes",
    [
        {"guildCount": -1},
        {"guildCount": True},
        {"shardCount": "2"},
        {"shards": {"id": 0}},
        {"shards": [{"id": "0"}]},
        {"shards": [{"id": 0, "connected": "yes"}]},
        {"shards": [{"id": 0, "latencyMs": -3}]},
        {"shards": [{"id": 0, "guilds": 1.5}]},
        {"shards": [{"id": 0, "lastAck": 12}]},
        {"state": 3},
        {"healthy": "yes"},
    ],
)
def test_a_wrong_type_anywhere_rejects_the_whole_bot_object(changes: dict[str, Any]) -> None:
    with pytest.raises(PayloadError):
        parse_bot_status(_bot_object(**changes))
