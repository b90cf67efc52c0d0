"""Events per second through the engine into the store, against raw httpx-sse, same stream.

Run: ``.venv/bin/python bench/engine_throughput.py [events]``. A local asyncio server sends
the same pre-built stream (N status events, then a clean end) to both consumers in turn:

- raw: ``httpx_sse.aconnect_sse`` + ``aiter_sse`` + ``json.loads`` per event (no validation,
  no store): the floor our own parsing is compared with;
- engine: ``Engine`` + ``StatusStore``: bounded splitter, httpx-sse decoder, full payload
  validation (dateutil), one store write per event.

Also prints the peak traced memory while the engine refuses an 8 MiB line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

import httpx
from httpx_sse import aconnect_sse
from httpx_sse._decoders import SSEDecoder, SSELineDecoder

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
        if path.endswith("/status/stream") and path not in served:
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


async def raw_rate(url: str, count: int) -> float:
    async with httpx.AsyncClient(timeout=30) as client:
        started = time.perf_counter()
        seen = 0
        async with aconnect_sse(client, "GET", url) as source:
            async for sse in source.aiter_sse():
                json.loads(sse.data)
                seen += 1
        elapsed = time.perf_counter() - started
    assert seen == count, seen
    return count / elapsed


async def engine_rate(base_url: str, count: int) -> float:
    store = StatusStore()
    store.add_guild(GUILD)
    last = str(count - 1)
    done = asyncio.Event()
    subscription = store.subscribe(max_rate=1000)

    async def watch() -> None:
        async for _ in subscription:
            status = store.get(GUILD).status
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


async def main(count: int) -> None:
    body = build_stream(count)
    server, port = await serve(body)
    base = f"http://127.0.0.1:{port}"
    raw = await raw_rate(f"{base}/api/v1/guilds/raw/status/stream", count)
    engine = await engine_rate(base, count)
    server.close()
    print(f"stream: {count} events, {len(body) / 2**20:.1f} MiB")
    print(f"raw httpx-sse aiter_sse + json.loads: {raw:,.0f} events/s")
    print(f"engine into the store (validated):    {engine:,.0f} events/s ({engine / raw:.0%})")
    theirs, ours = parse_only_rates(body, count)
    print(f"parsing only, httpx-sse decoders: {theirs:,.0f} events/s")
    print(f"parsing only, engine _sse:        {ours:,.0f} events/s ({ours / theirs:.0%})")
    print(f"peak traced memory, 8 MiB line refused: {await eight_mib_peak():.2f} MiB")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000))
