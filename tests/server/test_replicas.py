"""Several real ``guildwatch-server`` processes on one real ``redis-server``.

Bot heartbeats and client streams hit different replicas, as behind a load balancer: events
reach every replica's streams, a client resumes on any replica, offline is emitted once, the
per-token stream limit holds across replicas, and a Redis that is killed and restarted loses
nothing that was acknowledged.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from guildwatch.engine import EngineSettings
from guildwatch.store import StatusStore
from tests.conftest import ServerFactory
from tests.engine.support import running
from tests.engine.support import wait_until as wait_until_async
from tests.harness import GUILDS, ProcessRunner, RedisProcess, RunningServer
from tests.server.conftest import redis_prefix
from tests.server.sse import SseItem, SseReader, open_stream

GUILD = GUILDS[0][0]

Replicas = Callable[..., list[RunningServer]]


@pytest.fixture
def replicas(server_factory: ServerFactory, redis_server: RedisProcess) -> Replicas:
    """``replicas(n, **config)``: n ``guildwatch-server`` processes sharing one Redis prefix
    and one set of tokens (as one deployment would)."""

    def start(
        count: int, *, redis: RedisProcess | None = None, **overrides: Any
    ) -> list[RunningServer]:
        first = server_factory(
            subprocess=True,
            redis=(redis or redis_server).url,
            redis_prefix=redis_prefix(),
            **overrides,
        )
        rest = [
            server_factory(
                subprocess=True,
                redis=first.config.redis,
                redis_prefix=first.config.redis_prefix,
                tokens=first.config.tokens,
                bot_tokens=first.config.bot_tokens,
                **overrides,
            )
            for _ in range(count - 1)
        ]
        return [first, *rest]

    return start


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server of this test alone, every write fsynced before it answers."""
    redis = RedisProcess(tmp_path / "redis", fsync_always=True)
    redis.start()
    yield redis
    redis.stop()


async def events_within(stream: SseReader, seconds: float) -> list[SseItem]:
    """The events (not comments) a stream sends in the next ``seconds``."""
    events: list[SseItem] = []
    deadline = asyncio.get_running_loop().time() + seconds
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        try:
            item = await stream.next_item(timeout=left)
        except TimeoutError:
            break
        if item.comment is None:
            events.append(item)
    return events


async def post_heartbeat(
    client: httpx.AsyncClient, server: RunningServer, guild: str, version: str
) -> httpx.Response:
    return await client.post(
        f"{server.url}/api/v1/guilds/{guild}/heartbeat",
        json={"version": version},
        headers=server.bot_auth,
    )


async def test_a_heartbeat_to_one_replica_reaches_streams_on_the_others(
    replicas: Replicas,
) -> None:
    one, two, three = replicas(3)
    latencies: list[float] = []
    async with (
        open_stream(two, GUILD) as on_two,
        open_stream(three, GUILD) as on_three,
        httpx.AsyncClient(timeout=10) as client,
    ):
        await on_two.next_event()
        await on_three.next_event()
        for number in range(40):
            started = time.perf_counter()
            answer = await post_heartbeat(client, one, GUILD, f"v{number}")
            assert answer.status_code == 200
            got_two = await on_two.next_event(timeout=5)
            latencies.append(time.perf_counter() - started)
            got_three = await on_three.next_event(timeout=5)
            assert got_two.json()["version"] == got_three.json()["version"] == f"v{number}"
            assert got_two.id == got_three.id
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(
        f"heartbeat on replica 1 -> stream on replica 2: p50 {p50 * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms (includes the POST's own round trip)"
    )
    # 100 ms is the goal; the bound leaves room for 2 loaded cores shared with other tests.
    assert p50 < 0.1
    assert latencies[-1] < 1.0


async def test_a_client_switching_replica_resumes_with_no_gap_and_no_duplicate(
    replicas: Replicas,
) -> None:
    servers = replicas(3)
    total = 45
    posted = asyncio.Event()

    async def bot() -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            for number in range(total):
                # The bot, too, reaches whichever replica the balancer picks.
                answer = await post_heartbeat(client, servers[number % 3], GUILD, f"v{number}")
                assert answer.status_code == 200
                await asyncio.sleep(0.01)
        posted.set()

    received: list[SseItem] = []
    last_id: str | None = None
    async with open_stream(servers[0], GUILD) as first:
        current = await first.next_event()
    last_id = current.id
    poster = asyncio.create_task(bot())
    hop = 0
    while not received or received[-1].json()["version"] != f"v{total - 1}":
        server = servers[hop % 3]
        hop += 1
        async with open_stream(server, GUILD, last_event_id=last_id) as stream:
            for _ in range(5):  # a few events, then the client moves to the next replica
                item = await stream.next_event(timeout=10)
                received.append(item)
                last_id = item.id
                if item.json()["version"] == f"v{total - 1}":
                    break
    await poster
    assert posted.is_set()
    assert hop >= 3
    ids = [int(item.id or 0) for item in received]
    assert ids == sorted(set(ids)), "an event twice or out of order"
    versions = [item.json()["version"] for item in received]
    # Every heartbeat changed the version: one event each, none missed across the hops.
    assert versions == [f"v{n}" for n in range(total)]


