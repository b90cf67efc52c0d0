"""The reference server under load from a second process, then SIGTERM and kill -9.

Run: ``.venv/bin/python -m bench.server_load [--streams 500] [--rate 200] [--seconds 20]``.

This process is the load: it starts ``guildwatch-server`` as a child (its own process and
core), opens ``--streams`` SSE streams spread over ``--guilds`` guilds with a minimal raw
HTTP/1.1 reader (so the client side costs little), and posts ``--rate`` bot heartbeats a second,
each with a new version so that each one is a status change every stream of that guild must see.

Checks, each printed and reflected in the exit code (0 = all passed):

1. no dropped status change: after the load, one last heartbeat per guild; every stream must
   see it, no stream may be closed by the server, and ids only grow on every stream;
2. latency, heartbeat POST sent -> event received on a stream: p50, p99, max;
3. SIGTERM: exit 0 within a bound, and SQLite holds every guild's last heartbeat, intact;
4. kill -9 during the load: ``PRAGMA integrity_check`` is ``ok``; what was lost had been
   acknowledged only within the last flush period; the file opens again and is served.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import secrets
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

FLUSH_INTERVAL = 0.5
"""``ServerConfig.flush_interval``'s default, which ``guildwatch-server`` uses."""


class ServerProcess:
    """``guildwatch-server`` as a child process, restartable on the same port and database.

    Args:
        db: SQLite file.
        guild_ids: Guilds served from the start.
        extra: More flags (e.g. ``--simulate``).
    """

    def __init__(self, db: str, guild_ids: Sequence[str] = (), extra: Sequence[str] = ()):
        self.db = db
        self.token = "client-" + secrets.token_hex(12)
        self.bot_token = "bot-" + secrets.token_hex(12)
        self.port = 0
        self.url = ""
        self._guild_args = [arg for g in guild_ids for arg in ("--guild", g)]
        self.extra = list(extra)
        self._process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self, timeout: float = 20.0) -> None:
        """Start (on the previous port after the first start) and wait for its URL."""
        argv = [sys.executable, "-m", "guildwatch.server.main", "--port", str(self.port)]
        argv += ["--db", self.db, *self._guild_args, *self.extra]
        env = {
            **os.environ,
            "GUILDWATCH_SERVER_TOKENS": self.token,
            "GUILDWATCH_SERVER_BOT_TOKENS": self.bot_token,
            "PYTHONUNBUFFERED": "1",
        }
        process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        self._process = process
        listening = threading.Event()

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                self.output.append(line.rstrip("\n"))
                if " listening on " in line:
                    self.url = line.split()[-1]
                    listening.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not listening.wait(0.05):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start:\n" + "\n".join(self.output[-20:]))
        self.port = int(self.url.rsplit(":", 1)[1])

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def terminate(self, timeout: float = 30.0) -> tuple[int, float]:
        """SIGTERM; returns the exit code and the seconds it took to exit."""
        assert self._process is not None
        started = time.monotonic()
        self._process.send_signal(signal.SIGTERM)
        code = self._process.wait(timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL, then reap it."""
        assert self._process is not None
        self._process.kill()
        self._process.wait(10)

    def stop_quietly(self) -> None:
        """Whatever state it is in, make sure it is gone (for ``finally`` blocks)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_db(path: str) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=10)


def stored_versions(path: str) -> dict[str, str | None]:
    """Every guild's stored version (opening also replays a WAL left by a kill)."""
    with contextlib.closing(open_db(path)) as conn:
        return dict(conn.execute("SELECT id, version FROM guilds").fetchall())


def integrity(path: str) -> str:
    with contextlib.closing(open_db(path)) as conn:
        result: str = conn.execute("PRAGMA integrity_check").fetchone()[0]
    return result


# -- the load ----------------------------------------------------------------------------


@dataclass
class StreamLog:
    """What one stream saw."""

    guild_id: str
    versions: list[tuple[str, float]] = field(default_factory=list)
    """(version, monotonic time received)."""
    ids: list[int] = field(default_factory=list)
    ended: str | None = None
    """Why it ended early, if it did."""


