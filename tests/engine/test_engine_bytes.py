"""Byte-level cases through the whole engine over a real socket, read boundaries forced."""

from __future__ import annotations

import asyncio

from guildwatch.store import StatusStore
from tests.engine.rawserver import Conn, RawServer
from tests.engine.support import GUILD, fast_settings, make_store, running, wait_until

STREAM_PATH = f"/api/v1/guilds/{GUILD}/status/stream"


def version(store: StatusStore) -> str | None:
    status = store.get(GUILD).status
    return status.version if status else None


async def scripted(conn: Conn, *pieces: bytes) -> None:
    """Answer polls with 503; on the stream send ``pieces`` as separate reads, then hold."""
    if conn.request.target != STREAM_PATH:
        await conn.respond(503)
        return
    await conn.head()
    for piece in pieces:
        await conn.send(piece)
        await asyncio.sleep(0.05)  # a pause between writes makes each its own read
    await conn.hold()


async def test_cr_only_event_is_applied_before_any_further_byte() -> None:
    async def handler(conn: Conn) -> None:
        await scripted(conn, b'data: {"healthy": true, "version": "cr"}\r\r')

    store = make_store()
    async with RawServer(handler) as server, running(fast_settings(server.url), store):
        # The server sends nothing after the final CR: the event must not wait for more.
        await wait_until(lambda: version(store) == "cr", timeout=5)


async def test_bom_and_crlf_split_over_reads() -> None:
    async def handler(conn: Conn) -> None:
        await scripted(
            conn,
            b"\xef",
            b"\xbb",
            b'\xbfdata: {"healthy": true,\r',
            b'\ndata: "version": "split"}\r',
            b"\n\r",
            b"\n",
        )

    store = make_store()
    async with RawServer(handler) as server, running(fast_settings(server.url), store):
        await wait_until(lambda: version(store) == "split", timeout=5)
        assert store.get(GUILD).warning is None


async def test_utf8_character_split_over_reads() -> None:
    payload = '{"healthy": true, "version": "日本"}'.encode()
    cut = payload.index("本".encode()) + 1

    async def handler(conn: Conn) -> None:
        await scripted(conn, b"data: " + payload[:cut], payload[cut:] + b"\n\n")

    store = make_store()
    async with RawServer(handler) as server, running(fast_settings(server.url), store):
        await wait_until(lambda: version(store) == "日本", timeout=5)


async def test_phantom_comment_blocks_after_an_id_change_nothing() -> None:
    async def handler(conn: Conn) -> None:
        await scripted(
            conn,
            b'id: 1\ndata: {"healthy": true, "version": "v"}\n\n',
            b": heartbeat\n\n",
            b": heartbeat\n\n",
            b'data: {"healthy": false, "version": "last"}\n\n',
        )

    store = make_store()
    warnings: list[object] = []
    subscription = store.subscribe(max_rate=1000)

    async def collect() -> None:
        async for _ in subscription:
            warnings.append(store.get(GUILD).warning)

    collector = asyncio.create_task(collect())
    async with RawServer(handler) as server, running(fast_settings(server.url), store):
        await wait_until(lambda: version(store) == "last", timeout=5)
    subscription.close()
    await collector
    # A phantom (empty) event would have been a payload error: empty data is not JSON. Each
    # piece stays 50 ms, far longer than the 1 ms between the collector's wake-ups.
    assert set(warnings) == {None}
