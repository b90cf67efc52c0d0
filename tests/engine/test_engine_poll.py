"""The polling fallback: while the stream is down, and alone with ``stream=False``."""

from __future__ import annotations

import asyncio
import itertools
import json

from guildwatch.store import StatusStore
from tests.engine.rawserver import Conn, RawServer
from tests.engine.support import GUILD, TOKEN, fast_settings, make_store, running, wait_until

STREAM_PATH = f"/api/v1/guilds/{GUILD}/status/stream"
POLL_PATH = f"/api/v1/guilds/{GUILD}/status"
JSON = [("Content-Type", "application/json")]


def body(version: str, healthy: bool = True) -> bytes:
    return json.dumps({"healthy": healthy, "lastHeartbeat": None, "version": version}).encode()


def warning_kind(store: StatusStore) -> str | None:
    warning = store.get(GUILD).warning
    return warning.kind if warning else None


def version(store: StatusStore) -> str | None:
    status = store.get(GUILD).status
    return status.version if status else None


async def test_first_poll_goes_out_at_once_when_the_stream_is_down() -> None:
    async def handler(conn: Conn) -> None:
        if conn.request.target == STREAM_PATH:
            await conn.respond(500)
        else:
            await conn.respond(200, body("polled"), JSON)

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, backoff_base=60.0, poll_interval=60.0)
        async with running(settings, store):
            await wait_until(lambda: version(store) == "polled", timeout=5)
            snapshot = store.get(GUILD)
            assert snapshot.source == "poll"
            assert snapshot.connection == "disconnected"
        poll = server.poll_requests[0]
        assert poll.headers["authorization"] == f"Bearer {TOKEN}"
        assert poll.headers["accept"] == "application/json"


async def test_polls_repeat_every_interval_and_never_faster() -> None:
    async def handler(conn: Conn) -> None:
        if conn.request.target == STREAM_PATH:
            await conn.respond(500)
        else:
            await conn.respond(200, body(str(conn.index)), JSON)

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(
            server.url, backoff_base=0.02, backoff_cap=0.02, poll_interval=0.2, max_retries=100
        )
        async with running(settings, store):
            await wait_until(lambda: len(server.poll_requests) >= 4)
        times = [r.received_at for r in server.poll_requests]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # Reconnect attempts come every 20 ms; polls keep their own 200 ms pace regardless.
        assert min(gaps) >= 0.19, gaps
        assert len(server.stream_requests) > len(server.poll_requests)


async def test_polling_stops_when_the_stream_is_back_and_never_overwrites_it() -> None:
    async def handler(conn: Conn) -> None:
        if conn.request.target == STREAM_PATH and conn.index == 0:
            await conn.respond(500)
        elif conn.request.target == STREAM_PATH:
            await conn.head()
            await conn.send(b"data: " + body("streamed") + b"\n\n")
            await conn.hold()
        else:
            await conn.respond(200, body("polled"), JSON)

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, backoff_base=0.3, backoff_cap=0.3, poll_interval=0.05)
        async with running(settings, store):
            await wait_until(lambda: version(store) == "polled")
            await wait_until(lambda: version(store) == "streamed")
            polls = len(server.poll_requests)
            assert polls >= 2
            await asyncio.sleep(0.3)  # six poll intervals
            # At most the one poll that was already on the wire when the stream came back.
            assert len(server.poll_requests) <= polls + 1
            assert store.get(GUILD).source == "stream"


async def test_no_polling_after_forbidden() -> None:
    async def handler(conn: Conn) -> None:
        if conn.request.target == STREAM_PATH:
            await conn.respond(503)
        else:
            await conn.respond(403)

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, backoff_base=0.05, poll_interval=0.02)
        async with running(settings, store):
            await wait_until(lambda: len(server.stream_requests) >= 3)
            await asyncio.sleep(0.2)  # ten poll intervals
        assert len(server.poll_requests) == 1


async def test_manual_retry_lifts_the_polling_stop() -> None:
    async def handler(conn: Conn) -> None:
        if conn.request.target == STREAM_PATH:
            await conn.respond(503)
        elif conn.index == 0:
            await conn.respond(401)
        else:
            await conn.respond(200, body("after-retry"), JSON)

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, backoff_base=600.0, poll_interval=0.02)
        async with running(settings, store) as engine:
            await wait_until(
                lambda: (w := store.get(GUILD).warning) is not None and w.kind == "auth"
            )
            assert store.get(GUILD).connection == "disconnected"
            engine.retry(GUILD)
            await wait_until(lambda: version(store) == "after-retry")