async def read_stream(host: str, port: int, path: str, token: str, log: StreamLog) -> None:
    """A minimal SSE reader over raw HTTP/1.1 with chunked transfer coding."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n"
                "Cache-Control: no-cache\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if head.split(b" ", 2)[1] != b"200":
            log.ended = head.split(b"\r\n", 1)[0].decode()
            return
        pending = b""
        data = ""
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                log.ended = "end of body"
                return
            pending += (await reader.readexactly(size + 2))[:-2]
            *lines, pending = pending.split(b"\n")
            now = time.monotonic()
            for line in lines:
                if line.startswith(b"data: "):
                    data = line[6:].decode()
                elif line.startswith(b"id: "):
                    log.ids.append(int(line[4:]))
                elif not line and data:
                    log.versions.append((json.loads(data)["version"], now))
                    data = ""
    except (OSError, asyncio.IncompleteReadError) as exc:
        log.ended = type(exc).__name__
    finally:
        writer.close()


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass
class Sender:
    """Posts heartbeats over a few raw keep-alive connections; remembers sends and acks.

    Raw HTTP/1.1 rather than httpx: httpx costs the driver ~3 ms of CPU per request, more
    than the server spends on a heartbeat and its deliveries, so it would measure itself.
    """

    port: int
    bot_token: str
    connections: int = 32
    sent_at: dict[str, float] = field(default_factory=dict)
    acked: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    failures: int = 0
    _pool: asyncio.Queue[Connection | None] = field(default_factory=asyncio.Queue)

    def __post_init__(self) -> None:
        for _ in range(self.connections):
            self._pool.put_nowait(None)  # opened on first use

    async def post(self, guild_id: str, version: str) -> None:
        connection = await self._pool.get()
        body = json.dumps({"version": version}).encode()
        request = (
            f"POST /api/v1/guilds/{guild_id}/heartbeat HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {self.bot_token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        try:
            if connection is None:
                connection = await asyncio.open_connection("127.0.0.1", self.port)
            reader, writer = connection
            self.sent_at[version] = time.monotonic()
            writer.write(request + body)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.lower().split(b"\r\n")
                if line.startswith(b"content-length:")
            )
            await reader.readexactly(length)
            if head.startswith(b"HTTP/1.1 200"):
                self.acked.setdefault(guild_id, []).append((version, time.monotonic()))
            else:
                self.failures += 1
        except (OSError, asyncio.IncompleteReadError, StopIteration):
            self.failures += 1
            if connection is not None:
                connection[1].close()
            connection = None
        self._pool.put_nowait(connection)

    async def close(self) -> None:
        for _ in range(self.connections):
            connection = await self._pool.get()
            if connection is not None:
                connection[1].close()

    async def run(self, guild_ids: Sequence[str], rate: float, seconds: float) -> float:
        """Send for ``seconds`` at ``rate``/s round-robin; returns the rate achieved."""
        tasks: set[asyncio.Task[None]] = set()
        limit = asyncio.Semaphore(self.connections)
        started = time.monotonic()
        counter = itertools.count(1)
        for number in counter:
            due = started + (number - 1) / rate
            if due - started >= seconds:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await limit.acquire()
            guild_id = guild_ids[number % len(guild_ids)]
            task = asyncio.create_task(self.post(guild_id, f"{guild_id}:{number}"))
            tasks.add(task)

            def done(finished: asyncio.Task[None]) -> None:
                tasks.discard(finished)
                limit.release()

            task.add_done_callback(done)
        if tasks:
            await asyncio.wait(tasks)
        return len(self.sent_at) / (time.monotonic() - started)


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class Verdict:
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> None:
        print(f"  [{'ok' if ok else 'FAIL'}] {what}", flush=True)
        if not ok:
            self.failures.append(what)


async def load_phase(
    server: ServerProcess,
    guild_ids: list[str],
    *,
    streams: int,
    rate: float,
    seconds: float,
    verdict: Verdict,
) -> Sender:
    """Open the streams, send the load and the final heartbeats, check every stream."""
    host, port = "127.0.0.1", server.port
    logs = [StreamLog(guild_ids[i % len(guild_ids)]) for i in range(streams)]
    paths = [f"/api/v1/guilds/{log.guild_id}/status/stream" for log in logs]
    readers = [
        asyncio.create_task(read_stream(host, port, path, server.token, log))
        for path, log in zip(paths, logs, strict=True)
    ]
    await _until(lambda: all(log.versions for log in logs), 60, "every stream's first event")
    print(f"  {streams} streams open over {len(guild_ids)} guilds", flush=True)
    sender = Sender(server.port, server.bot_token)
    try:
        server_cpu, own_cpu = cpu_seconds(server.pid), cpu_seconds(os.getpid())
        achieved = await sender.run(guild_ids, rate, seconds)
        server_cpu = cpu_seconds(server.pid) - server_cpu
        own_cpu = cpu_seconds(os.getpid()) - own_cpu
        sent = len(sender.sent_at)
        print(f"  heartbeats: {sent} sent, {achieved:.0f}/s achieved", flush=True)
        print(
            f"  CPU during the load: server {server_cpu:.1f} s "
            f"({server_cpu / max(sent, 1) * 1000:.2f} ms per heartbeat incl. "
            f"{streams // len(guild_ids)} deliveries), load driver {own_cpu:.1f} s; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
            flush=True,
        )
        for guild_id in guild_ids:
            await sender.post(guild_id, f"{guild_id}:final")
    finally:
        await sender.close()
    finals_seen = await _until(
        lambda: all(log.versions[-1][0] == f"{log.guild_id}:final" for log in logs),
        60,
        "every stream's final event",
        fail=False,
    )
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)

    latencies = [
        received - sender.sent_at[version]
        for log in logs
        for version, received in log.versions[1:]
        if version in sender.sent_at
    ]
    changes = {g: sum(1 for v in sender.sent_at if v.startswith(g + ":")) for g in guild_ids}
    missed = sum(changes[log.guild_id] - (len(log.versions) - 1) for log in logs)
    verdict.check(sender.failures == 0, f"every heartbeat accepted ({sender.failures} failed)")
    verdict.check(finals_seen, "every stream saw its guild's final status")
    verdict.check(not any(log.ended for log in logs), "no stream was closed by the server")
    verdict.check(
        all(a < b for log in logs for a, b in itertools.pairwise(log.ids)),
        "ids only grow on every stream",
    )
    verdict.check(missed == 0, f"no status change missed on any stream ({missed} missed)")
    if latencies:
        print(
            f"  latency POST->event over {len(latencies)} deliveries: "
            f"p50 {statistics.median(latencies) * 1000:.1f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
            f"max {max(latencies) * 1000:.1f} ms",
            flush=True,
        )
    return sender


async def _until(
    check: Callable[[], bool], timeout: float, what: str, *, fail: bool = True
) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            if fail:
                raise RuntimeError(f"timed out waiting for {what}")
            return False
        await asyncio.sleep(0.05)
    return True


def run(streams: int, guilds: int, rate: float, seconds: float, workdir: Path) -> list[str]:
    """Both phases; returns the failed checks (empty: all passed)."""
    verdict = Verdict()
    guild_ids = [f"load-{i:03d}" for i in range(guilds)]
    extra = ["--max-streams-per-token", str(streams + 10), "--heartbeat-interval", "5"]

    print(f"== load: {streams} streams, {rate:g} heartbeats/s for {seconds:g} s", flush=True)
    db = str(workdir / "load.sqlite3")
    server = ServerProcess(db, guild_ids, extra)
    server.start()
    try:
        asyncio.run(
            load_phase(
                server, guild_ids, streams=streams, rate=rate, seconds=seconds, verdict=verdict
            )
        )
        code, took = server.terminate()
        print(f"  SIGTERM with {streams} streams just closed: exit {code} in {took:.2f} s")
        verdict.check(code == 0 and took < 10, "clean shutdown (exit 0 within 10 s)")
        stored = stored_versions(db)
        verdict.check(integrity(db) == "ok", "SQLite integrity_check ok after SIGTERM")
        verdict.check(
            all(stored.get(g) == f"{g}:final" for g in guild_ids),
            "every guild's last heartbeat flushed to SQLite",
        )
    finally:
        server.stop_quietly()

    print(f"== kill -9 during the load ({rate:g} heartbeats/s)", flush=True)
    db = str(workdir / "kill.sqlite3")
    server = ServerProcess(db, guild_ids, extra)
    server.start()
    try:
        acked, killed = asyncio.run(kill_phase(server, guild_ids, rate))
        verdict.check(integrity(db) == "ok", "SQLite integrity_check ok after kill -9")
        stored = stored_versions(db)
        worst_lost, worst_age = 0, 0.0
        for guild_id, history in acked.items():
            versions = [version for version, _ in history]
            kept = stored.get(guild_id)
            index = versions.index(kept) if kept in versions else -1
            lost = history[index + 1 :]
            worst_lost = max(worst_lost, len(lost))
            if lost:
                worst_age = max(worst_age, killed - lost[0][1])
        print(
            f"  lost per guild: at most {worst_lost} acknowledged heartbeats, all acknowledged "
            f"within {worst_age * 1000:.0f} ms before the kill (flush every "
            f"{FLUSH_INTERVAL * 1000:.0f} ms)"
        )
        verdict.check(
            worst_age <= FLUSH_INTERVAL + 0.5, "only heartbeats from the last flush period lost"
        )
        server.start()  # same port, same file
        with httpx.Client(headers={"Authorization": f"Bearer {server.token}"}) as client:
            served = client.get(f"{server.url}/api/v1/guilds/{guild_ids[0]}/status").json()
        verdict.check(
            served["version"] == stored[guild_ids[0]], "restarted server serves the stored state"
        )
        server.terminate()
    finally:
        server.stop_quietly()
    return verdict.failures


async def kill_phase(
    server: ServerProcess, guild_ids: list[str], rate: float
) -> tuple[dict[str, list[tuple[str, float]]], float]:
    """Send heartbeats, kill -9 the server 3 s in; returns the acks and the kill time."""
    sender = Sender(server.port, server.bot_token)
    load = asyncio.create_task(sender.run(guild_ids, rate, 6.0))
    await asyncio.sleep(3.0)
    killed = time.monotonic()
    server.kill()
    await load
    await sender.close()
    print(f"  killed after {sum(map(len, sender.acked.values()))} acknowledged heartbeats")
    return sender.acked, killed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server_load", description=__doc__)
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--guilds", type=int, default=50)
    parser.add_argument("--rate", type=float, default=200.0, help="heartbeats per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the load")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="guildwatch-load-") as workdir:
        failures = run(args.streams, args.guilds, args.rate, args.seconds, Path(workdir))
    print("== result:", "all checks passed" if not failures else f"{len(failures)} FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
