"""Limits, restarts and shutdown: the server as a process, over real sockets."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import pytest

from guildwatch.server import ReferenceServer, demo_config
from tests.conftest import ServerFactory
from tests.harness import GUILDS, ProcessRunner, RunningServer, tmp_db, wait_until
from tests.server.sse import open_stream

GUILD = GUILDS[0][0]


@pytest.mark.both_storages
async def test_stream_limit_per_token_is_429_with_retry_after(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(max_streams_per_token=2)
    async with open_stream(server, GUILD) as one, open_stream(server, GUILDS[1][0]) as two:
        await one.next_event()
        await two.next_event()
        async with httpx.AsyncClient(timeout=10) as client:
            refused = await client.get(server.stream_url(GUILD), headers=server.auth)
            assert refused.status_code == 429
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.json()["error"] == "too_many_streams"
            # Polling the status is not a stream: still allowed.
            polled = await client.get(server.status_url(GUILD), headers=server.auth)
            assert polled.status_code == 200
    # Both closed: the slots are released as the server notices (poll, bounded).
    async with asyncio.timeout(10), httpx.AsyncClient(timeout=10) as client:
        while True:
            async with client.stream("GET", server.stream_url(GUILD), headers=server.auth) as r:
                if r.status_code == 200:
                    break
                assert r.status_code == 429
            await asyncio.sleep(0.05)


async def test_ids_grow_across_restart_and_old_ids_get_current_status(
    server_factory: ServerFactory,
) -> None:
    server = server_factory()
    server.heartbeat(GUILD, "1.0.0")
    async with open_stream(server, GUILD) as stream:
        before = await stream.next_event()
    assert before.id is not None
    await asyncio.to_thread(server.restart)
    # In-memory database: the restart forgot everything, yet ids still only grow.
    async with open_stream(server, GUILD, last_event_id=before.id) as stream:
        after = await stream.next_event()
    assert after.id is not None
    assert int(after.id) > int(before.id)
    assert after.json() == {"healthy": False, "lastHeartbeat": None, "version": None}


async def test_restart_keeps_last_seen(server_factory: ServerFactory, tmp_path: Path) -> None:
    server = server_factory(db=tmp_db(tmp_path), offline_after=0.5)
    server.heartbeat(GUILD, "7.7.7")
    seen = server.status(GUILD)["lastHeartbeat"]
    wait_until(lambda: server.status(GUILD)["healthy"] is False, what="offline")
    async with open_stream(server, GUILD) as stream:
        before = await stream.next_event()
    await asyncio.to_thread(server.restart)
    assert server.status(GUILD) == {"healthy": False, "lastHeartbeat": seen, "version": "7.7.7"}
    async with open_stream(server, GUILD, last_event_id=before.id) as stream:
        after = await stream.next_event()
    assert after.json()["lastHeartbeat"] == seen
    assert int(after.id or 0) > int(before.id or 0)


def test_recent_heartbeat_survives_restart_as_healthy(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory(db=tmp_db(tmp_path), offline_after=60)
    server.heartbeat(GUILD, "1.0.0")
    server.restart()
    assert server.status(GUILD)["healthy"] is True
    assert server.status(GUILD)["version"] == "1.0.0"


def _process(server: RunningServer) -> ProcessRunner:
    assert isinstance(server.runner, ProcessRunner)
    return server.runner


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_clean_shutdown_with_streams_open(server_factory: ServerFactory, sig: int) -> None:
    server = server_factory(subprocess=True)
    runner = _process(server)
    async with open_stream(server, GUILD) as one, open_stream(server, GUILDS[1][0]) as two:
        await one.next_event()
        await two.next_event()
        runner.signal(sig)
        for stream in (one, two):
            await stream.read_to_end(timeout=10)
    code = await asyncio.to_thread(runner.wait)
    output = runner.output()
    assert code == 0, output
    assert "Traceback" not in output
    assert "guildwatch-server stopped" in output


async def test_output_shows_url_and_guilds_but_never_a_token(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(subprocess=True)
    runner = _process(server)
    server.heartbeat(GUILD)
    async with open_stream(server, GUILD) as stream:
        await stream.next_event()
    httpx.get(server.status_url(GUILD), headers={"Authorization": "Bearer wrong-guess"})
    server.stop()
    output = runner.output()
    assert f"listening on {server.url}" in output
    assert all(guild_id in output for guild_id, _ in GUILDS)
    assert server.token not in output
    assert server.bot_token not in output
    assert "wrong-guess" not in output


def test_subprocess_restart_keeps_last_seen(server_factory: ServerFactory, tmp_path: Path) -> None:
    server = server_factory(subprocess=True, db=tmp_db(tmp_path))
    server.heartbeat(GUILD, "3.2.1")
    before = server.status(GUILD)
    server.restart()
    after = server.status(GUILD)
    assert after["lastHeartbeat"] == before["lastHeartbeat"]
    assert after["version"] == "3.2.1"


def test_long_guild_list_is_truncated_in_the_output(server_factory: ServerFactory) -> None:
    server = server_factory(subprocess=True, simulate=True, sim_guilds=1000)
    assert len(server.guild_ids) == 1003
    server.stop()
    output = _process(server).output()
    assert "serving 1003 guilds" in output
    assert "and 983 more" in output


async def test_in_process_server_from_a_running_loop() -> None:
    async with ReferenceServer(demo_config("demo-token", guilds=3)) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert len(server.guild_ids) == 3
        headers = {"Authorization": "Bearer demo-token"}
        stream_url = f"{server.url}/api/v1/guilds/{server.guild_ids[0]}/status/stream"
        async with (
            httpx.AsyncClient(timeout=10) as client,
            client.stream("GET", stream_url, headers=headers) as response,
        ):
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    assert '"healthy":true' in line
                    break
        url = server.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=5)


async def test_sigkill_then_start_again(server_factory: ServerFactory, tmp_path: Path) -> None:
    server = server_factory(subprocess=True, db=tmp_db(tmp_path))
    async with open_stream(server, GUILD) as stream:
        first = await stream.next_event()
        await asyncio.to_thread(server.kill)
        await stream.read_to_end()
    await asyncio.to_thread(server.start)
    async with open_stream(server, GUILD, last_event_id=first.id) as stream:
        after = await stream.next_event()
    assert int(after.id or 0) > int(first.id or 0)


async def test_stream_limit_counts_each_token_separately(server_factory: ServerFactory) -> None:
    server = server_factory(max_streams_per_token=1, tokens={"first": None, "second": None})
    async with open_stream(server, GUILD, token="first") as one:
        await one.next_event()
        refused = httpx.get(
            server.stream_url(GUILD), headers={"Authorization": "Bearer first"}, timeout=10
        )
        assert refused.status_code == 429
        async with open_stream(server, GUILD, token="second") as two:
            assert (await two.next_event()).json()["healthy"] is False
