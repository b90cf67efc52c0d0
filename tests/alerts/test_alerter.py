"""The Alerter's hold-down, with a fake clock: flapping makes one alert, not hundreds."""

from __future__ import annotations

import pytest

from guildwatch.alerts import Alerter, Change, alert_state
from tests.alerts.support import FakeMonotonic, Kind, snapshot


def _alerter(hold_down: float = 5.0) -> tuple[Alerter, FakeMonotonic]:
    clock = FakeMonotonic()
    return Alerter(hold_down, clock=clock, wall_clock=clock.wall), clock


def _run(alerter: Alerter, clock: FakeMonotonic, steps: list[tuple[float, Kind]]) -> list[Change]:
    """Feed ``(seconds later, kind)`` steps, polling ``due()`` every 0.25 s in between.

    Quarter seconds add up exactly in binary floating point, so "held for 5 s" is exact.
    """
    changes: list[Change] = []
    for delay, kind in steps:
        ticks = round(delay * 4)
        assert ticks == delay * 4, "use multiples of 0.25 s"
        for _ in range(ticks):
            clock.advance(0.25)
            changes += alerter.due()
        changes += alerter.update(snapshot(kind))
    return changes


def _pairs(changes: list[Change]) -> list[tuple[str | None, str]]:
    return [(change.before, change.after) for change in changes]


def test_alert_states_follow_the_screen() -> None:
    assert alert_state(snapshot("online")) == "online"
    assert alert_state(snapshot("offline")) == "offline"
    assert alert_state(snapshot("lost")) == "lost"
    assert alert_state(snapshot("reconnecting")) is None
    assert alert_state(snapshot("connecting")) is None


def test_online_at_start_is_the_quiet_baseline() -> None:
    alerter, clock = _alerter()
    changes = _run(alerter, clock, [(0, "connecting"), (0.5, "online"), (30, "online")])
    assert changes == []
    assert alerter.next_deadline() is None


def test_a_change_is_announced_only_once_it_held_for_the_hold_down() -> None:
    alerter, clock = _alerter(hold_down=5.0)
    assert _run(alerter, clock, [(0, "online"), (1, "offline")]) == []
    went_down = clock.now
    assert alerter.next_deadline() == pytest.approx(went_down + 5.0)
    clock.advance(4.75)
    assert alerter.due() == []
    clock.advance(0.25)
    changes = alerter.due()
    assert _pairs(changes) == [("online", "offline")]
    assert alerter.due() == []  # announced once


def test_change_time_is_when_the_state_began_not_when_announced() -> None:
    alerter, clock = _alerter(hold_down=5.0)
    _run(alerter, clock, [(0, "online"), (1, "offline")])
    began = clock.wall()
    clock.advance(5)
    (change,) = alerter.due()
    assert change.at == began


def test_a_short_blip_is_not_announced() -> None:
    alerter, clock = _alerter(hold_down=5.0)
    changes = _run(alerter, clock, [(0, "online"), (10, "offline"), (2, "online"), (60, "online")])
    assert changes == []


def test_flapping_at_1_hz_makes_one_alert_then_one_back() -> None:
    alerter, clock = _alerter(hold_down=5.0)
    steps: list[tuple[float, Kind]] = [(0, "online")]
    for _ in range(120):  # two minutes of flapping: 0.5 s down, 0.5 s up
        steps += [(0.5, "offline"), (0.5, "online")]
    during = _run(alerter, clock, steps)
    assert _pairs(during) == [("online", "offline")]
    # Once it settles, the way back is announced once, after it held.
    after = _run(alerter, clock, [(4.0, "online")])
    assert after == []
    clock.advance(1.0)
    assert _pairs(alerter.due()) == [("offline", "online")]
    clock.advance(60)
    assert alerter.due() == []


def test_back_to_normal_must_hold_too() -> None:
    alerter, clock = _alerter(hold_down=5.0)
    changes = _run(alerter, clock, [(0, "online"), (1, "lost"), (6, "lost")])
    assert _pairs(changes) == [("online", "lost")]
    # Reconnects for 3 s, then drops again: no "back" in between.
    changes = _run(alerter, clock, [(0, "connecting"), (0.5, "online"), (3, "reconnecting")])
    changes += _run(alerter, clock, [(0.5, "lost"), (10, "lost")])
    assert changes == []
    changes = _run(alerter, clock, [(1, "online"), (5, "online")])
    assert _pairs(changes) == [("lost", "online")]


def test_retrying_states_neither_start_nor_end_a_change() -> None:
    alerter, clock = _alerter(hold_down=5.0)
    steps: list[tuple[float, Kind]] = [(0, "online")]
    for _ in range(10):  # a server restart: a few reconnects, each back online quickly
        steps += [(3, "reconnecting"), (1, "connecting"), (0.25, "online")]
    assert _run(alerter, clock, steps) == []


