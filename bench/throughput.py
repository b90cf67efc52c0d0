"""Event throughput: events/s from a local server through the engine into the store.

``python -m bench throughput``. A local asyncio server sends the same pre-built stream
(N status events, then a clean end) to each consumer in turn, in the same process (the floors
are in-process too, so this one is measured in-process):

- floors: raw ``aiter_bytes`` (the socket), ``aiter_lines``, and plain httpx-sse
  ``aiter_sse`` + ``json.loads`` per event (no validation, no store);
- guildwatch: ``Engine`` + ``StatusStore``: bounded splitter, spec-exact SSE parsing, full
  payload validation, one store write per event.

Also: parsing alone (no socket) against httpx-sse's decoders, and the peak traced memory while
the engine refuses an 8 MiB line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

import httpx
from httpx_sse import aconnect_sse
from httpx_sse._decoders import SSEDecoder, SSELineDecoder

from bench._report import Figure, Row
from guildwatch.engine import Engine, EngineSettings
from guildwatch.engine._sse import EventParser
from guildwatch.store import StatusStore

GUILD = "1"
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"


def build_stream(count: int) -> bytes:
    """Worst case for the engine: every event changes health and has a new heartbeat time."""
    parts = []
    start = datetime(2026, 11, 22, 14, 3, tzinfo=UTC)
    for i in range(count):
        beat = (start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        data = json.dumps({"healthy": i % 2 == 0, "lastHeartbeat": beat, "version": str(i)})
        parts.append(f"id: {i + 1}\ndata: {data}\n\n")
    return "".join(parts).encode()


async def serve(body: bytes) -> tuple[asyncio.Server, int]:
    """First request on each path gets ``body`` then a clean end; later ones hang open."""
    served: set[str] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return
        path = request.split(b" ", 2)[1].decode()
        if "/status/stream" in path and path not in served:
            served.add(path)
            writer.write(HEAD)
            writer.write(body)
            await writer.drain()
        else:
            writer.write(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            await reader.read()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def floor_rates(url: str, count: int, size: int) -> tuple[float, float, float]:
    """Events/s for the three floors: aiter_bytes, aiter_lines, aiter_sse + json.loads."""
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        started = time.perf_counter()
        received = 0
        async with client.stream("GET", f"{url}-bytes") as response:
            async for chunk in response.aiter_bytes():
                received += len(chunk)
        assert received == size, received
        raw_bytes = count / (time.perf_counter() - started)
        started = time.perf_counter()
        lines = 0
        async with client.stream("GET", f"{url}-lines") as response:
            async for _ in response.aiter_lines():
                lines += 1
        assert lines >= 2 * count, lines
        raw_lines = count / (time.perf_counter() - started)
        started = time.perf_counter()
        seen = 0
        async with aconnect_sse(client, "GET", f"{url}-sse") as source:
            async for sse in source.aiter_sse():
                json.loads(sse.data)
                seen += 1
        assert seen == count, seen
        sse_json = count / (time.perf_counter() - started)
    return raw_bytes, raw_lines, sse_json


async def engine_rate(base_url: str, guild: str, count: int) -> float:
    store = StatusStore()
    store.add_guild(guild)
    last = str(count - 1)
    done = asyncio.Event()
    subscription = store.subscribe(max_rate=1000)

    async def watch() -> None:
        async for _ in subscription:
            status = store.get(guild).status
            if status is not None and status.version == last:
                done.set()
                return

    settings = EngineSettings(api_url=base_url, token="bench", backoff_base=60, poll_interval=600)
    engine = Engine(settings, store)
    watcher = asyncio.create_task(watch())
    started = time.perf_counter()
    runner = asyncio.create_task(engine.run())
    await asyncio.wait_for(done.wait(), 120)
    elapsed = time.perf_counter() - started
    await engine.stop()
    await runner
    subscription.close()
    await watcher
    return count / elapsed


async def eight_mib_peak() -> float:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return
        writer.write(HEAD + b"data: ")
        block = b"x" * 65536
        try:
            for _ in range(128):  # 8 MiB
                writer.write(block)
                await writer.drain()
            writer.write(b"\n\n")
            await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = StatusStore()
    store.add_guild(GUILD)
    settings = EngineSettings(
        api_url=f"http://127.0.0.1:{port}", token="bench", backoff_base=60, poll_interval=600
    )
    engine = Engine(settings, store)
    tracemalloc.start()
    runner = asyncio.create_task(engine.run())
    while (error := store.get(GUILD).error) is None:
        await asyncio.sleep(0.01)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert error.kind == "too_large", error
    await engine.stop()
    await runner
    server.close()
    return peak / 2**20


def parse_only_rates(body: bytes, count: int) -> tuple[float, float]:
    """Parsing alone, no network: httpx-sse's decoders vs ours, each plus json.loads."""
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    started = time.perf_counter()
    lines, decoder, seen = SSELineDecoder(), SSEDecoder(), 0
    for chunk in chunks:
        for line in lines.decode(chunk.decode()):
            sse = decoder.decode(line)
            if sse is not None:
                json.loads(sse.data)
                seen += 1
    theirs = count / (time.perf_counter() - started)
    assert seen == count
    started = time.perf_counter()
    parser, seen = EventParser(2**20), 0
    for chunk in chunks:
        for event in parser.feed(chunk):
            json.loads(event.data)
            seen += 1
    ours = count / (time.perf_counter() - started)
    assert seen == count
    return theirs, ours


