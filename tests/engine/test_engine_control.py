"""Engine control: retry() targeting, stop() cleanliness with polls, start jitter, bugs."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from guildwatch.engine import Engine
from guildwatch.store import StatusStore
from tests.engine.rawserver import Conn, RawServer
from tests.engine.support import fast_settings, make_store, running, wait_until

JSON = [("Content-Type", "application/json")]
STATUS = json.dumps({"healthy": True, "version": "ok"}).encode()


def stream_path(guild: str) -> str:
    return f"/api/v1/guilds/{guild}/status/stream"


async def test_retry_all_only_touches_guilds_that_are_down() -> None:
    async def handler(conn: Conn) -> None:
        if conn.request.target == stream_path("up"):
            await conn.head()
            await conn.send(b"data: " + STATUS + b"\n\n")
            await conn.hold()
        elif conn.request.target == stream_path("down"):
            await conn.respond(500)
        else:
            await conn.respond(503)

    store = make_store("up", "down")

    def down() -> str:
        return store.get("down").connection

    async with RawServer(handler) as server:

        def count(guild: str) -> int:
            return [r.target for r in server.stream_requests].count(stream_path(guild))

        settings = fast_settings(server.url, backoff_base=600.0, max_retries=5)
        async with running(settings, store) as engine:
            await wait_until(lambda: store.get("up").status is not None)
            await wait_until(lambda: store.get("down").connection == "disconnected")
            engine.retry()
            await wait_until(lambda: count("down") == 2 and down() == "disconnected")
            assert count("up") == 1
            assert store.get("up").connection == "connected"
            engine.retry("no-such-guild")  # ignored, no error
            engine.retry("up")  # connected: nothing to retry, the connection is kept
            engine.retry("down")
            await wait_until(lambda: count("down") == 3)
            assert count("up") == 1


async def test_server_stop_204_keeps_polling() -> None:
    async def handler(conn: Conn) -> None:
        if conn.request.target.endswith("/stream"):
            await conn.respond(204)
        else:
            await conn.respond(200, STATUS, JSON)

    store = make_store("g")
    async with RawServer(handler) as server:
        async with running(fast_settings(server.url, poll_interval=0.05), store):
            await wait_until(lambda: len(server.poll_requests) >= 2)
            snapshot = store.get("g")
            assert snapshot.connection == "error"
            assert snapshot.error is not None
            assert snapshot.error.kind == "server_stop"
            assert snapshot.source == "poll"
        assert len(server.stream_requests) == 1


async def test_stop_closes_poll_connections_too() -> None:
    async def handler(conn: Conn) -> None:
        if conn.request.target.endswith("/stream"):
            await conn.respond(500)
        else:
            await conn.hold()  # a poll in flight when we stop

    store = make_store("g")
    async with RawServer(handler) as server:
        engine = Engine(fast_settings(server.url, backoff_base=600.0), store)
        task = asyncio.create_task(engine.run())
        await wait_until(lambda: len(server.poll_requests) == 1)
        pool = engine._poll_client._transport._pool  # type: ignore[attr-defined]
        await wait_until(lambda: len(pool.connections) == 1)
        await engine.stop()
        async with asyncio.timeout(10):
            await task
        assert pool.connections == []
        assert engine._poll_client.is_closed


async def test_start_jitter_spreads_first_connections() -> None:
    async def handler(conn: Conn) -> None:
        await conn.head()
        await conn.hold()

    store = make_store("a", "b")
    draws = iter([0.0, 1.0])
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, start_jitter=1.0)
        started = time.monotonic()
        async with running(settings, store, rand=lambda: next(draws)):
            await wait_until(lambda: len(server.stream_requests) == 2)
        first, second = sorted(r.received_at for r in server.stream_requests)
        assert first - started < 0.9  # drew 0: at once (generous bound for a loaded machine)
        assert second - started >= 0.99  # drew 1: the full spread


async def test_a_bug_in_a_watcher_is_raised_by_run() -> None:
    class Broken(StatusStore):
        def apply_statuses(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("bug")

    async def handler(conn: Conn) -> None:
        await conn.head()
        await conn.send(b"data: " + STATUS + b"\n\n")
        await conn.hold()

    store = Broken()
    store.add_guild("g")
    async with RawServer(handler) as server:
        engine = Engine(fast_settings(server.url), store)
        with pytest.raises(RuntimeError, match="bug"):
            async with asyncio.timeout(10):
                await engine.run()
        await engine.stop()


async def test_finished_polls_leave_no_idle_socket() -> None:
    async def handler(conn: Conn) -> None:
        if conn.request.target.endswith("/stream"):
            await conn.respond(500)
        else:
            await conn.respond(200, STATUS, JSON, keep_alive=True)  # the server would reuse it

    store = make_store("g")
    async with (
        RawServer(handler) as server,
        running(fast_settings(server.url, backoff_base=600.0), store) as engine,
    ):
        await wait_until(lambda: store.get("g").source == "poll")
        pool = engine._poll_client._transport._pool  # type: ignore[attr-defined]
        # Polls are a minute apart: a kept-alive socket would just sit idle (soak: fds).
        await wait_until(lambda: pool.connections == [])
