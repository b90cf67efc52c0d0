"""The status store on its own: snapshots, history, coalescing subscriptions."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest

from guildwatch.store import BotStatus, Problem, Shard, StatusStore


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_new_guild_starts_connecting_with_unknown_health() -> None:
    store = StatusStore()
    store.add_guild("123", name="Main")
    snapshot = store.get("123")
    assert snapshot.connection == "connecting"
    assert snapshot.health == "unknown"
    assert snapshot.label == "Main"
    assert store.guild_ids == ("123",)


def test_apply_status_records_source_and_time() -> None:
    clock = FakeClock()
    store = StatusStore(clock=clock)
    store.add_guild("g")
    status = BotStatus(healthy=True, last_heartbeat=clock.now, version="1.2.3")
    store.apply_status("g", status, source="poll")
    snapshot = store.get("g")
    assert snapshot.status == status
    assert snapshot.source == "poll"
    assert snapshot.received_at == clock.now
    assert snapshot.health == "online"


class CountingStore(StatusStore):
    """Counts the notifications subscribers get: one per write that changed something."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.notified: list[str] = []

    def _notify(self, guild_id: str) -> None:
        self.notified.append(guild_id)
        super()._notify(guild_id)


def test_statuses_of_one_read_are_one_write_with_every_change_in_history() -> None:
    clock = FakeClock()
    store = CountingStore(clock)
    store.add_guild("g")
    store.set_connection("g", "connected")
    skew = Problem("clock_skew", "ahead")
    one_by_one = StatusStore(clock=clock)
    one_by_one.add_guild("g")
    one_by_one.set_connection("g", "connected")
    batch = [
        (BotStatus(True, None, "1"), None),
        (BotStatus(True, None, "1"), None),  # no change: no history entry
        (BotStatus(False, None, "1"), None),
        (BotStatus(True, None, "2"), skew),
    ]
    for status, warning in batch:
        one_by_one.apply_status("g", status, source="stream", warning=warning)
    store.notified.clear()
    store.apply_statuses("g", batch, source="stream")
    assert store.notified == ["g"]  # one write for the whole read
    assert store.get("g") == one_by_one.get("g")
    assert store.history("g") == one_by_one.history("g")
    assert [(e.health, e.version) for e in store.history("g")[-3:]] == [
        ("online", "1"),
        ("offline", "1"),
        ("online", "2"),
    ]
    assert store.get("g").warning == skew
    store.apply_statuses("g", [], source="stream")
    assert store.notified == ["g"]


def test_connected_clears_error_and_countdown() -> None:
    clock = FakeClock()
    store = StatusStore(clock=clock)
    store.add_guild("g")
    store.set_connection(
        "g",
        "disconnected",
        error=Problem("network", "refused"),
        attempt=2,
        next_retry_at=clock.now + timedelta(seconds=4),
    )
    assert store.get("g").error == Problem("network", "refused")
    store.set_connection("g", "connected")
    snapshot = store.get("g")
    assert snapshot.error is None
    assert snapshot.next_retry_at is None
    assert snapshot.attempt == 2  # only the engine decides when the counter resets


def test_error_kept_unless_given() -> None:
    store = StatusStore()
    store.add_guild("g")
    store.set_connection("g", "error", error=Problem("auth", "bad token"))
    store.set_connection("g", "error")
    assert store.get("g").error == Problem("auth", "bad token")
    store.set_connection("g", "connecting", error=None)
    assert store.get("g").error is None


def test_history_records_meaningful_changes_only_and_is_bounded() -> None:
    clock = FakeClock()
    store = StatusStore(clock=clock, history_size=3)
    store.add_guild("g")
    store.set_connection("g", "connected")
    up = BotStatus(healthy=True, last_heartbeat=None, version="1")
    store.apply_status("g", up, source="stream")
    clock.now += timedelta(seconds=1)
    store.apply_status("g", up, source="stream")  # same health and version: no entry
    assert [entry.health for entry in store.history("g")] == ["unknown", "unknown", "online"]
    store.apply_status("g", BotStatus(False, None, "1"), source="stream")
    history = store.history("g")
    assert len(history) == 3
    assert [entry.health for entry in history] == ["unknown", "online", "offline"]


