"""Many guilds against the real reference server: 200 streams over HTTP/1.1 and over HTTP/2.

Every stream is a real socket on 127.0.0.1. The server-side connection count is read from
``/proc/net/tcp`` (ESTABLISHED sockets on the server's port), so "several guilds share one
connection" is measured, not assumed.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import httpx
import pytest

from guildwatch.engine import Engine, EngineSettings, start_jitter_for
from guildwatch.store import StatusStore
from tests.conftest import ServerFactory
from tests.harness import RunningServer

GUILDS = 200

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/net/tcp")


def established_on(port: int) -> int:
    """Server-side TCP connections in state ESTABLISHED on ``port`` (IPv4 loopback)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] == "01":
            count += 1
    return count


def _start(server_factory: ServerFactory, *, http2: bool) -> RunningServer:
    guilds = tuple((f"guild-{index:03d}", None) for index in range(GUILDS))
    server = server_factory(
        guilds=guilds,
        http2=http2,
        max_streams_per_token=GUILDS * 2,
        heartbeat_interval=1.0,
        offline_after=600.0,
    )
    # The bot reports in everywhere, over one keep-alive client (fast, and not the watcher's).
    with httpx.Client(headers=server.bot_auth, timeout=10) as bot:
        for guild_id, _ in guilds:
            answer = bot.post(
                f"{server.url}/api/v1/guilds/{guild_id}/heartbeat", json={"version": "1.0"}
            )
            assert answer.status_code == 200, answer.text
    return server


async def _watch_and_change(server: RunningServer, *, http2: bool) -> int:
    """Watch every guild; returns the server-side connections once all are live."""
    store = StatusStore()
    store.add_guilds(server.guild_ids)
    assert len(store.guild_ids) == GUILDS
    settings = EngineSettings(
        api_url=server.url,
        token=server.token,
        http2=http2,
        start_jitter=start_jitter_for(GUILDS),  # what the CLI sets: 2 s for 200 guilds
        heartbeat_timeout=10.0,
        multiplex="off",  # per-guild streams at scale (the shared stream has its own tests)
    )
    engine = Engine(settings, store)
    task = asyncio.create_task(engine.run())
    try:
        started = time.monotonic()
        async with asyncio.timeout(40):
            while not all(
                s.connection == "connected" and s.health == "online" for s in store.snapshots()
            ):
                await asyncio.sleep(0.05)
        connected_after = time.monotonic() - started
        # Staggered: not all at once (the first ones were up well before the last ones).
        assert connected_after >= 0.5 * start_jitter_for(GUILDS)
        connections = established_on(server.port)
        # A change on the server reaches every watched guild it concerns.
        changed = server.guild_ids[::40]
        with httpx.Client(headers=server.bot_auth, timeout=10) as bot:
            for guild_id in changed:
                bot.post(
                    f"{server.url}/api/v1/guilds/{guild_id}/heartbeat", json={"version": "2.0"}
                )
        async with asyncio.timeout(20):
            while not all(
                (snap.status is not None and snap.status.version == "2.0")
                for snap in map(store.get, changed)
            ):
                await asyncio.sleep(0.05)
        others = [store.get(g) for g in server.guild_ids if g not in changed]
        assert all(s.status is not None and s.status.version == "1.0" for s in others)
        return connections
    finally:
        await engine.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.timeout(90)
async def test_200_guilds_over_http11_one_connection_each(server_factory: ServerFactory) -> None:
    server = _start(server_factory, http2=False)
    connections = await _watch_and_change(server, http2=False)
    assert connections == GUILDS


@pytest.mark.timeout(90)
async def test_200_guilds_over_http2_share_two_connections(
    server_factory: ServerFactory,
) -> None:
    server = _start(server_factory, http2=True)
    connections = await _watch_and_change(server, http2=True)
    # httpcore carries at most 100 streams per connection, so the engine shards: 2, not 200.
    assert connections == 2


@pytest.mark.timeout(30)
async def test_http2_server_still_speaks_http11(server_factory: ServerFactory) -> None:
    server = server_factory(http2=True)
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(server.status_url(server.guild_ids[0]), headers=server.auth)
    assert answer.status_code == 200
    assert answer.http_version == "HTTP/1.1"
    async with httpx.AsyncClient(http1=False, http2=True, timeout=10) as client:
        answer = await client.get(server.status_url(server.guild_ids[0]), headers=server.auth)
    assert answer.status_code == 200
    assert answer.http_version == "HTTP/2"
