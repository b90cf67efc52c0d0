"""A watcher never goes silent: slow retries after giving up, polls keep their pace.

Time is shortened through the settings (backoff, ``slow_retry``, ``poll_interval``); the
server is the raw test server, so each request and its timing is seen exactly.
"""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest

from guildwatch.display import status_kind, status_word
from tests.engine.rawserver import Conn, RawServer
from tests.engine.support import GUILD, fast_settings, make_store, running, wait_until
from tests.engine.test_engine_stream import status_event

POLL_BODY = json.dumps(
    {"healthy": True, "lastHeartbeat": "2026-11-22T14:03:00Z", "version": "2.0.0"}
).encode()
JSON_HEAD = [("Content-Type", "application/json")]


@pytest.mark.parametrize(
    ("flap", "duration", "poll_interval", "most_polls"),
    [
        (0.2, 3.0, 1.0, 4),
        # Flapping every 0.2 s for 6 s with the interval at 6 s, at half scale.
        (0.1, 3.0, 3.0, 2),
    ],
)
async def test_a_flapping_stream_polls_at_most_once_per_poll_interval(
    flap: float, duration: float, poll_interval: float, most_polls: int
) -> None:
    async def handler(conn: Conn) -> None:
        if conn.request.target.endswith("/status"):
            await conn.respond(200, POLL_BODY, JSON_HEAD)
            return
        await conn.head()
        await conn.send(status_event(conn.index + 1))
        await asyncio.sleep(flap)  # the stream drops every ``flap`` seconds
        await conn.close()

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, max_retries=1000, poll_interval=poll_interval)
        async with running(settings, store):
            await asyncio.sleep(duration)
        times = [r.received_at for r in server.poll_requests]
        assert len(server.stream_requests) >= duration / flap / 3  # it did flap
    assert 1 <= len(times) <= most_polls, times
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= poll_interval * 0.95 for gap in gaps), gaps


async def test_after_max_retries_the_stream_is_retried_slowly_and_recovers() -> None:
    up = asyncio.Event()

    async def handler(conn: Conn) -> None:
        if not up.is_set():
            await conn.respond(500)
            return
        await conn.head()
        await conn.send(status_event(1))
        await conn.hold()

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, max_retries=1, slow_retry=0.3)
        async with running(settings, store):
            await wait_until(lambda: store.get(GUILD).connection == "error", what="giving up")
            error = store.get(GUILD).error
            assert error is not None
            assert "answered HTTP 500" in error.message
            assert "gave up after 2 attempts" in error.message
            given_up = len(server.stream_requests)
            await wait_until(lambda: len(server.stream_requests) >= given_up + 2, what="slow")
            assert store.get(GUILD).connection == "error"  # still says why while it retries
            up.set()
            await wait_until(lambda: store.get(GUILD).connection == "connected", what="back")


async def test_a_fatal_answer_is_named_and_retried_slowly() -> None:
    async def handler(conn: Conn) -> None:
        await conn.respond(401)

    store = make_store()
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, slow_retry=0.2)
        async with running(settings, store):
            await wait_until(lambda: len(server.stream_requests) >= 3, what="slow retries")
            snapshot = store.get(GUILD)
            assert snapshot.connection == "error"
            assert status_word(snapshot, store.clock()) == "Unauthorized: check the token"


async def test_a_poll_that_answers_wins_over_connection_lost() -> None:
    async def handler(conn: Conn) -> None:
        if conn.request.target.endswith("/status"):
            await conn.respond(200, POLL_BODY, JSON_HEAD)
        else:
            await conn.respond(500)

    store = make_store()

    def polled_after_giving_up() -> bool:
        snapshot = store.get(GUILD)
        return snapshot.connection == "error" and snapshot.source == "poll"

    async with (
        RawServer(handler) as server,
        running(fast_settings(server.url, max_retries=0), store),
    ):
        await wait_until(polled_after_giving_up, what="given up, then polled")
        snapshot = store.get(GUILD)
        assert status_kind(snapshot) == "online"
        assert status_word(snapshot, store.clock()) == "Online"
        assert snapshot.error is not None  # the stream being down is the detail
