"""Fan-out figure: events/s the reference server pushes to N open streams, and its RSS.

Starts ``guildwatch-server`` as a child process (so the clients here do not share its core),
opens ``--streams`` SSE streams to one guild, then posts ``--events`` heartbeats with distinct
versions (each one is a status change, so one event per stream) and waits until every stream
has received the last one. Reports events delivered per second, per server CPU-second, and
the server's RSS (VmRSS) idle and with the streams open.

    python -m bench server_fanout --runs 3
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time

import httpx

from bench._report import Figure, Row

GUILD = "111111111111111111"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """Resident set size of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def reader(
    host: str,
    port: int,
    path: str,
    token: str,
    last: bytes,
    ready: asyncio.Event,
    counts: list[int],
    slot: int,
) -> None:
    """A raw-socket SSE reader: counts ``data:`` lines until the last event's marker.

    Raw asyncio streams rather than httpx, so that the clients cost little CPU and the figure
    measures the server, not the client's parser.
    """
    stream_reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    tail = b""
    try:
        while True:
            chunk = await stream_reader.read(65536)
            if not chunk:
                raise RuntimeError("stream ended early")
            window = tail + chunk
            counts[slot] += window.count(b"\ndata: ") - tail.count(b"\ndata: ")
            if counts[slot]:
                ready.set()
            if last in window:
                return
            tail = window[-64:]
    finally:
        writer.close()


async def open_readers(
    targets: list[tuple[str, int]], token: str, streams: int, events: int
) -> tuple[list[asyncio.Task[None]], list[int]]:
    """``streams`` readers of the guild's stream spread over ``targets`` (host, port), each
    until the last version ``v-{events - 1}``; returns once every one has its first event."""
    counts = [0] * streams
    readies = [asyncio.Event() for _ in range(streams)]
    last = f'"v-{events - 1}"'.encode()
    path = f"/api/v1/guilds/{GUILD}/status/stream"
    tasks = []
    for n in range(streams):
        host, port = targets[n % len(targets)]
        tasks.append(
            asyncio.create_task(reader(host, port, path, token, last, readies[n], counts, n))
        )
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 120)
    return tasks, counts


async def post_versions(url: str, bot: str, events: int) -> None:
    """Post ``events`` heartbeats with the versions ``v-0`` .. ``v-{events - 1}``."""
    async with httpx.AsyncClient(timeout=60) as poster:
        for number in range(events):
            answer = await poster.post(
                f"{url}/api/v1/guilds/{GUILD}/heartbeat",
                json={"version": f"v-{number}"},
                headers={"Authorization": f"Bearer {bot}"},
            )
            answer.raise_for_status()


NAME = "server fan-out"


async def measure(streams: int, events: int, guilds: int) -> dict[str, float]:
    """One fan-out run: delivered events/s, events per server CPU-second, RSS in MiB."""
    token, bot = "bench-" + secrets.token_hex(8), "bot-" + secrets.token_hex(8)
    env = {**os.environ, "GUILDWATCH_SERVER_TOKENS": token, "GUILDWATCH_SERVER_BOT_TOKENS": bot}
    argv = [sys.executable, "-m", "guildwatch.server.main", "--port", "0", "--db", ":memory:"]
    argv += ["--guild", GUILD, "--max-streams-per-token", str(streams + 10)]
    if guilds:
        argv += ["--simulate", "--guilds", str(guilds)]
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[-1]
        await asyncio.sleep(1.0)
        idle = rss_mib(server.pid)
        host, port = url.removeprefix("http://").rsplit(":", 1)
        tasks, counts = await open_readers([(host, int(port))], token, streams, events)
        opened = rss_mib(server.pid)
        before = sum(counts)
        cpu_before = cpu_seconds(server.pid)
        started = time.perf_counter()
        await post_versions(url, bot, events)
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(server.pid) - cpu_before
        delivered = sum(counts) - before
        after = rss_mib(server.pid)
        return {
            "rate": delivered / elapsed,
            "per_cpu": delivered / max(cpu, 0.01),
            "idle": idle,
            "opened": opened,
            "after": after,
        }
    finally:
        server.terminate()
        server.wait(15)


def run(runs: int, streams: int = 100, events: int = 500) -> list[Row]:
    results = [asyncio.run(measure(streams, events, 0)) for _ in range(runs)]

    def figure(key: str) -> Figure:
        return Figure.of([r[key] for r in results])

    return [
        Row(
            NAME,
            f"events delivered to {streams} streams",
            "events/s",
            figure("rate"),
            "-",
            None,
            "report",
            None,
        ),
        Row(
            NAME,
            "events per server CPU-second",
            "events/s",
            figure("per_cpu"),
            "-",
            None,
            "report",
            None,
        ),
        Row(
            NAME,
            f"server RSS, {streams} streams open",
            "MiB",
            figure("opened"),
            "server idle",
            figure("idle"),
            "report",
            None,
            f"server fan-out: guildwatch-server subprocess, {events} heartbeats with new "
            "versions, raw-socket readers (so the figure is the server's, not a client's).",
        ),
    ]
