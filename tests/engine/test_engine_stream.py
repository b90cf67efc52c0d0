"""The engine against the raw server: connect, events, reconnects, status codes, stop."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from guildwatch.engine import Engine
from guildwatch.store import StatusStore
from tests.engine.rawserver import Conn, RawServer
from tests.engine.support import GUILD, TOKEN, fast_settings, make_store, running, wait_until


def status_event(event_id: int, *, healthy: bool = True, version: str = "1.0.0") -> bytes:
    data = json.dumps(
        {"healthy": healthy, "lastHeartbeat": "2026-11-22T14:03:00Z", "version": version}
    )
    return f"id: {event_id}\ndata: {data}\n\n".encode()


def version(store: StatusStore, guild: str = GUILD) -> str | None:
    status = store.get(guild).status
    return status.version if status else None


async def test_first_event_is_applied_from_the_stream() -> None:
    async def handler(conn: Conn) -> None:
        await conn.head()
        await conn.send(status_event(1, version="1.2.3"))
        await conn.hold()

    store = make_store()
    async with RawServer(handler) as server, running(fast_settings(server.url), store):
        await wait_until(lambda: store.get(GUILD).status is not None)
        snapshot = store.get(GUILD)
        assert snapshot.connection == "connected"
        assert snapshot.source == "stream"
        assert snapshot.status is not None
        assert snapshot.status.version == "1.2.3"
        assert snapshot.status.healthy is True
        request = server.requests[0]
        assert request.target == f"/api/v1/guilds/{GUILD}/status/stream"
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == "text/event-stream"
        assert request.headers["cache-control"] == "no-cache"
        assert "last-event-id" not in request.headers


async def test_reconnects_after_clean_end_and_sends_last_event_id() -> None:
    async def handler(conn: Conn) -> None:
        await conn.head()
        if conn.index == 0:
            await conn.send(status_event(7) + status_event(8, healthy=False))
            await conn.close()  # clean end of body: a disconnect, not the end
        else:
            await conn.send(status_event(9, version="2.0.0"))
            await conn.hold()

    store = make_store()
    async with RawServer(handler) as server, running(fast_settings(server.url), store):
        await wait_until(lambda: version(store) == "2.0.0")
        await wait_until(lambda: len(server.stream_requests) == 2)
        assert server.stream_requests[1].headers["last-event-id"] == "8"
        assert store.get(GUILD).connection == "connected"
        assert "disconnected" in [entry.connection for entry in store.history(GUILD)]


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, "auth"), (403, "forbidden"), (404, "not_found"), (204, "server_stop")],
)
async def test_fatal_answers_stop_the_stream_with_a_clear_error(status: int, kind: str) -> None:
    async def handler(conn: Conn) -> None:
        await conn.respond(status)

    store = make_store()
    async with RawServer(handler) as server, running(fast_settings(server.url), store):
        await wait_until(lambda: store.get(GUILD).connection == "error")
        error = store.get(GUILD).error
        assert error is not None
        assert error.kind == kind
        assert str(status) in error.message
        # Many backoff periods (10 ms) later there was still no second stream attempt.
        await asyncio.sleep(0.3)
        assert len(server.stream_requests) == 1


async def test_auth_failure_never_polls() -> None:
    async def handler(conn: Conn) -> None:
        await conn.respond(401)

    store = make_store()
    async with RawServer(handler) as server:
        async with running(fast_settings(server.url, poll_interval=0.01), store):
            await wait_until(lambda: store.get(GUILD).connection == "error")
            await asyncio.sleep(0.3)
        assert [r.target for r in server.requests] == [f"/api/v1/guilds/{GUILD}/status/stream"]


async def test_max_retries_then_error_and_manual_retry_reconnects_at_once() -> None:
    async def handler(conn: Conn) -> None:
        if conn.index < 4:
            await conn.respond(500)
        else:
            await conn.head()
            await conn.send(status_event(1))
            await conn.hold()

    store = make_store()
    async with (
        RawServer(handler) as server,
        running(fast_settings(server.url, max_retries=3), store) as engine,
    ):
        await wait_until(lambda: store.get(GUILD).connection == "error")
        snapshot = store.get(GUILD)
        assert snapshot.attempt == 4  # the first failure plus three retries
        assert snapshot.error is not None
        assert snapshot.error.kind == "http"
        assert "answered HTTP 500. (gave up after 4 attempts" in snapshot.error.message
        assert len(server.stream_requests) == 4
        engine.retry()
        await wait_until(lambda: store.get(GUILD).connection == "connected")
        assert store.get(GUILD).attempt == 0


async def test_retry_cancels_a_long_backoff_wait() -> None:
    async def handler(conn: Conn) -> None:
        if conn.index == 0:
            await conn.respond(500)
        else:
            await conn.head()
            await conn.send(status_event(1))
            await conn.hold()

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, backoff_base=600.0, backoff_cap=600.0)
        async with running(settings, store) as engine:
            await wait_until(lambda: store.get(GUILD).connection == "disconnected")
            snapshot = store.get(GUILD)
            assert snapshot.next_retry_at is not None
            assert snapshot.attempt == 1
            engine.retry(GUILD)
            await wait_until(lambda: store.get(GUILD).connection == "connected", timeout=10)


async def test_stop_leaves_no_task_and_no_connection(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def handler(conn: Conn) -> None:
        await conn.head()
        await conn.send(status_event(1))
        await conn.hold()

    store = make_store("a", "b", "c")
    before = asyncio.all_tasks()
    async with RawServer(handler) as server:
        engine = Engine(fast_settings(server.url), store)
        task = asyncio.create_task(engine.run())
        await wait_until(lambda: all(s.connection == "connected" for s in store.snapshots()))
        pool = engine._stream_client._transport._pool  # type: ignore[attr-defined]
        assert len(pool.connections) == 3
        await engine.stop()
        async with asyncio.timeout(10):
            await task
        left = asyncio.all_tasks() - before - {asyncio.current_task()}
        assert not [t for t in left if not t.get_name().startswith("rawserver")]
        assert pool.connections == []
        assert engine._stream_client.is_closed
    # Stopping is not an outage: nobody was told the connection failed.
    for guild in ("a", "b", "c"):
        snapshot = store.get(guild)
        assert snapshot.error is None
        assert {e.connection for e in store.history(guild)} == {"connecting", "connected"}
    assert TOKEN not in caplog.text
