"""Burst: 10,000 events back to back; time until the last shows, frames drawn, lag behind.

The reference server cannot produce this burst on purpose: it emits at most one event per
heartbeat and drops a stream more than 64 events behind (its ``queue_size``). So a small SSE
server in a thread of this process plays "any server that speaks the protocol": the first
stream request gets one event (the screen shows Online), then, when the bench says so, the
whole burst in one write, and then the connection stays open.

- time until the last shows: from the burst's first byte to ``v<last version>`` read from the
  pty, for ``guildwatch`` in an 80x24 pty;
- behind: from the moment the server's socket accepted the last byte (``drain()``) to the
  last version on screen: how far the screen trails the stream at its worst point;
- frames: synchronized-output frames (``ESC[?2026h``) written during the burst;
- floor: parsing the same bytes in-process with httpx-sse's decoders plus ``json.loads``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import UTC, datetime, timedelta

from httpx_sse._decoders import SSEDecoder, SSELineDecoder

from bench._command import command_name, guildwatch
from bench._pty import SYNC_START, PtyProgram
from bench._report import Figure, Row

NAME = "burst"
DEFAULT_EVENTS = 10_000
TARGET_BEHIND_MS = 100.0
GUILD = "800000000000000077"
HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Connection: close\r\n\r\n"
)


def burst_body(count: int, prefix: str, first_id: int) -> bytes:
    """``count`` status changes, each with a new version and heartbeat time."""
    start = datetime.now(UTC) - timedelta(seconds=count)
    parts = []
    for number in range(count):
        beat = (start + timedelta(seconds=number)).strftime("%Y-%m-%dT%H:%M:%SZ")
        data = json.dumps({"healthy": True, "lastHeartbeat": beat, "version": f"{prefix}.{number}"})
        parts.append(f"id: {first_id + number}\ndata: {data}\n\n")
    return "".join(parts).encode()


def raw_parse_seconds(body: bytes) -> float:
    """The floor: httpx-sse's line and event decoders plus json.loads, 64 KiB reads."""
    started = time.perf_counter()
    lines, decoder = SSELineDecoder(), SSEDecoder()
    for offset in range(0, len(body), 65536):
        for line in lines.decode(body[offset : offset + 65536].decode()):
            sse = decoder.decode(line)
            if sse is not None:
                json.loads(sse.data)
    return time.perf_counter() - started


class BurstServer:
    """The one-guild SSE server, on its own loop in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.connected = threading.Event()
        self.burst: asyncio.Future[bytes] | None = None
        self.drained_at = 0.0
        self.first_byte_at = 0.0
        self.done = threading.Event()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if b" /api/v1/bot/" in head.split(b"\r\n", 1)[0]:
                # The bot-level status is optional: this server has none, as the protocol
                # allows (the screen's bot watcher asks for it too).
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return
            first = {"healthy": True, "lastHeartbeat": None, "version": "start"}
            writer.write(HEAD + f"id: 1\ndata: {json.dumps(first)}\n\n".encode())
            await writer.drain()
            self.burst = self.loop.create_future()
            self.connected.set()
            body = await self.burst
            self.first_byte_at = time.perf_counter()
            writer.write(body)
            await writer.drain()
            self.drained_at = time.perf_counter()
            self.done.set()
            await reader.read()  # keep the stream open until the client goes
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def send(self, body: bytes) -> None:
        burst = self.burst
        assert burst is not None
        self.loop.call_soon_threadsafe(burst.set_result, body)

    def close(self) -> None:
        async def stop() -> None:
            self._server.close()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def _one_run(count: int, prefix: str) -> tuple[float, float, int, float]:
    """Seconds to the last version on screen, ms behind, frames, raw parse seconds."""
    body = burst_body(count, prefix, first_id=2)
    server = BurstServer()
    try:
        argv, env = guildwatch(f"http://127.0.0.1:{server.port}", "bench-token", [GUILD])
        with PtyProgram(argv, env=env) as program:
            program.wait_for(b"Online", timeout=60)
            if not server.connected.wait(30):
                raise TimeoutError("guildwatch never opened the stream")
            program.read_for(0.5)
            since = len(program.output)
            server.send(body)
            seen = program.seen_at(f"v{prefix}.{count - 1}".encode(), timeout=120, since=since)
            if not server.done.wait(30):
                raise TimeoutError("the burst was never fully written")
            program.read_for(0.3)
            frames = program.output.count(SYNC_START, since)
        return (
            seen - server.first_byte_at,
            1000 * (seen - server.drained_at),
            frames,
            raw_parse_seconds(body),
        )
    finally:
        server.close()


def run(runs: int, events: int = DEFAULT_EVENTS) -> list[Row]:
    totals: list[float] = []
    behind: list[float] = []
    frames: list[float] = []
    floors: list[float] = []
    for number in range(runs):
        total, lag, drawn, parse = _one_run(events, f"5{number}")
        totals.append(total)
        behind.append(lag)
        frames.append(drawn)
        floors.append(parse)
    lag_figure = Figure.of(behind)
    floor_name = "raw parse, httpx-sse decoders + json.loads"
    return [
        Row(
            NAME,
            f"{events:,} events: first byte to last version on screen",
            "s",
            Figure.of(totals),
            floor_name,
            Figure.of(floors),
            "-",
            None,
        ),
        Row(
            NAME,
            "screen behind the stream (last byte accepted to last version shown)",
            "ms",
            lag_figure,
            "-",
            None,
            f"<= {TARGET_BEHIND_MS:g} ms",
            lag_figure.high <= TARGET_BEHIND_MS,  # in every run
        ),
        Row(
            NAME,
            "frames drawn during the burst",
            "frames",
            Figure.of(frames),
            "-",
            None,
            "-",
            None,
            f"burst: {command_name()} in an 80x24 pty against a minimal SSE server (the "
            "reference server drops a stream 64 events behind, by design); frames counted as "
            "synchronized-output sequences.",
        ),
    ]
