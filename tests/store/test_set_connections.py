"""``StatusStore.set_connections``: many guilds' connection state in one write, with the
same history and counters as one ``set_connection`` per guild, and one notification."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from guildwatch.store import Problem, StatusStore

NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)
GUILDS = ("1", "2", "3")


def _store() -> StatusStore:
    store = StatusStore(clock=lambda: NOW)
    store.add_guilds(GUILDS)
    return store


def test_the_bulk_write_is_one_write_per_guild_as_singles_are() -> None:
    bulk, single = _store(), _store()
    problem = Problem("network", "down")
    steps = [
        ("connected", {"attempt": 0}),
        ("disconnected", {"error": problem, "attempt": 1, "next_retry_at": NOW}),
        ("error", {"error": problem, "attempt": 4}),
        ("connected", {"attempt": 4}),
    ]
    for connection, changes in steps:
        bulk.set_connections(GUILDS, connection, **changes)  # type: ignore[arg-type]
        for guild in GUILDS:
            single.set_connection(guild, connection, **changes)  # type: ignore[arg-type]
    for guild in GUILDS:
        assert bulk.get(guild) == single.get(guild)
        assert bulk.history(guild) == single.history(guild)
        assert bulk.counters(guild) == single.counters(guild)
    assert bulk.counters("1").reconnects == 1
    assert bulk.get("1").error is None


async def test_subscribers_hear_of_every_changed_guild_at_once() -> None:
    store = _store()
    store.set_connection("2", "connected")
    subscription = store.subscribe(max_rate=1000)
    store.set_connections(GUILDS, "connected")
    async with asyncio.timeout(5):
        changed = await subscription.__anext__()
    assert changed == {"1", "3"}  # "2" was connected already: no change, no notification
    subscription.close()