def test_add_guild_is_idempotent_and_keeps_state() -> None:
    store = StatusStore()
    store.add_guild("g")
    store.set_connection("g", "connected")
    store.add_guild("g", name="Renamed")
    assert store.get("g").connection == "connected"
    assert store.get("g").name == "Renamed"


async def test_subscription_coalesces_a_burst_and_ends_on_latest_state() -> None:
    store = StatusStore()
    store.add_guilds(str(n) for n in range(100))
    subscription = store.subscribe(max_rate=20)
    wakeups: list[frozenset[str]] = []

    async def read() -> None:
        async for changed in subscription:
            wakeups.append(changed)

    loop = asyncio.get_running_loop()
    reader = asyncio.create_task(read())
    started = loop.time()
    for round_ in range(50):
        for n in range(100):
            store.apply_status(
                str(n), BotStatus(round_ % 2 == 0, None, str(round_)), source="stream"
            )
        await asyncio.sleep(0)
    elapsed = loop.time() - started
    await asyncio.sleep(0.2)
    subscription.close()
    await asyncio.wait_for(reader, 1)
    # 5,000 writes cost at most one wake-up per 1/20 s of writing (plus the bucket's two and
    # the last), however slow a loaded machine makes the writing; every guild was reported,
    # and the state is the last one written.
    assert 1 <= len(wakeups) <= elapsed * 20 + 3
    assert frozenset().union(*wakeups) == {str(n) for n in range(100)}
    assert store.get("7").status == BotStatus(False, None, "49")


async def test_subscription_rate_limit_spaces_wakeups() -> None:
    store = StatusStore()
    store.add_guild("g")
    subscription = store.subscribe(max_rate=10)
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def read() -> None:
        async for _ in subscription:
            times.append(loop.time())
            if len(times) == 5:
                return

    reader = asyncio.create_task(read())
    for n in range(60):
        store.apply_status("g", BotStatus(True, None, str(n)), source="stream")
        await asyncio.sleep(0.01)
    await asyncio.wait_for(reader, 2)
    # The first two may come back to back (WAKE_BURST), the third once the bucket refilled
    # what the second left; from then on one per 1/10 s at most.
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= 0.09 for gap in gaps[2:]), gaps
    assert times[-1] - times[0] >= 3 * 0.09


async def test_closed_subscription_stops_iteration() -> None:
    store = StatusStore()
    subscription = store.subscribe()
    subscription.close()
    with pytest.raises(StopAsyncIteration):
        await subscription.__anext__()


def test_vitals_are_kept_in_the_status_and_a_latency_change_is_a_write() -> None:
    clock = FakeClock()
    store = CountingStore(clock)
    store.add_guild("g")
    started = clock.now - timedelta(minutes=5)
    first = BotStatus(
        True, clock.now, "1.3", 42.0, Shard(3, 8), "maintenance", "deploying", started
    )
    store.apply_status("g", first, source="stream")
    status = store.get("g").status
    assert status is not None
    assert (status.latency_ms, status.shard, status.state) == (
        42.0,
        Shard(3, 8, True),
        "maintenance",
    )
    assert (status.message, status.started_at) == ("deploying", started)
    assert status.bot_state == "maintenance"
    history = len(store.history("g"))
    store.notified.clear()
    store.apply_status("g", first, source="stream")
    assert store.notified == []  # the same status again changes nothing
    store.apply_status("g", first._replace(latency_ms=57.0), source="stream")
    assert store.notified == ["g"]
    assert store.get("g").status == first._replace(latency_ms=57.0)
    assert len(store.history("g")) == history  # history follows health and version only


def test_an_unknown_state_counts_as_degraded() -> None:
    assert BotStatus(True, None, None, state="hibernating").bot_state == "degraded"
    assert BotStatus(True, None, None).bot_state == "up"
    assert BotStatus(True, None, None, state="starting").bot_state == "starting"


