"""Which changes make a toast, decided without Textual."""

from __future__ import annotations

from guildwatch.store import StatusStore
from guildwatch.ui._notices import NoticeTracker, merge_notices
from tests.ui.support import (
    GUILD,
    HOSTILE,
    STATES,
    FakeClock,
    State,
    put_in_state,
    seeded_store,
)


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


def _many_online(count: int) -> tuple[list[StatusStore], FakeClock]:
    clock = FakeClock()
    stores = [seeded_store("online", clock, guild_id=f"{n:018d}") for n in range(count)]
    return stores, clock


def test_a_wake_up_gives_what_merging_each_update_gives() -> None:
    # wake() writes out only the notices shown: the result must be the eager merge's.
    for count in (2, 3, 4, 12):
        for state in ("offline", "reconnecting", "lost"):
            stores, clock = _many_online(count)
            lazy, eager = NoticeTracker(), NoticeTracker()
            for store in stores:
                lazy.seed(store.get(store.guild_ids[0]))
                eager.seed(store.get(store.guild_ids[0]))
            for store in stores:
                put_in_state(store, state, clock, guild_id=store.guild_ids[0])
            snapshots = [store.get(store.guild_ids[0]) for store in stores]
            expected = merge_notices([n for s in snapshots for n in eager.update(s)])
            assert expected  # every count and state here is news
            assert lazy.wake(snapshots) == expected


def test_an_unchanged_connection_and_health_say_nothing_again() -> None:
    # A heartbeat is a new snapshot with the same pair: skipped, yet a later flip still counts.
    clock = FakeClock()
    store = seeded_store("online", clock)
    tracker = NoticeTracker()
    tracker.seed(store.get(GUILD))
    for _ in range(3):
        put_in_state(store, "online", clock)
        assert tracker.wake([store.get(GUILD)]) == []
    put_in_state(store, "offline", clock)
    assert [n.title for n in tracker.wake([store.get(GUILD)])] == ["Bot offline"]


def test_wake_ups_over_random_state_walks_give_what_each_update_gives() -> None:
    # wake() has a fast path for a live guild whose bot only flipped; walks through every
    # state (outages, flips, reconnects, errors) must still give the eager merge's notices.
    import random

    for seed in range(6):
        pick = random.Random(seed)
        stores, clock = _many_online(5)
        lazy, eager = NoticeTracker(), NoticeTracker()
        for store in stores:
            lazy.seed(store.get(store.guild_ids[0]))
            eager.seed(store.get(store.guild_ids[0]))
        said = 0
        for _ in range(40):
            woken = pick.sample(stores, pick.randint(1, len(stores)))
            for store in woken:
                put_in_state(store, pick.choice(STATES), clock, guild_id=store.guild_ids[0])
            snapshots = [store.get(store.guild_ids[0]) for store in woken]
            expected = merge_notices([n for s in snapshots for n in eager.update(s)])
            assert lazy.wake(snapshots) == expected
            said += len(expected)
        assert said > 10  # the walk made news, not only repeats
