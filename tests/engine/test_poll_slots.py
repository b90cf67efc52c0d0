"""Polls wait on the engine's own limit, not in httpcore's pool.

With many guilds polling a slow server, polls queued in the pool count toward its pool timeout
and every request rescans the whole queue; behind one engine-wide semaphore they wait without
either cost. These tests script the server (tests/engine/rawserver.py) so that a poll takes a
known time.
"""

from __future__ import annotations

import asyncio
import json

from guildwatch.engine._shared import POLL_CONCURRENCY
from tests.engine.rawserver import Conn, RawServer
from tests.engine.support import fast_settings, make_store, running, wait_until

STATUS = json.dumps({"healthy": True, "lastHeartbeat": None, "version": "1.0.0"}).encode()


async def test_many_slow_polls_all_land_without_a_pool_timeout() -> None:
    guilds = [f"{100000000000000000 + n}" for n in range(6 * POLL_CONCURRENCY)]
    in_flight = 0
    most = 0

    async def handler(conn: Conn) -> None:
        nonlocal in_flight, most
        if conn.request.target.endswith("/status/stream"):
            await conn.respond(503, b"{}", (("Content-Type", "application/json"),))
            return
        in_flight += 1
        most = max(most, in_flight)
        try:
            await asyncio.sleep(0.3)  # 60 polls, 10 at a time: the last waits ~1.5 s
            await conn.respond(200, STATUS, (("Content-Type", "application/json"),))
        finally:
            in_flight -= 1

    store = make_store(*guilds)
    # A pool timeout shorter than the queue: before the engine-wide limit, the polls that
    # queued in httpcore's pool failed with a pool timeout and their guilds got no status.
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, connect_timeout=1.0, backoff_base=5.0, backoff_cap=5.0)
        async with running(settings, store):
            await wait_until(
                lambda: all(store.get(g).source == "poll" for g in guilds),
                timeout=15,
                what="a polled status for every guild",
            )
    assert most <= POLL_CONCURRENCY
    assert len(server.poll_requests) == len(guilds)  # one poll each: none failed and retried