async def test_poll_payload_is_validated_like_the_stream() -> None:
    async def handler(conn: Conn) -> None:
        if conn.request.target == STREAM_PATH:
            await conn.respond(500)
        elif conn.index == 0:
            await conn.respond(200, body("good"), JSON)
        else:
            await conn.respond(200, b'{"healthy": "yes"}', JSON)

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, backoff_base=60.0, poll_interval=0.05)
        async with running(settings, store):
            await wait_until(lambda: store.get(GUILD).warning is not None)
            warning = store.get(GUILD).warning
            assert warning is not None
            assert warning.kind == "payload"
            assert version(store) == "good"


async def test_poll_answered_with_html_is_not_applied() -> None:
    async def handler(conn: Conn) -> None:
        if conn.request.target == STREAM_PATH:
            await conn.respond(500)
        else:
            await conn.respond(200, body("portal"), [("Content-Type", "text/html")])

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, backoff_base=60.0, poll_interval=0.05)
        async with running(settings, store):
            await wait_until(lambda: len(server.poll_requests) >= 3)
            assert store.get(GUILD).status is None


async def test_poll_only_mode_never_opens_the_stream() -> None:
    async def handler(conn: Conn) -> None:
        await conn.respond(200, body(str(conn.index), healthy=False), JSON)

    store = StatusStore()
    store.add_guild(GUILD, stream=False)
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, stream=False, poll_interval=0.05)
        async with running(settings, store):
            await wait_until(lambda: version(store) == "2")
            snapshot = store.get(GUILD)
            assert snapshot.connection == "connected"
            assert snapshot.source == "poll"
            assert snapshot.health == "offline"
        assert server.stream_requests == []


async def test_poll_only_failures_show_and_not_found_stops_until_retry() -> None:
    async def handler(conn: Conn) -> None:
        if conn.index == 0:
            await conn.respond(502)
        elif conn.index == 1:
            await conn.respond(404)
        else:
            await conn.respond(200, body("back"), JSON)

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, stream=False, poll_interval=0.05)
        async with running(settings, store) as engine:
            await wait_until(lambda: store.get(GUILD).connection == "error")
            error = store.get(GUILD).error
            assert error is not None
            assert error.kind == "not_found"
            assert "disconnected" in {e.connection for e in store.history(GUILD)}
            await asyncio.sleep(0.25)  # five intervals: no polling after a 404
            assert len(server.poll_requests) == 2
            engine.retry(GUILD)
            await wait_until(lambda: version(store) == "back")
            assert store.get(GUILD).connection == "connected"


async def test_retry_after_stretches_the_poll_interval() -> None:
    async def handler(conn: Conn) -> None:
        if conn.request.target == STREAM_PATH:
            await conn.respond(500)
        elif conn.index == 0:
            await conn.respond(429, headers=[("Retry-After", "1")])
        else:
            await conn.respond(200, body("late"), JSON)

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, backoff_base=60.0, poll_interval=0.05)
        async with running(settings, store):
            await wait_until(lambda: version(store) == "late")
        first, second = server.poll_requests[:2]
        assert second.received_at - first.received_at >= 0.95


async def test_a_dropped_stream_reconnects_once_before_polling() -> None:
    streams = 0

    async def handler(conn: Conn) -> None:
        nonlocal streams
        if conn.request.target == STREAM_PATH:
            streams += 1
            if streams == 1:  # up, one event, then the server goes away
                await conn.head()
                await conn.send(b"data: " + body("streamed") + b"\n\n")
                await conn.close()
            else:
                await conn.respond(500)
        else:
            await conn.respond(200, body("polled"), JSON)

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, backoff_base=0.2, backoff_cap=0.2, poll_interval=60)
        async with running(settings, store):
            await wait_until(lambda: version(store) == "polled", timeout=10)
        first_poll = server.poll_requests[0].received_at
        reconnect = server.stream_requests[1].received_at
        # A restart must not cost every guild a poll and a reconnect at the same instant;
        # once the reconnect failed, the stream is really down and polling starts.
        assert reconnect < first_poll
        assert len(server.poll_requests) == 1


async def test_poll_only_manual_retry_polls_at_once_whatever_the_interval() -> None:
    async def handler(conn: Conn) -> None:
        if conn.index == 0:
            await conn.respond(404)
        else:
            await conn.respond(200, body("back"), JSON)

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, stream=False, poll_interval=60.0)
        async with running(settings, store) as engine:
            await wait_until(lambda: store.get(GUILD).connection == "error")
            engine.retry(GUILD)  # `r`: at once, not at the end of the interval
            await wait_until(lambda: version(store) == "back", timeout=5)