async def test_offline_is_emitted_once_across_replicas(replicas: Replicas) -> None:
    servers = replicas(3, offline_after=0.6)
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await post_heartbeat(client, servers[0], GUILD, "1.0")).status_code == 200
    async with (
        open_stream(servers[0], GUILD) as a,
        open_stream(servers[1], GUILD) as b,
        open_stream(servers[2], GUILD) as c,
    ):
        onlines = [await s.next_event() for s in (a, b, c)]
        assert {e.id for e in onlines} == {onlines[0].id}
        assert all(e.json()["healthy"] for e in onlines)
        offlines = [await s.next_event(timeout=10) for s in (a, b, c)]
        assert {e.id for e in offlines} == {offlines[0].id}
        assert all(e.json() == {**onlines[0].json(), "healthy": False} for e in offlines)
        # Three sweepers raced for it; nothing more follows (only heartbeat comments).
        assert [item for s in (a, b, c) for item in await events_within(s, 1.0)] == []
    async with open_stream(servers[1], GUILD, last_event_id=onlines[0].id) as replay:
        again = await events_within(replay, 0.8)
    assert [item.id for item in again] == [offlines[0].id]


async def test_the_stream_limit_holds_across_replicas_and_a_crashed_replica_frees_its_share(
    replicas: Replicas,
) -> None:
    one, two, three = replicas(3, max_streams_per_token=2, replica_ttl=1.0)
    async with httpx.AsyncClient(timeout=10) as client:
        async with open_stream(one, GUILD) as s1, open_stream(two, GUILD) as s2:
            await s1.next_event()
            await s2.next_event()
            refused = await client.get(three.stream_url(GUILD), headers=three.auth)
            assert refused.status_code == 429
            assert int(refused.headers["retry-after"]) >= 1
        # Both closed on their replicas: a third replica may open again.
        async with open_stream(three, GUILD) as s3, open_stream(three, GUILD) as s4:
            await s3.next_event()
            await s4.next_event()

        # A replica that dies with its streams open: they stop counting after its ttl.
        opened = asyncio.Event()

        async def hold() -> None:
            try:
                async with open_stream(one, GUILD) as h1, open_stream(one, GUILD) as h2:
                    await h1.next_event()
                    await h2.next_event()
                    opened.set()
                    await h1.read_to_end(timeout=30)
            except (httpx.HTTPError, EOFError):
                pass

        holder = asyncio.create_task(hold())
        await asyncio.wait_for(opened.wait(), 10)
        refused = await client.get(two.stream_url(GUILD), headers=two.auth)
        assert refused.status_code == 429
        await asyncio.to_thread(one.kill)
        async with asyncio.timeout(10):
            while True:
                async with client.stream("GET", two.stream_url(GUILD), headers=two.auth) as r:
                    if r.status_code == 200:
                        break
                    assert r.status_code == 429
                await asyncio.sleep(0.2)
        await holder


async def test_redis_down_streams_stay_open_new_requests_get_503_and_it_recovers(
    replicas: Replicas, durable_redis: RedisProcess
) -> None:
    one, two = replicas(2, redis=durable_redis)
    async with httpx.AsyncClient(timeout=10) as client, open_stream(two, GUILD) as stream:
        await stream.next_event()
        await asyncio.to_thread(durable_redis.kill)
        for _ in range(10):
            status = await client.get(one.status_url(GUILD), headers=one.auth)
            assert status.status_code == 503
            assert int(status.headers["retry-after"]) >= 1
            beat = await post_heartbeat(client, one, GUILD, "lost")
            assert beat.status_code == 503
            refused = await client.get(two.stream_url(GUILD), headers=two.auth)
            assert refused.status_code == 503
        # The open stream keeps its heartbeat comments throughout the outage.
        comments = [await stream.next_item(timeout=5) for _ in range(3)]
        assert all(item.comment == "heartbeat" for item in comments)
        await asyncio.to_thread(durable_redis.start)
        async with asyncio.timeout(15):
            while (await post_heartbeat(client, one, GUILD, "back")).status_code != 200:
                await asyncio.sleep(0.1)
        pushed = await stream.next_event(timeout=10)
        assert pushed.json()["version"] == "back"
        assert (await client.get(two.status_url(GUILD), headers=two.auth)).status_code == 200
    for server in (one, two):
        assert isinstance(server.runner, ProcessRunner)
        outage_lines = [ln for ln in server.runner.output().splitlines() if "unreachable" in ln]
        # One line for the outage, not one per request.
        assert len(outage_lines) == 1, outage_lines


