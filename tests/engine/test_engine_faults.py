"""Bad networks and bad servers, byte-exact: stalls, drips, FIN, RST, huge lines, bad data."""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest

from guildwatch.engine import Engine
from guildwatch.store import StatusStore
from tests.engine.rawserver import Conn, RawServer
from tests.engine.support import GUILD, fast_settings, make_store, running, wait_until

STREAM_PATH = f"/api/v1/guilds/{GUILD}/status/stream"


def event(version: str, *, event_id: int | None = None, healthy: bool = True) -> bytes:
    data = json.dumps({"healthy": healthy, "lastHeartbeat": None, "version": version})
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}data: {data}\n\n".encode()


def version(store: StatusStore, guild: str = GUILD) -> str | None:
    status = store.get(guild).status
    return status.version if status else None


async def polls_fail(conn: Conn) -> bool:
    """Answer polls with 503 so only the stream can deliver; True if this was a poll."""
    if conn.request.target == STREAM_PATH:
        return False
    await conn.respond(503)
    return True


async def test_stalled_stream_trips_the_watchdog_and_reconnects() -> None:
    async def handler(conn: Conn) -> None:
        if await polls_fail(conn):
            return
        await conn.head()
        await conn.send(event(str(conn.index), event_id=conn.index + 1))
        await conn.hold()  # then silence: no events, no comments

    store = make_store()
    async with RawServer(handler) as server:
        async with running(fast_settings(server.url, heartbeat_timeout=0.3), store):
            await wait_until(lambda: version(store) == "1")
        assert server.stream_requests[1].headers["last-event-id"] == "1"
        assert "disconnected" in {e.connection for e in store.history(GUILD)}


async def test_watchdog_error_says_timeout() -> None:
    async def handler(conn: Conn) -> None:
        if await polls_fail(conn):
            return
        await conn.head()
        await conn.hold()

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, heartbeat_timeout=0.2, backoff_base=60.0)
        async with running(settings, store):
            await wait_until(lambda: store.get(GUILD).connection == "disconnected")
            error = store.get(GUILD).error
            assert error is not None
            assert error.kind == "timeout"


async def test_comments_keep_a_quiet_stream_alive() -> None:
    async def handler(conn: Conn) -> None:
        if await polls_fail(conn):
            return
        await conn.head()
        await conn.send(event("1"))
        for _ in range(15):  # 1.5 s of heartbeats, three watchdog periods
            await asyncio.sleep(0.1)
            await conn.send(b": heartbeat\n\n")
        await conn.send(event("done"))
        await conn.hold()

    store = make_store()
    async with RawServer(handler) as server:
        async with running(fast_settings(server.url, heartbeat_timeout=0.5), store):
            await wait_until(lambda: version(store) == "done")
        assert len(server.stream_requests) == 1
        assert {e.connection for e in store.history(GUILD)} == {"connecting", "connected"}


async def test_slow_but_flowing_stream_never_trips_the_watchdog() -> None:
    payload = event("drip")

    async def handler(conn: Conn) -> None:
        if await polls_fail(conn):
            return
        await conn.head()
        await conn.drip(payload[:20], interval=0.1)  # 2 s for one event, 1 byte per 100 ms
        await conn.send(payload[20:])
        await conn.hold()

    store = make_store()
    async with RawServer(handler) as server:
        async with running(fast_settings(server.url, heartbeat_timeout=0.5), store):
            await wait_until(lambda: version(store) == "drip")
        assert len(server.stream_requests) == 1


async def test_stall_before_headers_is_a_timeout() -> None:
    async def handler(conn: Conn) -> None:
        if await polls_fail(conn):
            return
        await conn.hold()  # request read, no answer at all

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, heartbeat_timeout=0.2, backoff_base=60.0)
        started = time.monotonic()
        async with running(settings, store):
            await wait_until(lambda: store.get(GUILD).connection == "disconnected")
            assert time.monotonic() - started < 5
            error = store.get(GUILD).error
            assert error is not None
            assert error.kind == "timeout"


async def test_headers_dripped_forever_hit_the_total_deadline() -> None:
    async def handler(conn: Conn) -> None:
        if await polls_fail(conn):
            return
        await conn.drip(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000, interval=0.05)

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(
            server.url, heartbeat_timeout=0.2, connect_timeout=0.2, backoff_base=60.0
        )
        async with running(settings, store):
            await wait_until(lambda: store.get(GUILD).connection == "disconnected", timeout=5)
            error = store.get(GUILD).error
            assert error is not None
            assert error.kind == "timeout"
            assert "no complete answer" in error.message


