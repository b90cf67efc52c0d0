"""The status model alone (real asyncio, no network): events, replay, timers, bounds."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from guildwatch.server._model import Event, StatusModel, Subscriber

T0 = datetime(2026, 11, 22, 14, 3, 0, tzinfo=UTC)


class FakeClock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _model(clock: FakeClock, *, offline_after: float = 60.0, ring_size: int = 8) -> StatusModel:
    return StatusModel(
        offline_after=offline_after,
        ring_size=ring_size,
        queue_size=4,
        first_event_id=1000,
        clock=clock,
    )


async def test_every_change_is_one_event_with_a_growing_id() -> None:
    clock = FakeClock()
    model = _model(clock)
    model.add_guild("g")
    model.heartbeat("g", "1.0")
    clock.now += timedelta(seconds=1)
    model.heartbeat("g", "1.0")
    events = model.replay("g", "1000")
    assert [e.id for e in events] == [1001, 1002]
    assert json.loads(events[-1].data) == {
        "healthy": True,
        "lastHeartbeat": "2026-11-22T14:03:01Z",
        "version": "1.0",
    }


async def test_identical_status_emits_nothing() -> None:
    clock = FakeClock()
    model = _model(clock)
    model.heartbeat("g", "1.0")
    before = model.last_event_id
    model.heartbeat("g", "1.0")  # same second, same version: same status object
    assert model.last_event_id == before


async def test_replay_rules() -> None:
    model = _model(FakeClock(), ring_size=3)
    model.add_guild("g")
    for minor in range(5):
        model.heartbeat("g", f"1.{minor}")
    current = model.current_event("g")
    assert model.replay("g", None) == [current]
    assert model.replay("g", str(current.id)) == []
    assert [e.id for e in model.replay("g", str(current.id - 2))] == [current.id - 1, current.id]
    # Fell out of the ring, never existed, or garbage: the current status.
    for unknown in (str(current.id - 4), "1", "-1", "x", str(current.id + 10)):
        assert model.replay("g", unknown) == [current]


async def test_offline_is_pushed_by_a_timer() -> None:
    model = _model(FakeClock(), offline_after=0.05)
    model.add_guild("g")
    subscriber = model.subscribe("g")
    model.heartbeat("g", "1.0")
    online = await asyncio.wait_for(subscriber.next_batch(), 5)
    offline = await asyncio.wait_for(subscriber.next_batch(), 5)
    assert json.loads(online[0].data)["healthy"] is True
    assert json.loads(offline[0].data)["healthy"] is False


async def test_restored_heartbeat_keeps_the_rest_of_the_threshold() -> None:
    clock = FakeClock()
    model = _model(clock, offline_after=60)
    model.add_guild("recent", last_heartbeat=T0 - timedelta(seconds=10), version="1")
    model.add_guild("old", last_heartbeat=T0 - timedelta(seconds=600), version="1")
    assert model.status("recent")["healthy"] is True
    assert model.status("old") == {
        "healthy": False,
        "lastHeartbeat": "2026-11-22T13:53:00Z",
        "version": "1",
    }


async def test_a_stream_too_far_behind_is_closed_not_buffered() -> None:
    subscriber = Subscriber("g", max_pending=3)
    for number in range(10):
        subscriber.push(Event(number, "g", "{}"))
    assert subscriber.closed_reason == "overflow"
    assert await subscriber.next_batch() == []


async def test_shutdown_closes_every_stream() -> None:
    model = _model(FakeClock())
    model.add_guild("a")
    model.add_guild("b")
    subscribers = [model.subscribe("a"), model.subscribe("b")]
    model.shutdown()
    assert [s.closed_reason for s in subscribers] == ["shutdown", "shutdown"]
    assert [await s.next_batch() for s in subscribers] == [[], []]
