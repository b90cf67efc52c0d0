"""Which changes make a toast, decided without Textual."""

from __future__ import annotations

from guildwatch.store import StatusStore
from guildwatch.ui._notices import NoticeTracker
from tests.ui.support import GUILD, HOSTILE, FakeClock, State, put_in_state, seeded_store


def _feed(states: list[State], start: State = "online") -> list[tuple[str, str]]:
    clock = FakeClock()
    store = seeded_store(start, clock)
    tracker = NoticeTracker()
    tracker.seed(store.get(GUILD))
    seen: list[tuple[str, str]] = []
    for state in states:
        put_in_state(store, state, clock)
        seen += [(n.title, n.severity) for n in tracker.update(store.get(GUILD))]
    return seen


def test_seeding_never_toasts_and_steady_state_is_quiet() -> None:
    assert _feed(["online", "online"]) == []


def test_repeated_failures_make_one_toast_until_recovered() -> None:
    assert _feed(["reconnecting", "connecting", "reconnecting", "lost", "lost"]) == [
        ("Connection lost", "warning")
    ]
    assert _feed(["reconnecting", "online", "reconnecting"]) == [
        ("Connection lost", "warning"),
        ("Reconnected", "information"),
        ("Connection lost", "warning"),
    ]


def test_first_connection_failing_is_announced_only_when_given_up() -> None:
    # Never connected yet: retrying quietly is normal start-up, giving up is news.
    assert _feed(["reconnecting", "connecting", "reconnecting"], start="connecting") == []
    # The "lost" state is a 401: the toast names it, as the row does.
    assert _feed(["lost"], start="connecting") == [("Unauthorized: check the token", "error")]
    assert _feed(["hostile"], start="connecting") == [("Connection lost", "error")]


def test_health_flips_are_announced_both_ways() -> None:
    assert _feed(["offline", "online"]) == [
        ("Bot offline", "warning"),
        ("Bot online", "information"),
    ]


def test_messages_are_sanitised_and_bounded() -> None:
    clock = FakeClock()
    store = StatusStore(clock=clock)
    store.add_guild(GUILD, name=HOSTILE)
    put_in_state(store, "online", clock)
    tracker = NoticeTracker()
    tracker.seed(store.get(GUILD))
    put_in_state(store, "hostile", clock)
    notices = tracker.update(store.get(GUILD))
    assert [n.title for n in notices] == ["Connection lost", "Bot offline"]
    for notice in notices:
        assert "\x1b" not in notice.message
        assert "\u202e" not in notice.message
        assert len(notice.message) < 300