async def test_fin_in_the_middle_of_an_event_discards_it_and_reconnects() -> None:
    async def handler(conn: Conn) -> None:
        if await polls_fail(conn):
            return
        await conn.head()
        if conn.index == 0:
            await conn.send(event("whole", event_id=1))
            await conn.send(event("half", event_id=2)[:-1])  # one LF short of dispatch
            await conn.close()
        else:
            await conn.send(event("after", event_id=3))
            await conn.hold()

    store = make_store()
    async with RawServer(handler) as server, running(fast_settings(server.url), store):
        await wait_until(lambda: version(store) == "after")
        assert {e.version for e in store.history(GUILD)} == {None, "whole", "after"}
        assert server.stream_requests[1].headers["last-event-id"] == "1"  # not 2


async def test_reset_connection_is_a_network_error_and_reconnects() -> None:
    async def handler(conn: Conn) -> None:
        if await polls_fail(conn):
            return
        await conn.head()
        if conn.index == 0:
            await conn.send(event("before", event_id=1))
            await asyncio.sleep(0.05)
            conn.reset()
        else:
            await conn.send(event("after", event_id=2))
            await conn.hold()

    store = make_store()
    async with (
        RawServer(handler) as server,
        running(fast_settings(server.url, backoff_base=0.3), store),
    ):
        await wait_until(lambda: store.get(GUILD).connection == "disconnected")
        error = store.get(GUILD).error
        assert error is not None
        assert error.kind == "network"
        await wait_until(lambda: version(store) == "after")


async def test_oversized_line_aborts_the_connection_with_bounded_memory() -> None:
    eight_mib = 8 * 1024 * 1024
    sent = 0

    async def handler(conn: Conn) -> None:
        nonlocal sent
        if await polls_fail(conn):
            return
        await conn.head()
        if conn.index == 0:
            await conn.send(b"data: ")
            block = b"x" * 65536
            while sent < eight_mib:
                await conn.send(block)
                sent += len(block)
            await conn.send(b"\n\n")
        else:
            await conn.send(event("small"))
        await conn.hold()

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, backoff_base=60.0)
        tracemalloc.start()
        try:
            async with running(settings, store):
                await wait_until(lambda: store.get(GUILD).connection == "disconnected")
                _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        error = store.get(GUILD).error
        assert error is not None
        assert error.kind == "too_large"
        assert "1048576 bytes" in error.message
        assert store.get(GUILD).status is None
        assert peak < 4 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB during an 8 MiB line"


async def test_bad_payload_keeps_the_last_valid_status_and_the_connection() -> None:
    async def handler(conn: Conn) -> None:
        if await polls_fail(conn):
            return
        await conn.head()
        await conn.send(event("good"))
        await conn.send(b'data: {"healthy": "false", "version": "bad"}\n\n')
        await conn.hold()

    store = make_store()
    async with RawServer(handler) as server, running(fast_settings(server.url), store):
        await wait_until(lambda: store.get(GUILD).warning is not None)
        snapshot = store.get(GUILD)
        assert snapshot.warning is not None
        assert snapshot.warning.kind == "payload"
        assert version(store) == "good"
        assert snapshot.connection == "connected"


async def test_next_valid_event_clears_the_payload_warning() -> None:
    async def handler(conn: Conn) -> None:
        if await polls_fail(conn):
            return
        await conn.head()
        await conn.send(b"data: not json\n\n")
        await conn.send(event("good"))
        await conn.hold()

    store = make_store()
    async with RawServer(handler) as server, running(fast_settings(server.url), store):
        await wait_until(lambda: version(store) == "good")
        assert store.get(GUILD).warning is None


@pytest.mark.parametrize(("tolerance", "flagged"), [(60.0, True), (600.0, False)])
async def test_clock_skew_is_flagged_beyond_the_configured_tolerance(
    tolerance: float, flagged: bool
) -> None:
    ahead = (datetime.now(UTC) + timedelta(seconds=300)).isoformat()
    data = json.dumps({"healthy": True, "lastHeartbeat": ahead})

    async def handler(conn: Conn) -> None:
        if await polls_fail(conn):
            return
        await conn.head()
        await conn.send(f"data: {data}\n\n".encode())
        await conn.hold()

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, clock_skew_tolerance=tolerance)
        async with running(settings, store):
            await wait_until(lambda: store.get(GUILD).status is not None)
            warning = store.get(GUILD).warning
            assert (warning is not None and warning.kind == "clock_skew") is flagged


