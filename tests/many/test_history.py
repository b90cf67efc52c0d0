"""History statistics: uptime %, outage count and the last hour's timeline (pure, no Textual)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guildwatch.history import entry_state, outage_count, timeline, uptime_percent
from guildwatch.store import BotStatus, ConnectionState, HistoryEntry, Problem, StatusStore

T0 = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _status(healthy: bool, version: str = "1.0") -> BotStatus:
    return BotStatus(healthy=healthy, last_heartbeat=T0, version=version)


def _entry(seconds: float, connection: ConnectionState, health: str = "online") -> HistoryEntry:
    assert health in ("online", "offline", "unknown")
    return HistoryEntry(
        at=T0 + timedelta(seconds=seconds),
        connection=connection,
        health=health,  # type: ignore[arg-type]
        version=None,
    )


def _watched(clock: FakeClock) -> StatusStore:
    """A store with guild ``g`` connected and online at T0."""
    store = StatusStore(clock=clock)
    store.add_guild("g")
    store.set_connection("g", "connected")
    store.apply_status("g", _status(True), source="stream")
    return store


def test_entry_state_maps_connection_before_health() -> None:
    assert entry_state(_entry(0, "connected", "online")) == "online"
    assert entry_state(_entry(0, "connected", "offline")) == "offline"
    assert entry_state(_entry(0, "connected", "unknown")) == "unknown"
    assert entry_state(_entry(0, "error", "online")) == "lost"
    # A stream that is down does not vouch for the health it last saw.
    assert entry_state(_entry(0, "disconnected", "online")) == "unknown"
    assert entry_state(_entry(0, "connecting", "offline")) == "unknown"


def test_uptime_counts_only_time_with_known_health() -> None:
    clock = FakeClock()
    store = _watched(clock)
    clock.advance(30 * 60)  # 30 min online
    store.apply_status("g", _status(False), source="stream")
    clock.advance(10 * 60)  # 10 min offline
    store.set_connection("g", "disconnected", error=Problem("network", "reset"))
    clock.advance(20 * 60)  # 20 min reconnecting: not counted either way
    store.set_connection("g", "connected")
    store.apply_status("g", _status(True), source="stream")
    clock.advance(20 * 60)  # 20 min online
    uptime = uptime_percent(store.history("g"), clock.now)
    assert uptime == pytest.approx(100 * 50 / 60)


def test_uptime_is_none_before_any_known_health() -> None:
    clock = FakeClock()
    store = StatusStore(clock=clock)
    store.add_guild("g")
    clock.advance(60)
    assert uptime_percent(store.history("g"), clock.now) is None
    assert uptime_percent((), clock.now) is None


def test_uptime_all_online_and_all_offline() -> None:
    clock = FakeClock()
    store = _watched(clock)
    clock.advance(5)
    assert uptime_percent(store.history("g"), clock.now) == 100.0
    store.apply_status("g", _status(False), source="stream")
    clock.advance(5)
    assert uptime_percent(store.history("g"), clock.now) == pytest.approx(50.0)


def test_outages_count_changes_into_offline_or_lost() -> None:
    clock = FakeClock()
    store = _watched(clock)
    for _ in range(3):  # three flaps: online -> offline -> online
        clock.advance(1)
        store.apply_status("g", _status(False), source="stream")
        clock.advance(1)
        store.apply_status("g", _status(True), source="stream")
    clock.advance(1)
    store.set_connection("g", "error", error=Problem("auth", "bad token"))
    assert outage_count(store.history("g")) == 4


def test_one_outage_across_a_reconnect_and_a_give_up() -> None:
    clock = FakeClock()
    store = _watched(clock)
    store.apply_status("g", _status(False), source="stream")  # outage starts
    store.set_connection("g", "disconnected", error=Problem("network", "reset"))
    store.set_connection("g", "connecting")
    store.set_connection("g", "error", error=Problem("network", "gave up"))
    store.set_connection("g", "connected")  # back, still offline: the same outage
    assert outage_count(store.history("g")) == 1
    store.apply_status("g", _status(True), source="stream")
    store.set_connection("g", "disconnected", error=Problem("network", "reset"))
    store.set_connection("g", "connected")  # a blip with health unknown is no outage
    assert outage_count(store.history("g")) == 1


def test_a_guild_found_down_counts_one_outage() -> None:
    clock = FakeClock()
    store = StatusStore(clock=clock)
    store.add_guild("g")
    store.set_connection("g", "connected")
    store.apply_status("g", _status(False), source="stream")
    assert outage_count(store.history("g")) == 1
    assert outage_count(()) == 0


def test_version_changes_are_not_outages() -> None:
    clock = FakeClock()
    store = _watched(clock)
    store.apply_status("g", _status(True, version="1.1"), source="stream")
    store.apply_status("g", _status(True, version="1.2"), source="stream")
    assert len(store.history("g")) >= 4  # the versions were recorded ...
    assert outage_count(store.history("g")) == 0  # ... and are not outages


def test_timeline_buckets_are_oldest_first_and_unknown_before_start() -> None:
    clock = FakeClock()
    store = _watched(clock)
    clock.advance(30 * 60)
    # Watching began 30 minutes ago: the first half of the hour has no evidence.
    line = timeline(store.history("g"), clock.now, buckets=60)
    assert line == ["unknown"] * 30 + ["online"] * 30


def test_timeline_worst_state_in_a_bucket_wins() -> None:
    clock = FakeClock()
    store = _watched(clock)
    clock.advance(10 * 60 + 20)  # into minute 10 of the hour to come
    store.apply_status("g", _status(False), source="stream")
    clock.advance(1)  # a one-second outage
    store.apply_status("g", _status(True), source="stream")
    clock.advance(25 * 60)
    store.set_connection("g", "error", error=Problem("network", "gave up"))
    clock.advance(2)
    store.set_connection("g", "connected")
    clock.advance(60 * 60 - (10 * 60 + 21) - 25 * 60 - 2)  # exactly one hour after T0
    assert clock.now == T0 + timedelta(hours=1)
    line = timeline(store.history("g"), clock.now, buckets=60)
    assert len(line) == 60
    assert line[10] == "offline"
    assert line[35] == "lost"
    assert line.count("offline") == 1
    assert line.count("lost") == 1
    assert set(line[:10] + line[11:35] + line[36:]) == {"online"}


def test_timeline_border_belongs_to_the_bucket_on_its_right() -> None:
    history = [_entry(0, "connected", "online"), _entry(120, "connected", "offline")]
    now = T0 + timedelta(seconds=240)
    # Four one-minute buckets: the change at exactly 2:00 starts bucket 2, not bucket 1.
    line = timeline(history, now, buckets=4, window=timedelta(minutes=4))
    assert line == ["online", "online", "offline", "offline"]


def test_timeline_ignores_what_is_older_than_the_window() -> None:
    history = [
        _entry(0, "error"),
        _entry(10, "connected", "online"),
    ]
    now = T0 + timedelta(hours=3)
    assert timeline(history, now, buckets=6) == ["online"] * 6


def test_timeline_rejects_a_callers_bad_arguments() -> None:
    with pytest.raises(ValueError, match="buckets"):
        timeline((), T0, buckets=0)
    with pytest.raises(ValueError, match="window"):
        timeline((), T0, window=timedelta(0))


def test_history_survives_a_ring_that_dropped_old_entries() -> None:
    clock = FakeClock()
    store = StatusStore(clock=clock, history_size=4)
    store.add_guild("g")
    store.set_connection("g", "connected")
    for healthy in (True, False, True, False, True):
        clock.advance(60)
        store.apply_status("g", _status(healthy), source="stream")
    history = store.history("g")
    assert len(history) == 4  # the ring kept the last four changes
    assert outage_count(history) == 2
    assert uptime_percent(history, clock.now) == pytest.approx(100 * 1 / 3)


_CONNECTIONS: list[ConnectionState] = ["connecting", "connected", "disconnected", "error"]


@st.composite
def _histories(draw: st.DrawFn) -> list[HistoryEntry]:
    steps = draw(
        st.lists(
            st.tuples(
                st.integers(min_value=0, max_value=900),
                st.sampled_from(_CONNECTIONS),
                st.sampled_from(["online", "offline", "unknown"]),
            ),
            max_size=40,
        )
    )
    at = 0
    entries = []
    for gap, connection, health in steps:
        at += gap
        entries.append(_entry(at, connection, health))
    return entries


@given(
    history=_histories(),
    buckets=st.integers(min_value=1, max_value=120),
    later=st.integers(min_value=0, max_value=7200),
)
def test_figures_stay_in_range_for_any_history(
    history: list[HistoryEntry], buckets: int, later: int
) -> None:
    end = (history[-1].at if history else T0) + timedelta(seconds=later)
    uptime = uptime_percent(history, end)
    assert uptime is None or 0.0 <= uptime <= 100.0
    line = timeline(history, end, buckets=buckets)
    assert len(line) == buckets
    down_entries = sum(entry_state(e) in ("offline", "lost") for e in history)
    assert 0 <= outage_count(history) <= down_entries
    # Whatever held at the end shows in the last bucket, unless something worse shared it.
    if history and later > 0:
        severity = ["online", "unknown", "offline", "lost"]
        assert severity.index(line[-1]) >= severity.index(entry_state(history[-1]))
