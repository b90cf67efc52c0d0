"""Replicas on Redis: fan-out across 3 replicas against one SQLite server, in the same run.

Starts a real ``redis-server`` (temporary directory, free loopback port, append-only file with
``appendfsync everysec``: Redis's default durability) and ``guildwatch-server`` processes:

- **fan-out**: ``--streams`` raw-socket SSE readers spread over 3 replicas on Redis, then
  ``--events`` heartbeats with new versions posted to the first replica; events delivered per
  second until every stream has the last one. The floor is one ``--db :memory:`` server with
  the same streams and heartbeats (no network hop to a store), measured in the same run.
- **latency**: one stream on replica 2, heartbeats posted one at a time to replica 1; the time
  from sending the POST to the event arriving on the other replica (p50, p99).
- **memory**: RSS per open stream of a replica (streams open minus idle, divided by streams),
  against the SQLite server's.
- **the fan-out hop itself**: redis-py alone, ``XADD`` -> a reader blocked in ``XREAD BLOCK``
  (what the replicas use) against ``PUBLISH`` -> a ``SUBSCRIBE``\\ d reader (the alternative),
  p50 of the hop, so the choice of Stream reads is measured, not assumed.

    python -m bench redis_fanout --runs 1
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

from bench._report import Figure, Row
from bench.server_fanout import GUILD, cpu_seconds, open_readers, post_versions, rss_mib

NAME = "replicas on Redis"
PATH = f"/api/v1/guilds/{GUILD}/status/stream"
REPLICAS = 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """redis-server in a temporary directory; stopped on exit."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self._dir = tempfile.TemporaryDirectory(prefix="bench-redis-")
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self._dir.name]
        argv += [
            "--save",
            "",
            "--appendonly",
            "yes",
            "--logfile",
            str(Path(self._dir.name) / "log"),
        ]
        self._process = subprocess.Popen(argv)
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(15)
        self._dir.cleanup()


class Server:
    """One ``guildwatch-server`` child process (a replica, or the SQLite server)."""

    def __init__(self, token: str, bot: str, streams: int, extra: Sequence[str]) -> None:
        env = {
            **os.environ,
            "GUILDWATCH_SERVER_TOKENS": token,
            "GUILDWATCH_SERVER_BOT_TOKENS": bot,
        }
        argv = [sys.executable, "-m", "guildwatch.server.main", "--port", "0", "--db", ":memory:"]
        argv += ["--guild", GUILD, "--max-streams-per-token", str(streams + 10), *extra]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().split()[-1]
        host, port = self.url.removeprefix("http://").rsplit(":", 1)
        self.host, self.port = host, int(port)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(15)


async def _fan_out(
    targets: list[Server], poster: Server, token: str, bot: str, streams: int, events: int
) -> dict[str, float]:
    """Streams spread over ``targets``; heartbeats to ``poster``; delivered/s and RSS."""
    await asyncio.sleep(0.5)
    idle = [rss_mib(t.process.pid) for t in targets]
    tasks, counts = await open_readers([(t.host, t.port) for t in targets], token, streams, events)
    opened = [rss_mib(t.process.pid) for t in targets]
    before = sum(counts)
    cpu_before = sum(cpu_seconds(t.process.pid) for t in targets)
    started = time.perf_counter()
    await post_versions(poster.url, bot, events)
    await asyncio.wait_for(asyncio.gather(*tasks), 180)
    elapsed = time.perf_counter() - started
    cpu = sum(cpu_seconds(t.process.pid) for t in targets) - cpu_before
    delivered = sum(counts) - before
    per_stream = [
        (o - i) * 1024 / max(1, len(range(n, streams, len(targets))))
        for n, (o, i) in enumerate(zip(opened, idle, strict=True))
    ]
    return {
        "rate": delivered / elapsed,
        "per_cpu": delivered / max(cpu, 0.01),
        "kib_per_stream": statistics.mean(per_stream),
    }