NAME = "event throughput"
TARGET_RATIO = 1.5
"""The engine, validating and storing, against plain httpx-sse + json.loads."""
DEFAULT_EVENTS = 50_000


async def _measure(runs: int, count: int) -> dict[str, list[float]]:
    body = build_stream(count)
    server, port = await serve(body)
    base = f"http://127.0.0.1:{port}"
    rates: dict[str, list[float]] = {
        "bytes": [],
        "lines": [],
        "sse": [],
        "engine": [],
        "parse_theirs": [],
        "parse_ours": [],
    }
    try:
        for number in range(runs):
            raw_bytes, raw_lines, sse_json = await floor_rates(
                f"{base}/api/v1/guilds/floor{number}/status/stream", count, len(body)
            )
            rates["bytes"].append(raw_bytes)
            rates["lines"].append(raw_lines)
            rates["sse"].append(sse_json)
            rates["engine"].append(await engine_rate(base, f"engine{number}", count))
            theirs, ours = parse_only_rates(body, count)
            rates["parse_theirs"].append(theirs)
            rates["parse_ours"].append(ours)
        rates["peak"] = [await eight_mib_peak()]
    finally:
        server.close()
    return rates


def run(runs: int, events: int = DEFAULT_EVENTS) -> list[Row]:
    # The 8 MiB refusal and the clean ends are logged as warnings: not for the report.
    logging.getLogger("guildwatch").addHandler(logging.NullHandler())
    rates = asyncio.run(_measure(runs, events))
    engine = Figure.of(rates["engine"])
    note = (
        f"event throughput: {events:,} events per run ({len(build_stream(events)) / 2**20:.1f} "
        "MiB), every event a status change; local asyncio server, consumers in-process."
    )

    def row(metric: str, floor_name: str, key: str, target: str, ratio: float | None) -> Row:
        floor = Figure.of(rates[key])
        # Met in every run, not only in the median: each run's engine against its own floor.
        per_run = zip(rates["engine"], rates[key], strict=True)
        met = None if ratio is None else all(ours >= ratio * theirs for ours, theirs in per_run)
        return Row(NAME, metric, "events/s", engine, floor_name, floor, target, met)

    parse_ours, parse_theirs = Figure.of(rates["parse_ours"]), Figure.of(rates["parse_theirs"])
    return [
        row(
            "engine into the store, validated",
            "httpx-sse aiter_sse + json.loads",
            "sse",
            f">= {TARGET_RATIO:g} x",
            TARGET_RATIO,
        ),
        row("engine into the store, validated", "httpx aiter_lines", "lines", "-", None),
        row("engine into the store, validated", "httpx aiter_bytes", "bytes", "-", None),
        Row(
            NAME,
            "parsing only (no socket) + json.loads",
            "events/s",
            parse_ours,
            "httpx-sse SSELineDecoder/SSEDecoder + json.loads",
            parse_theirs,
            ">= 1.0 x",
            parse_ours.median >= parse_theirs.median,
        ),
        Row(
            NAME,
            "peak traced memory while refusing an 8 MiB line",
            "MiB",
            Figure.of(rates["peak"]),
            "-",
            None,
            "bounded (cap 1 MiB)",
            rates["peak"][0] < 8,
            note,
        ),
    ]
