"""Silences and reminders between the Alerter and the sinks, with fake clocks (no sleeping)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from guildwatch.alerts import Alerter, AlertGate, Change, Silences
from guildwatch.store import GuildSnapshot
from tests.alerts.support import FakeMonotonic, Kind, snapshot


class Rig:
    """An Alerter (hold-down 5 s) and a gate on one fake clock, fed snapshots by the test."""

    def __init__(self, *, repeat: float = 0.0) -> None:
        self.clock = FakeMonotonic()
        self.alerter = Alerter(5.0, clock=self.clock, wall_clock=self.clock.wall)
        self.silences = Silences(clock=self.clock.wall)
        self.gate = AlertGate(self.silences, repeat=repeat, clock=self.clock)
        self.sent: list[Change] = []

    def show(self, kind: Kind | GuildSnapshot, guild_id: str = "g") -> None:
        shot = snapshot(kind, guild_id) if isinstance(kind, str) else kind
        self.gate.observe(shot)
        self.sent += self.gate.admit(self.alerter.update(shot)) + self.gate.due()

    def wait(self, seconds: float) -> None:
        """Let time pass in 1 s steps, as the service wakes at each deadline."""
        for _ in range(int(seconds)):
            self.clock.advance(1.0)
            self.sent += self.gate.admit(self.alerter.due()) + self.gate.due()

    def said(self) -> list[str]:
        return [change.summary() for change in self.sent]


def test_a_silenced_guild_sends_nothing_and_its_recovery_is_quiet_too() -> None:
    rig = Rig()
    rig.show("online")
    rig.silences.silence(["g"], timedelta(hours=1))
    rig.show("offline")
    rig.wait(10)
    assert rig.said() == []
    assert [(c.before, c.after) for c in rig.gate.held] == [("online", "offline")]
    rig.show("online")
    rig.wait(10)
    assert rig.said() == []  # nothing was announced, so there is nothing to take back


def test_other_guilds_still_alert() -> None:
    rig = Rig()
    rig.show("online", "a")
    rig.show("online", "b")
    rig.silences.silence(["a"], timedelta(hours=1))
    rig.show("offline", "a")
    rig.show("lost", "b")
    rig.wait(6)
    assert rig.said() == ["b: Connection lost (was Online)"]


def test_until_back_announces_the_recovery() -> None:
    rig = Rig()
    rig.show("online")
    rig.show("offline")
    rig.wait(6)
    assert rig.said() == ["g: Offline (was Online)"]
    rig.silences.silence(["g"], None, down=lambda guild_id: True)
    rig.show("online")  # the silence ends here; the Alerter announces after its hold-down
    assert rig.silences.get("g") is None
    rig.wait(6)
    assert rig.said() == ["g: Offline (was Online)", "g: back Online (was Offline)"]


def test_until_back_made_before_the_outage_holds_it_and_sends_the_way_back() -> None:
    rig = Rig()
    rig.show("online")
    rig.silences.silence(["g"], None)
    rig.show("offline")
    rig.wait(6)
    assert rig.said() == []
    rig.show("online")
    rig.wait(6)
    assert rig.said() == ["g: back Online (was Offline)"]


def test_a_silence_that_ends_while_down_sends_the_held_alert() -> None:
    rig = Rig()
    rig.show("online")
    rig.silences.silence(["g"], timedelta(minutes=15))
    rig.show("offline")
    rig.wait(60)
    assert rig.said() == []
    # The next deadline is the silence's end, not "never".
    deadline = rig.gate.next_deadline()
    assert deadline is not None
    assert deadline - rig.clock() == (15 * 60) - 60
    rig.wait(15 * 60)
    assert rig.said() == ["g: Offline (was Online)"]


def test_unsilence_sends_the_held_alert_at_once() -> None:
    rig = Rig()
    rig.show("online")
    rig.silences.silence(["g"], timedelta(hours=4))
    rig.show("lost")
    rig.wait(6)
    rig.silences.unsilence(["g"])
    assert [c.summary() for c in rig.gate.due()] == ["g: Connection lost (was Online)"]


def test_reminders_repeat_while_down_and_stop_when_back() -> None:
    rig = Rig(repeat=600)
    rig.show("online")
    rig.show("offline")
    rig.wait(6)
    rig.wait(600)
    rig.wait(600)
    assert rig.said() == ["g: Offline (was Online)", "g: still Offline", "g: still Offline"]
    assert [c.reminder for c in rig.sent] == [False, True, True]
    assert rig.sent[1].to_json()["reminder"] is True
    assert rig.sent[1].at == rig.sent[0].at  # when it went down, not when it was repeated
    rig.show("online")
    rig.wait(1200)
    assert rig.said()[3:] == ["g: back Online (was Offline)"]
    assert rig.gate.next_deadline() is None


def test_reminders_are_off_by_default() -> None:
    rig = Rig()
    rig.show("online")
    rig.show("offline")
    rig.wait(3600)
    assert rig.said() == ["g: Offline (was Online)"]
    assert rig.gate.next_deadline() is None


def test_no_reminder_while_silenced() -> None:
    rig = Rig(repeat=60)
    rig.show("online")
    rig.show("offline")
    rig.wait(6)
    rig.silences.silence(["g"], timedelta(minutes=15))
    rig.wait(15 * 60 - 10)
    assert rig.said() == ["g: Offline (was Online)"]
    rig.wait(70)
    assert rig.said() == ["g: Offline (was Online)", "g: still Offline"]


def test_a_maintenance_silences_while_it_lasts() -> None:
    rig = Rig()
    up = snapshot("online")
    assert up.status is not None
    maintenance = replace(
        snapshot("offline"), status=up.status._replace(healthy=False, state="maintenance")
    )
    rig.show(up)
    rig.show(maintenance)
    rig.wait(10)
    assert rig.said() == []
    assert rig.gate.silenced("g")
    rig.show("offline")  # maintenance over, the bot still down: the held alert goes out
    assert rig.said() == ["g: Offline (was Online)"]