async def _latency(one: Server, two: Server, token: str, bot: str, events: int) -> list[float]:
    """POST to replica 1 -> event on a stream of replica 2, one heartbeat at a time."""
    stream_reader, writer = await asyncio.open_connection(two.host, two.port)
    writer.write(
        f"GET {PATH} HTTP/1.1\r\nHost: {two.host}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    samples: list[float] = []
    try:
        buffer = b""
        while b"\ndata: " not in buffer:  # the first event (current status)
            buffer += await stream_reader.read(65536)
        async with httpx.AsyncClient(timeout=30) as client:
            for number in range(events):
                marker = f'"lat-{number}"'.encode()
                started = time.perf_counter()
                answer = await client.post(
                    f"{one.url}/api/v1/guilds/{GUILD}/heartbeat",
                    json={"version": f"lat-{number}"},
                    headers={"Authorization": f"Bearer {bot}"},
                )
                answer.raise_for_status()
                while marker not in buffer:
                    buffer += await asyncio.wait_for(stream_reader.read(65536), 30)
                samples.append(time.perf_counter() - started)
                buffer = buffer[buffer.index(marker) :]
    finally:
        writer.close()
    return samples


async def _hop(url: str, events: int) -> tuple[list[float], list[float]]:
    """redis-py alone: XADD -> XREAD BLOCK, and PUBLISH -> SUBSCRIBE, one message at a time."""
    writer = aioredis.Redis.from_url(url, decode_responses=True)
    blocking = aioredis.Redis.from_url(url, decode_responses=True)
    key = "bench:hop:" + secrets.token_hex(4)
    stream_samples: list[float] = []
    pubsub_samples: list[float] = []

    async def read_after(last: str) -> Any:
        return await blocking.xread({key: last}, count=10, block=5000)

    try:
        last = "0-0"
        for _ in range(events):
            read = asyncio.create_task(read_after(last))
            await asyncio.sleep(0.002)  # the reader is blocked in Redis
            started = time.perf_counter()
            await writer.xadd(key, {"d": "x"})
            reply = await read
            stream_samples.append(time.perf_counter() - started)
            last = reply[0][1][-1][0]
        pubsub = blocking.pubsub()
        await pubsub.subscribe(key)
        await pubsub.get_message(timeout=1)  # the subscribe confirmation
        for _ in range(events):
            started = time.perf_counter()
            await writer.publish(key, "x")
            while await pubsub.get_message(ignore_subscribe_messages=True, timeout=5) is None:
                pass
            pubsub_samples.append(time.perf_counter() - started)
        await pubsub.aclose()
        await writer.delete(key)
    finally:
        await writer.aclose()
        await blocking.aclose()
    return stream_samples, pubsub_samples


def _percentile(samples: Sequence[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def measure(streams: int, events: int, latency_events: int) -> dict[str, float]:
    token, bot = "bench-" + secrets.token_hex(8), "bot-" + secrets.token_hex(8)
    redis = RedisServer()
    started: list[Server] = []
    try:
        prefix = f"bench{secrets.token_hex(4)}:"
        replicas = [
            Server(token, bot, streams, ["--redis", redis.url, "--redis-prefix", prefix])
            for _ in range(REPLICAS)
        ]
        started += replicas
        sqlite = Server(token, bot, streams, [])
        started.append(sqlite)
        on_redis = await _fan_out(replicas, replicas[0], token, bot, streams, events)
        alone = await _fan_out([sqlite], sqlite, token, bot, streams, events)
        latency = await _latency(replicas[0], replicas[1], token, bot, latency_events)
        local = await _latency(sqlite, sqlite, token, bot, latency_events)
        stream_hop, pubsub_hop = await _hop(redis.url, max(latency_events, 5))
    finally:
        for server in started:
            server.stop()
        redis.stop()
    return {
        "rate": on_redis["rate"],
        "rate_floor": alone["rate"],
        "per_cpu": on_redis["per_cpu"],
        "per_cpu_floor": alone["per_cpu"],
        "kib": on_redis["kib_per_stream"],
        "kib_floor": alone["kib_per_stream"],
        "p50": statistics.median(latency) * 1000,
        "p99": _percentile(latency, 0.99) * 1000,
        "p50_floor": statistics.median(local) * 1000,
        "p99_floor": _percentile(local, 0.99) * 1000,
        "hop_stream": statistics.median(stream_hop) * 1000,
        "hop_pubsub": statistics.median(pubsub_hop) * 1000,
    }


def run(runs: int, streams: int = 1000, events: int = 100, latency_events: int = 200) -> list[Row]:
    results = [asyncio.run(measure(streams, events, latency_events)) for _ in range(runs)]

    def figure(key: str) -> Figure:
        return Figure.of([r[key] for r in results])

    floor = "one SQLite server"
    return [
        Row(
            NAME,
            f"events delivered to {streams} streams on {REPLICAS} replicas",
            "events/s",
            figure("rate"),
            floor,
            figure("rate_floor"),
            "report",
            None,
        ),
        Row(
            NAME,
            "events per server CPU-second (all replicas)",
            "events/s",
            figure("per_cpu"),
            floor,
            figure("per_cpu_floor"),
            "report",
            None,
        ),
        Row(
            NAME,
            "heartbeat on replica 1 -> stream on replica 2, p50",
            "ms",
            figure("p50"),
            "same server",
            figure("p50_floor"),
            "< 100 ms",
            max(r["p50"] for r in results) < 100,
        ),
        Row(
            NAME,
            "heartbeat on replica 1 -> stream on replica 2, p99",
            "ms",
            figure("p99"),
            "same server",
            figure("p99_floor"),
            "< 100 ms",
            max(r["p99"] for r in results) < 100,
        ),
        Row(
            NAME,
            "memory per open stream (replica RSS)",
            "KiB",
            figure("kib"),
            floor,
            figure("kib_floor"),
            "report",
            None,
        ),
        Row(
            NAME,
            "fan-out hop: XADD -> XREAD BLOCK, p50",
            "ms",
            figure("hop_stream"),
            "PUBLISH -> SUBSCRIBE",
            figure("hop_pubsub"),
            "report",
            None,
            f"replicas on Redis: {REPLICAS} guildwatch-server replicas and one --db :memory: "
            f"server as subprocesses, one redis-server (appendfsync everysec), {events} "
            f"heartbeats with new versions posted to replica 1, raw-socket readers; latency "
            f"over {latency_events} heartbeats, one at a time, from sending the POST to the "
            "event on the other replica (so it includes the POST's own round trip).",
        ),
    ]
