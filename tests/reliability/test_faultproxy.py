"""The fault proxy itself, against a tiny upstream that streams a known byte pattern."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.faultproxy import FaultProxy

PATTERN = b"0123456789" * 10


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[str, int]]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(PATTERN)
        await writer.drain()
        await reader.read()  # keep the connection open until the client goes
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield "127.0.0.1", server.sockets[0].getsockname()[1]
    server.close()


@pytest.fixture
async def proxy(upstream: tuple[str, int]) -> AsyncIterator[FaultProxy]:
    fault_proxy = FaultProxy(*upstream)
    await fault_proxy.start()
    yield fault_proxy
    await fault_proxy.stop()


async def _connect(proxy: FaultProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"hello\n")
    await writer.drain()
    return reader, writer


async def test_forwards_bytes_unchanged(proxy: FaultProxy) -> None:
    reader, writer = await _connect(proxy)
    assert await asyncio.wait_for(reader.readexactly(len(PATTERN)), 5) == PATTERN
    writer.close()


async def test_close_after_cuts_the_stream_with_a_fin(proxy: FaultProxy) -> None:
    proxy.close_after(15)
    reader, writer = await _connect(proxy)
    assert await asyncio.wait_for(reader.read(), 5) == PATTERN[:15]
    writer.close()
    reader, writer = await _connect(proxy)  # one shot: the next connection is whole again
    assert await asyncio.wait_for(reader.readexactly(len(PATTERN)), 5) == PATTERN
    writer.close()


async def test_blackhole_sends_nothing_until_healed(proxy: FaultProxy) -> None:
    proxy.blackhole()
    reader, writer = await _connect(proxy)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.3)
    writer.close()


async def test_reset_all_sends_rst(proxy: FaultProxy) -> None:
    reader, writer = await _connect(proxy)
    await asyncio.wait_for(reader.readexactly(len(PATTERN)), 5)
    proxy.reset_all()
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(), 5)
    writer.close()


async def test_refuse_then_listen_again_on_the_same_port(proxy: FaultProxy) -> None:
    port = proxy.port
    await proxy.refuse()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    await proxy.start()
    assert proxy.port == port
    reader, writer = await _connect(proxy)
    assert await asyncio.wait_for(reader.readexactly(10), 5) == PATTERN[:10]
    writer.close()


async def test_bandwidth_cap_drips(proxy: FaultProxy) -> None:
    proxy.set_bandwidth(100)  # 1 byte per 10 ms
    reader, writer = await _connect(proxy)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(reader.readexactly(20), 5)
    assert loop.time() - started >= 0.15
    writer.close()