def test_a_worse_state_during_the_hold_down_escalates_once() -> None:
    alerter, clock = _alerter(hold_down=5.0)
    changes = _run(alerter, clock, [(0, "online"), (1, "offline"), (3, "lost"), (10, "lost")])
    assert _pairs(changes) == [("online", "lost")]


def test_offline_then_lost_then_offline_are_each_announced_when_they_hold() -> None:
    alerter, clock = _alerter(hold_down=2.0)
    changes = _run(
        alerter,
        clock,
        [(0, "online"), (1, "offline"), (3, "lost"), (3, "offline"), (3, "online"), (3, "online")],
    )
    assert _pairs(changes) == [
        ("online", "offline"),
        ("offline", "lost"),
        ("lost", "offline"),
        ("offline", "online"),
    ]


def test_a_guild_found_down_is_announced_once_it_holds() -> None:
    alerter, clock = _alerter(hold_down=5.0)
    changes = _run(alerter, clock, [(0, "connecting"), (0.25, "lost"), (6, "lost")])
    assert _pairs(changes) == [(None, "lost")]


def test_a_shaky_start_that_settles_online_is_no_news() -> None:
    alerter, clock = _alerter(hold_down=5.0)
    changes = _run(alerter, clock, [(0, "offline"), (1, "online"), (10, "online")])
    assert changes == []


def test_zero_hold_down_announces_at_once() -> None:
    alerter, _ = _alerter(hold_down=0.0)
    alerter.update(snapshot("online"))
    assert _pairs(alerter.update(snapshot("offline"))) == [("online", "offline")]
    assert _pairs(alerter.update(snapshot("online"))) == [("offline", "online")]


def test_guilds_are_debounced_independently() -> None:
    alerter, clock = _alerter(hold_down=5.0)
    for guild in ("a", "b"):
        alerter.update(snapshot("online", guild))
    alerter.update(snapshot("offline", "a"))
    clock.advance(3)
    alerter.update(snapshot("offline", "b"))
    clock.advance(2)
    assert [c.guild_id for c in alerter.due()] == ["a"]
    clock.advance(3)
    assert [c.guild_id for c in alerter.due()] == ["b"]


def test_change_carries_the_latest_version_error_and_name() -> None:
    alerter, clock = _alerter(hold_down=1.0)
    alerter.update(snapshot("online", name="Main"))
    alerter.update(snapshot("lost", name="Main", version="2.0"))
    clock.advance(1)
    (change,) = alerter.due()
    record = change.to_json()
    assert record == {
        "guild": "g",
        "name": "Main",
        "from": "online",
        "to": "lost",
        "time": "2026-11-22T14:00:00Z",
        "version": "2.0",
        "error": {"kind": "network", "message": "Connection lost after 4 attempts: refused"},
        "reminder": False,
    }
    assert change.summary() == "Main: Connection lost (was Online)"


def test_degraded_is_a_state_of_its_own_and_maintenance_is_no_news() -> None:
    assert alert_state(snapshot("degraded")) == "degraded"
    assert alert_state(snapshot("maintenance")) is None


def test_degraded_has_the_same_hold_down_both_ways() -> None:
    alerter, clock = _alerter(hold_down=5.0)
    assert _run(alerter, clock, [(0, "online"), (1, "degraded"), (4.75, "degraded")]) == []
    changes = _run(alerter, clock, [(0.25, "degraded")])
    assert _pairs(changes) == [("online", "degraded")]
    assert changes[0].summary() == "g: Degraded (was Online)"
    assert changes[0].to_json()["to"] == "degraded"
    assert _run(alerter, clock, [(1, "online"), (4.75, "online")]) == []
    back = _run(alerter, clock, [(0.25, "online")])
    assert _pairs(back) == [("degraded", "online")]
    assert back[0].summary() == "g: back Online (was Degraded)"


def test_a_shard_blip_shorter_than_the_hold_down_is_not_announced() -> None:
    alerter, clock = _alerter(hold_down=5.0)
    steps: list[tuple[float, Kind]] = [
        (0, "online"),
        (1, "degraded"),
        (2, "online"),
        (30, "online"),
    ]
    assert _run(alerter, clock, steps) == []


def test_flapping_between_degraded_and_offline_escalates_to_offline() -> None:
    alerter, clock = _alerter(hold_down=5.0)
    steps: list[tuple[float, Kind]] = [(0, "online")]
    steps += [(0.5, "degraded" if i % 2 else "offline") for i in range(12)]
    assert _pairs(_run(alerter, clock, steps)) == [("online", "offline")]


def test_maintenance_neither_starts_nor_ends_a_change() -> None:
    alerter, clock = _alerter(hold_down=5.0)
    steps: list[tuple[float, Kind]] = [(0, "online"), (1, "maintenance"), (60, "maintenance")]
    assert _run(alerter, clock, steps) == []