async def test_redis_killed_under_load_loses_nothing_acknowledged(
    replicas: Replicas, durable_redis: RedisProcess
) -> None:
    servers = replicas(2, redis=durable_redis)
    acknowledged: dict[str, str] = {}
    refused = 0
    stop = asyncio.Event()

    async def bot(worker: int) -> None:
        nonlocal refused
        async with httpx.AsyncClient(timeout=10) as client:
            number = 0
            while not stop.is_set():
                guild = f"load-{worker}-{number % 20}"
                version = f"{worker}.{number}"
                try:
                    answer = await post_heartbeat(client, servers[number % 2], guild, version)
                except httpx.HTTPError:
                    answer = None
                if answer is not None and answer.status_code == 200:
                    acknowledged[guild] = version
                else:
                    refused += 1
                    await asyncio.sleep(0.02)
                number += 1

    workers = [asyncio.create_task(bot(n)) for n in range(4)]
    await asyncio.sleep(0.7)
    before = len(acknowledged)
    await asyncio.to_thread(durable_redis.kill)
    await asyncio.sleep(0.5)
    await asyncio.to_thread(durable_redis.start)
    await asyncio.sleep(1.5)
    stop.set()
    await asyncio.gather(*workers)
    assert before > 0
    assert refused > 0, "the outage was not seen"
    async with httpx.AsyncClient(timeout=10) as client:
        for guild, version in acknowledged.items():
            for server in servers:
                answer = await client.get(server.status_url(guild), headers=server.auth)
                assert answer.status_code == 200
                assert answer.json()["version"] == version, guild


async def test_the_landed_client_works_against_a_replica(replicas: Replicas) -> None:
    one, two = replicas(2)
    settings = EngineSettings(
        api_url=two.url,
        token=two.token,
        heartbeat_timeout=1.0,
        connect_timeout=5.0,
        backoff_base=0.05,
        backoff_cap=0.2,
        backoff_jitter=0.0,
        max_retries=50,
        poll_interval=60.0,
    )
    store = StatusStore()
    store.add_guilds((GUILD,))

    def version() -> str | None:
        status = store.get(GUILD).status
        return status.version if status else None

    async with httpx.AsyncClient(timeout=10) as client, running(settings, store):
        assert (await post_heartbeat(client, one, GUILD, "7.0.0")).status_code == 200
        await wait_until_async(lambda: version() == "7.0.0")
        assert store.get(GUILD).source == "stream"
        assert (await post_heartbeat(client, one, GUILD, "7.0.1")).status_code == 200
        await wait_until_async(lambda: version() == "7.0.1")
        assert store.get(GUILD).health == "online"


def test_a_replica_refuses_simulate_and_a_redis_it_cannot_reach(tmp_path: Path) -> None:
    import subprocess
    import sys

    base = [sys.executable, "-m", "guildwatch.server.main", "--port", "0"]
    env = {"GUILDWATCH_SERVER_TOKENS": "t", "PATH": "/usr/bin:/bin"}
    both = subprocess.run(
        [*base, "--redis", "redis://127.0.0.1:1/0", "--simulate"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert both.returncode == 2
    assert "--simulate" in both.stderr
    unreachable = subprocess.run(
        [*base, "--redis", "redis://127.0.0.1:1/0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert unreachable.returncode == 2
    assert "--redis: cannot use redis://127.0.0.1:1/0" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr


async def test_more_streams_opening_at_once_than_redis_connections_all_open(
    server_factory: ServerFactory, redis_server: RedisProcess
) -> None:
    # Regression: redis-py's default pool raised MaxConnectionsError past 100 concurrent
    # commands, so a burst of streams got 503s from a healthy Redis.
    server = server_factory(
        redis=redis_server.url, redis_prefix=redis_prefix(), max_streams_per_token=1000
    )
    host, port = server.url.removeprefix("http://").rsplit(":", 1)

    async def open_one() -> bytes:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            f"GET /api/v1/guilds/{GUILD}/status/stream HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {server.token}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        received = b""
        try:
            while b"\ndata: " not in received and b"\r\n\r\n{" not in received:
                chunk = await reader.read(4096)
                if not chunk:
                    break
                received += chunk
        finally:
            writer.close()
        return received.split(b"\r\n", 1)[0]

    async with asyncio.timeout(60):
        status_lines = await asyncio.gather(*(open_one() for _ in range(250)))
    assert set(status_lines) == {b"HTTP/1.1 200 OK"}