def test_per_guild_cost_stays_small_for_many_guilds() -> None:
    """10,000 guilds, each connected with a status (no latency): the store's own share stays
    near a kilobyte a guild (it was 2.4 KiB with a 64-slot deque and latency rings per guild)."""
    import gc
    import tracemalloc

    guilds = [str(800_000_000_000_000_000 + n) for n in range(10_000)]
    status = BotStatus(True, datetime(2026, 1, 1, tzinfo=UTC), "1.4.2")
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        store = StatusStore(clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
        store.add_guilds(guilds)
        for guild in guilds:
            store.set_connection(guild, "connected")
            store.apply_status(guild, status, source="stream")
        gc.collect()
        per_guild = (tracemalloc.get_traced_memory()[0] - before) / len(guilds)
    finally:
        tracemalloc.stop()
    assert per_guild < 1024, per_guild
    assert len(store.history(guilds[0])) == 3  # connecting, connected, online
    assert store.latency(guilds[0]).shown is None  # made on demand, empty


def test_history_keeps_only_the_newest_changes() -> None:
    store = StatusStore(history_size=3)
    store.add_guild("g")
    for version in ("1", "2", "3", "4", "5"):
        store.apply_status("g", BotStatus(True, None, version), source="stream")
    assert [entry.version for entry in store.history("g")] == ["3", "4", "5"]
    store.apply_statuses(
        "g", [(BotStatus(True, None, v), None) for v in ("6", "7", "8", "9")], source="stream"
    )
    assert [entry.version for entry in store.history("g")] == ["7", "8", "9"]


def test_a_burst_past_the_history_size_keeps_what_one_by_one_keeps() -> None:
    """apply_statuses builds entries only for the changes that survive the trim: the history
    is the same as applying each status in turn (repeats, health flips and versions mixed)."""
    clock = FakeClock()
    burst, single = (
        StatusStore(clock=clock, history_size=4),
        StatusStore(clock=clock, history_size=4),
    )
    for store in (burst, single):
        store.add_guild("g")
    shapes = [(True, "1"), (True, "1"), (False, "1"), (False, "2"), (True, "2"), (True, "2")]
    statuses = [BotStatus(healthy, None, version) for healthy, version in shapes * 3]
    burst.apply_statuses("g", [(status, None) for status in statuses], source="stream")
    for status in statuses:
        single.apply_status("g", status, source="stream")
    assert burst.history("g") == single.history("g")
    assert len(burst.history("g")) == 4
    assert burst.get("g") == single.get("g")


def test_snapshots_of_some_guilds_come_in_the_stores_order() -> None:
    store = StatusStore()
    for guild_id in ("c", "a", "b", "d"):
        store.add_guild(guild_id)
    assert store.guild_count == 4
    assert [s.guild_id for s in store.snapshots_of({"b", "c"})] == ["c", "b"]
    assert [s.guild_id for s in store.snapshots_of(frozenset(store.guild_ids))] == list("cabd")
    # An id the store does not hold (a removed guild's last wake-up) is skipped, not an error.
    assert [s.guild_id for s in store.snapshots_of({"zz", "d"})] == ["d"]
    assert store.snapshots_of(set()) == []
    assert StatusStore().guild_count == 0


def test_the_kept_history_is_not_scanned_by_the_garbage_collector() -> None:
    """A screen of 10,000 flapping guilds keeps up to history_size changes each: as named
    tuples every one stayed tracked and each full collection walked them all (16-21 ms at
    80,000). Kept as plain tuples of atoms, the collector drops them from its lists."""
    import gc

    store = StatusStore()
    store.add_guild("g")
    for number in range(20):
        store.apply_status("g", BotStatus(number % 2 == 0, None, f"1.{number}"), source="stream")
        store.set_connection("g", "disconnected" if number % 3 else "connected")
    gc.collect()
    kept = store._history["g"]  # the store's own list: what the collector would walk
    assert len(kept) > 20
    assert not any(gc.is_tracked(change) for change in kept)
    # Read back, they are the named entries the history view expects.
    assert store.history("g")[-1].version == "1.19"
