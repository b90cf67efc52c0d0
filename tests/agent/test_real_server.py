"""The sender against the real reference server on loopback: beats arrive (read back through
``GET .../status``), a server that is down never crashes or blocks the sender and it recovers
by itself, a refusal is counted and explained, and the token never reaches the logs."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from guildwatch.agent import Heartbeat, ShardVitals, Vitals
from tests.conftest import ServerFactory
from tests.harness import GUILDS, RunningServer

GUILD_A, GUILD_B = GUILDS[0][0], GUILDS[1][0]
VITALS = Vitals(
    latency=0.05,
    shards=(ShardVitals(0, True, 0.05),),
    shard_count=1,
    guilds={GUILD_A: 0, GUILD_B: 0},
)


async def _status(server: RunningServer, guild: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=5) as client:
        answer = await client.get(server.status_url(guild), headers=server.auth)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def _until(predicate: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.02)


async def test_beats_arrive_and_the_version_follows(real_server: RunningServer) -> None:
    before = await _status(real_server, GUILD_A)
    assert before["lastHeartbeat"] is None
    heartbeat = Heartbeat(
        real_server.url, real_server.bot_token, version="1.3.0", vitals=lambda: VITALS
    )
    assert await heartbeat.beat(), heartbeat.last_error
    for guild in (GUILD_A, GUILD_B):
        status = await _status(real_server, guild)
        assert status["healthy"] is True
        assert status["version"] == "1.3.0"
        assert status["lastHeartbeat"] is not None
    first = (await _status(real_server, GUILD_A))["lastHeartbeat"]

    heartbeat.version = "1.3.1"
    assert await heartbeat.beat(), heartbeat.last_error
    after = await _status(real_server, GUILD_A)
    assert after["version"] == "1.3.1"
    assert after["lastHeartbeat"] >= first
    assert (await _status(real_server, GUILDS[2][0]))["lastHeartbeat"] is None
    await heartbeat.aclose()


async def test_the_running_loop_reports_by_itself(real_server: RunningServer) -> None:
    async def arrived() -> bool:
        return await _is_version(real_server, GUILD_B, "2.0.0")

    async with Heartbeat(
        real_server.url,
        real_server.bot_token,
        version="2.0.0",
        vitals=lambda: VITALS,
        interval=0.1,
    ) as heartbeat:
        await _until(arrived)
        await _until(lambda: _true(heartbeat.beats >= 2))
    assert heartbeat.failures == 0


async def _true(value: bool) -> bool:
    return value


async def test_a_server_that_goes_down_and_comes_back(
    server_factory: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = server_factory()
    caplog.set_level(logging.DEBUG)
    heartbeat = Heartbeat(
        server.url,
        server.bot_token,
        version="1.0.0",
        vitals=lambda: VITALS,
        interval=0.05,
        timeout=0.5,
    )
    task = heartbeat.start()
    await _until(lambda: _true(heartbeat.beats >= 1))

    await asyncio.to_thread(server.stop)
    await _until(lambda: _true(heartbeat.failures >= 3))
    assert not task.done(), "the sender survived the outage"
    assert heartbeat.last_error is not None
    assert "cannot connect" in heartbeat.last_error

    await asyncio.to_thread(server.start)  # same port, a fresh database
    await _until(lambda: _true(heartbeat.consecutive_failures == 0))
    await _until(lambda: _is_version(server, GUILD_A, "1.0.0"))
    await heartbeat.stop()
    assert task.done()

    ours = [r for r in caplog.records if r.name == "guildwatch.agent"]
    warnings = [r for r in ours if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "cannot connect" in warnings[0].getMessage()
    assert any("works again" in r.getMessage() for r in ours)
    assert server.bot_token not in caplog.text
    assert all(server.bot_token not in repr(r.__dict__) for r in caplog.records)


async def _is_version(server: RunningServer, guild: str, version: str) -> bool:
    status = await _status(server, guild)
    return bool(status["version"] == version)


async def test_a_wrong_token_is_refused_counted_and_never_logged(
    real_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-bot-token-" + "x" * 20
    heartbeat = Heartbeat(real_server.url, wrong, vitals=lambda: VITALS, endpoint="guilds")
    assert not await heartbeat.beat()
    assert not await heartbeat.beat()
    assert heartbeat.failures == 2
    assert heartbeat.last_error is not None
    assert "401" in heartbeat.last_error
    assert "bot token" in heartbeat.last_error
    assert wrong not in caplog.text
    assert (await _status(real_server, GUILD_A))["lastHeartbeat"] is None
    await heartbeat.aclose()


async def test_a_server_down_from_the_start_never_raises(server_factory: ServerFactory) -> None:
    server = server_factory()
    url, token = server.url, server.bot_token
    await asyncio.to_thread(server.stop)
    heartbeat = Heartbeat(url, token, vitals=lambda: VITALS, interval=0.05, timeout=0.5)
    task = heartbeat.start()
    await _until(lambda: _true(heartbeat.failures >= 3))
    assert heartbeat.beats == 0
    await heartbeat.stop()
    assert task.cancelled()
