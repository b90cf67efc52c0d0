"""HTTP answers as docs/protocol.md's table says: content type, redirects, Retry-After, charset."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from guildwatch.store import StatusStore
from tests.engine.rawserver import EVENT_STREAM_HEAD, Conn, RawServer
from tests.engine.support import GUILD, TOKEN, fast_settings, make_store, running, wait_until

STATUS = json.dumps({"healthy": True, "lastHeartbeat": "2026-11-22T14:03:00Z", "version": "9"})
STREAM_PATH = f"/api/v1/guilds/{GUILD}/status/stream"


class FixedClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 14, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def status_of(store: StatusStore) -> str | None:
    status = store.get(GUILD).status
    return status.version if status else None


@pytest.mark.parametrize(
    "content_type",
    ["text/event-stream", "Text/Event-Stream; charset=iso-8859-1", "TEXT/EVENT-STREAM ;x=y"],
)
async def test_event_stream_media_type_is_case_insensitive_with_parameters(
    content_type: str,
) -> None:
    async def handler(conn: Conn) -> None:
        await conn.head(200, [("Content-Type", content_type)])
        await conn.send(f"data: {STATUS}\n\n".encode())
        await conn.hold()

    store = make_store()
    async with RawServer(handler) as server, running(fast_settings(server.url), store):
        await wait_until(lambda: status_of(store) == "9")
        assert store.get(GUILD).connection == "connected"


async def test_stream_is_utf8_whatever_the_charset_says() -> None:
    payload = json.dumps({"healthy": True, "version": "café ✓"}, ensure_ascii=False)

    async def handler(conn: Conn) -> None:
        await conn.head(200, [("Content-Type", "text/event-stream; charset=iso-8859-1")])
        await conn.send(f"data: {payload}\n\n".encode())
        await conn.hold()

    store = make_store()
    async with RawServer(handler) as server, running(fast_settings(server.url), store):
        await wait_until(lambda: store.get(GUILD).status is not None)
        assert status_of(store) == "café ✓"  # not "cafÃ© âœ“"


@pytest.mark.parametrize(
    "headers",
    [
        [("Content-Type", "text/html; charset=utf-8")],
        [("Content-Type", "application/x-text/event-stream-ish")],
        [],
    ],
)
async def test_wrong_content_type_fails_the_stream_without_applying_the_body(
    headers: list[tuple[str, str]],
) -> None:
    async def handler(conn: Conn) -> None:
        if conn.request.target == STREAM_PATH:
            await conn.head(200, headers)
            await conn.send(f"data: {STATUS}\n\n".encode())  # a portal page that looks valid
            await conn.hold()
        else:
            await conn.respond(503)

    store = make_store()
    async with RawServer(handler) as server, running(fast_settings(server.url), store):
        await wait_until(lambda: store.get(GUILD).connection == "error")
        snapshot = store.get(GUILD)
        assert snapshot.error is not None
        assert snapshot.error.kind == "content_type"
        assert snapshot.status is None
        await asyncio.sleep(0.2)  # twenty backoff periods: no reconnect loop
        assert len(server.stream_requests) == 1


async def test_same_origin_redirect_is_followed_with_the_token() -> None:
    async def handler(conn: Conn) -> None:
        if conn.request.target == STREAM_PATH:
            await conn.respond(307, headers=[("Location", "/moved/stream")])
        else:
            await conn.head()
            await conn.send(f"data: {STATUS}\n\n".encode())
            await conn.hold()

    store = make_store()
    async with RawServer(handler) as server, running(fast_settings(server.url), store):
        await wait_until(lambda: status_of(store) == "9")
        moved = [r for r in server.requests if r.target == "/moved/stream"]
        assert moved[0].headers["authorization"] == f"Bearer {TOKEN}"
        assert moved[0].headers["accept"] == "text/event-stream"


async def test_cross_origin_redirect_never_carries_the_token() -> None:
    async def other_origin(conn: Conn) -> None:
        await conn.head()
        await conn.send(f"data: {STATUS}\n\n".encode())
        await conn.hold()

    async with RawServer(other_origin) as elsewhere:

        async def handler(conn: Conn) -> None:
            await conn.respond(308, headers=[("Location", f"{elsewhere.url}/stream")])

        store = make_store()
        async with RawServer(handler) as server, running(fast_settings(server.url), store):
            await wait_until(lambda: status_of(store) == "9")
            assert server.stream_requests[0].headers["authorization"] == f"Bearer {TOKEN}"
            assert elsewhere.requests[0].target == "/stream"
            assert "authorization" not in elsewhere.requests[0].headers


async def test_redirect_loop_is_bounded_and_reported() -> None:
    async def handler(conn: Conn) -> None:
        await conn.respond(302, headers=[("Location", conn.request.target + "x")])

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, max_redirects=3, max_retries=0)
        async with running(settings, store):
            await wait_until(lambda: store.get(GUILD).connection == "error")
        error = store.get(GUILD).error
        assert error is not None
        assert error.kind == "redirect"
        # One attempt = the request plus three redirects; polls are bounded the same way.
        assert len([r for r in server.requests if "stream" in r.target]) == 4


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_a_floor_for_the_reconnect(status: int) -> None:
    async def handler(conn: Conn) -> None:
        if conn.request.target != STREAM_PATH:
            await conn.respond(503)
        elif conn.index == 0:
            await conn.respond(status, headers=[("Retry-After", "1")])
        else:
            await conn.head()
            await conn.send(f"data: {STATUS}\n\n".encode())
            await conn.hold()

    clock = FixedClock()
    store = StatusStore(clock=clock)
    store.add_guild(GUILD)
    async with RawServer(handler) as server, running(fast_settings(server.url), store):
        await wait_until(lambda: store.get(GUILD).connection == "disconnected")
        snapshot = store.get(GUILD)
        assert snapshot.error is not None
        assert snapshot.error.kind == "http"
        assert snapshot.next_retry_at == clock.now + timedelta(seconds=1)  # not 10 ms
        await wait_until(lambda: status_of(store) == "9")
        first, second = server.stream_requests[:2]
        assert second.received_at - first.received_at >= 0.95


async def test_retry_after_as_an_http_date() -> None:
    clock = FixedClock()

    async def handler(conn: Conn) -> None:
        when = (clock.now + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
        await conn.respond(503, headers=[("Retry-After", when)])

    store = StatusStore(clock=clock)
    store.add_guild(GUILD)
    async with RawServer(handler) as server, running(fast_settings(server.url), store):
        await wait_until(lambda: store.get(GUILD).connection == "disconnected")
        assert store.get(GUILD).next_retry_at == clock.now + timedelta(seconds=90)


@pytest.mark.parametrize("status", [400, 418, 500, 502, 304])
async def test_other_status_codes_back_off_and_retry(status: int) -> None:
    async def handler(conn: Conn) -> None:
        if conn.request.target == STREAM_PATH and conn.index == 0:
            await conn.respond(status)
        elif conn.request.target == STREAM_PATH:
            await conn.head()
            await conn.send(f"data: {STATUS}\n\n".encode())
            await conn.hold()
        else:
            await conn.respond(500)

    store = make_store()
    async with RawServer(handler) as server, running(fast_settings(server.url), store):
        await wait_until(lambda: status_of(store) == "9")
        kinds = {e.connection for e in store.history(GUILD)}
        assert "disconnected" in kinds
        assert len(server.stream_requests) == 2


async def test_token_never_appears_in_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def handler(conn: Conn) -> None:
        if conn.index == 0:
            await conn.respond(401, body=TOKEN.encode())
        else:
            await conn.respond(500, body=TOKEN.encode())

    store = make_store("a", "b")
    async with RawServer(handler) as server, running(fast_settings(server.url), store) as engine:
        await wait_until(lambda: all(s.connection == "error" for s in store.snapshots()))
        engine.retry()
        await wait_until(lambda: len(server.stream_requests) >= 4)
        await wait_until(lambda: all(s.connection == "error" for s in store.snapshots()))
    assert TOKEN not in caplog.text
    for snapshot in store.snapshots():
        assert snapshot.error is not None
        assert TOKEN not in snapshot.error.message


async def test_engine_uses_a_given_client_and_leaves_it_open() -> None:
    async def handler(conn: Conn) -> None:
        await conn.head(200, EVENT_STREAM_HEAD)
        await conn.send(f"data: {STATUS}\n\n".encode())
        await conn.hold()

    store = make_store()
    async with RawServer(handler) as server, httpx.AsyncClient() as client:
        async with running(fast_settings(server.url), store, client=client):
            await wait_until(lambda: status_of(store) == "9")
        assert not client.is_closed
