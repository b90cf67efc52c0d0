"""The silence model: durations, expiry by an injected clock, "until back", maintenance."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from guildwatch.alerts import Silence, Silences
from guildwatch.durations import format_left, parse_duration, parse_silence_duration
from guildwatch.store import BotStatus, GuildSnapshot
from tests.alerts.support import T0


class WallClock:
    """Aware UTC "now" that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15m", 900), ("1h", 3600), ("4h", 14400), ("1h30m", 5400), ("90s", 90), ("120", 120)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "0", "0m", "-5m", "soon", "1x", "nan", "inf", "800h"])
def test_bad_durations_say_why(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_until_back_is_a_silence_duration() -> None:
    assert parse_silence_duration("until-back") is None
    assert parse_silence_duration("1h") == timedelta(hours=1)


@pytest.mark.parametrize(
    ("left", "shown"),
    [
        (timedelta(minutes=14, seconds=1), "15m"),
        (timedelta(minutes=14), "14m"),
        (timedelta(seconds=5), "1m"),
        (timedelta(hours=1), "1h"),
        (timedelta(hours=3, minutes=59), "3h59m"),
        (timedelta(days=2, hours=4), "2d4h"),
    ],
)
def test_time_left_rounds_up_to_the_minute(left: timedelta, shown: str) -> None:
    assert format_left(left) == shown


def test_a_timed_silence_expires_by_the_clock() -> None:
    clock = WallClock()
    silences = Silences(clock=clock)
    silences.silence(["a"], timedelta(minutes=15))
    state = silences.state("a")
    assert state is not None
    assert state.reason == "operator"
    assert state.until == T0 + timedelta(minutes=15)
    clock.advance(minutes=1)
    assert state.left(clock()) == "silenced 14m"
    assert silences.state("b") is None
    clock.advance(minutes=14)
    assert silences.state("a") is None
    assert silences.entries() == ()


def test_silence_all_and_unsilence_one() -> None:
    silences = Silences(clock=WallClock())
    silences.silence(["a", "b", "c"], timedelta(hours=1))
    silences.unsilence(["b", "nope"])
    assert [e.guild_id for e in silences.entries()] == ["a", "c"]


def test_until_back_ends_at_the_first_online_after_a_down() -> None:
    silences = Silences(clock=WallClock())
    silences.silence(["a"], None, down=lambda guild_id: False)  # made while still online
    assert silences.observe("a", True) is False  # online before any outage: still silenced
    assert silences.observe("a", None) is False  # connecting says nothing
    assert silences.observe("a", False) is False
    state = silences.state("a")
    assert state is not None
    assert state.until_back
    assert state.left(T0) == "silenced until back"
    assert silences.observe("a", True) is True
    assert silences.state("a") is None


def test_until_back_made_while_down_ends_when_back() -> None:
    silences = Silences(clock=WallClock())
    silences.silence(["a"], None, down=lambda guild_id: True)
    assert silences.observe("a", True) is True
    assert silences.get("a") is None


def test_maintenance_silences_without_an_entry() -> None:
    silences = Silences(clock=WallClock())
    status = BotStatus(True, T0, "1.3", state="maintenance", message="deploying v1.3")
    snapshot = GuildSnapshot("a", connection="connected", status=status, source="stream")
    state = silences.state("a", snapshot)
    assert state is not None
    assert state.reason == "maintenance"
    assert state.left(T0) == "no alerts"
    up = GuildSnapshot("a", connection="connected", status=status._replace(state="up"))
    assert silences.state("a", up) is None


def test_every_change_is_told_and_expired_entries_are_dropped_at_start() -> None:
    clock = WallClock()
    told: list[tuple[Silence, ...]] = []
    old = Silence("old", T0 - timedelta(hours=2), T0 - timedelta(hours=1))
    live = Silence("live", T0, T0 + timedelta(hours=1))
    silences = Silences(clock=clock, entries=[old, live], on_change=told.append)
    assert silences.entries() == (live,)
    silences.silence(["x"], timedelta(minutes=15))
    assert [e.guild_id for e in told[-1]] == ["live", "x"]
    clock.advance(minutes=15)
    assert silences.prune() is True
    assert [e.guild_id for e in told[-1]] == ["live"]
    assert silences.next_expiry() == T0 + timedelta(hours=1)