async def test_other_event_types_are_ignored() -> None:
    async def handler(conn: Conn) -> None:
        if await polls_fail(conn):
            return
        await conn.head()
        await conn.send(b'event: guild-renamed\ndata: {"healthy": false, "version": "x"}\n\n')
        await conn.send(event("real"))
        await conn.hold()

    store = make_store()
    async with RawServer(handler) as server, running(fast_settings(server.url), store):
        await wait_until(lambda: version(store) == "real")
        assert [e.version for e in store.history(GUILD) if e.version] == ["real"]
        assert store.get(GUILD).warning is None


async def test_server_retry_raises_the_reconnect_floor() -> None:
    async def handler(conn: Conn) -> None:
        if await polls_fail(conn):
            return
        await conn.head()
        if conn.index == 0:
            await conn.send(b"retry: 400\n\n" + event("first"))
            await conn.close()
        else:
            await conn.send(event("second"))
            await conn.hold()

    store = make_store()
    async with RawServer(handler) as server, running(fast_settings(server.url), store):
        await wait_until(lambda: version(store) == "second")
        first, second = server.stream_requests[:2]
        assert second.received_at - first.received_at >= 0.38  # not the 10 ms backoff


async def test_last_event_id_follows_each_connection() -> None:
    async def handler(conn: Conn) -> None:
        if await polls_fail(conn):
            return
        await conn.head()
        if conn.index < 3:
            await conn.send(event(str(conn.index), event_id=10 + conn.index))
            await conn.close()
        else:
            await conn.send(b"id: bad\x01id\n\n" + event("end"))
            await conn.close()

    store = make_store()
    async with RawServer(handler) as server:
        async with running(fast_settings(server.url, max_retries=10), store):
            await wait_until(lambda: len(server.stream_requests) >= 5)
        sent = [r.headers.get("last-event-id") for r in server.stream_requests[:5]]
        # An id that cannot travel in a header is not sent: the server starts afresh.
        assert sent == [None, "10", "11", "12", None]


async def test_attempts_reset_only_after_the_minimum_uptime() -> None:
    async def handler(conn: Conn) -> None:
        if await polls_fail(conn):
            return
        await conn.head()
        await conn.send(event(str(conn.index)))
        await conn.close()  # accept, send, drop at once: uptime ~0

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, max_retries=3, min_uptime_for_reset=60.0)
        async with running(settings, store):
            # Without the uptime rule each successful connect would reset the count, and this
            # server would be hit forever; with it, the stream gives up after 3 retries.
            await wait_until(lambda: store.get(GUILD).connection == "error")
        assert len(server.stream_requests) == 4


async def test_attempts_reset_after_a_connection_lived_long_enough() -> None:
    async def handler(conn: Conn) -> None:
        if await polls_fail(conn):
            return
        await conn.head()
        await conn.send(event(str(conn.index)))
        await asyncio.sleep(0.15)
        await conn.close()

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, max_retries=1, min_uptime_for_reset=0.1)
        async with running(settings, store):
            await wait_until(lambda: len(server.stream_requests) >= 5)
            assert store.get(GUILD).connection != "error"
            assert store.get(GUILD).attempt <= 1


async def test_cancelling_run_is_not_an_outage() -> None:
    async def handler(conn: Conn) -> None:
        if await polls_fail(conn):
            return
        await conn.head()
        await conn.send(event("up"))
        await conn.hold()

    store = make_store()
    async with RawServer(handler) as server:
        engine = Engine(fast_settings(server.url), store)
        task = asyncio.create_task(engine.run())
        await wait_until(lambda: version(store) == "up")
        task.cancel()
        await asyncio.wait([task], timeout=10)
        assert task.cancelled()
        await engine.stop()
    snapshot = store.get(GUILD)
    assert snapshot.error is None
    assert snapshot.connection == "connected"
    assert {e.connection for e in store.history(GUILD)} == {"connecting", "connected"}
