"""Pilot tests of the several-guilds list: keys, sorting, filter, detail view, scale.

The store is driven by hand with a fixed clock and the engine only records calls; the same
list against the real engine and reference server is in ``test_many_real.py``.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from textual.widgets import Input

from guildwatch.store import Problem, StatusStore
from guildwatch.ui import GuildwatchApp
from guildwatch.ui._guild_detail import GuildDetail
from guildwatch.ui._guild_list import GuildList
from guildwatch.ui._status_dot import GLYPHS
from tests.ui.support import (
    HOSTILE,
    MIXED,
    MIXED_WORST_FIRST,
    FakeClock,
    RecordingEngine,
    State,
    mixed_store,
    put_in_state,
    screen_text,
    wait_for,
)

AURORA, BASALT, CINDER, DUNMORE = (guild_id for guild_id, _, _ in MIXED[:4])


def _app(store: StatusStore | None = None) -> tuple[GuildwatchApp, StatusStore, RecordingEngine]:
    clock = FakeClock()
    store = store or mixed_store(clock)
    engine = RecordingEngine()
    app = GuildwatchApp(store, engine, animation=False, clock=store.clock)
    return app, store, engine


def _many(count: int, clock: FakeClock) -> StatusStore:
    states: tuple[State, ...] = ("online", "offline", "reconnecting", "lost", "online")
    store = StatusStore(clock=clock)
    for n in range(count):
        guild_id = f"{n:018d}"
        store.add_guild(guild_id, name=f"Guild {n}")
        put_in_state(store, states[n % len(states)], clock, guild_id)
    return store


def _focus(app: GuildwatchApp) -> object:
    # A function, so mypy does not carry an isinstance() narrowing from one key to the next.
    return app.focused


def _names_on_screen(app: GuildwatchApp) -> list[str]:
    names = [name for _, name, _ in MIXED]
    lines = screen_text(app).splitlines()
    return [name for line in lines for name in names if f" {name} " in line]


async def test_rows_are_worst_first_and_show_every_column() -> None:
    app, _, _ = _app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert _names_on_screen(app) == MIXED_WORST_FIRST
        text = screen_text(app)
        assert "1 lost · 2 offline · 1 reconnecting · 1 connecting · 3 online" in text
        titles = next(line for line in text.splitlines() if "Version" in line)
        assert titles.split() == ["Guild", "Status", "Last", "seen", "Version", "Source"]
        fjord = next(line for line in text.splitlines() if "Fjord" in line)
        assert fjord.split() == ["◉", "Fjord", "Online", "2m", "v1.2.3", "poll"]


async def test_a_change_of_group_resorts_and_the_selection_follows_the_guild() -> None:
    app, store, engine = _app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        guild_list = app.query_one(GuildList)
        await pilot.press("end")
        assert guild_list.selected == MIXED[6][0]  # Grove, last
        put_in_state(store, "lost", store.clock, MIXED[6][0])  # type: ignore[arg-type]
        await wait_for(pilot, lambda: guild_list.rows[1] == MIXED[6][0], "Grove moved up")
        assert guild_list.selected == MIXED[6][0]
        assert guild_list.cursor == 1  # lost, after Dunmore (store order within the group)
        await pilot.press("r")
        assert engine.retries == [MIXED[6][0]]


async def test_keys_move_the_selection_and_keep_it_on_screen() -> None:
    clock = FakeClock()
    app, _, _ = _app(_many(100, clock))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        guild_list = app.query_one(GuildList)
        assert guild_list.cursor == 0
        await pilot.press("j", "down")
        assert guild_list.cursor == 2
        await pilot.press("k")
        assert guild_list.cursor == 1
        await pilot.press("pagedown")
        page = guild_list.cursor - 1
        assert page >= 15  # 24 rows minus summary, titles and footer
        await pilot.press("end")
        assert guild_list.cursor == 99
        await pilot.pause()
        selected_name = f"Guild {int(guild_list.selected or '')}"
        assert selected_name in screen_text(app)  # scrolled into view
        await pilot.press("pageup")
        assert guild_list.cursor == 99 - page
        await pilot.press("home", "up")
        assert guild_list.cursor == 0
        await pilot.pause()
        assert f"Guild {int(guild_list.rows[0])} " in screen_text(app)


async def test_capital_r_retries_every_guild_in_error_through_the_engine() -> None:
    app, _, engine = _app()
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("R")
        # engine.retry(None): the engine picks the guilds in error or disconnected.
        assert engine.retries == [None]
        assert "R Retry all" in screen_text(app)


async def test_slash_filters_by_name_or_id_and_escape_clears() -> None:
    app, _, _ = _app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        guild_list = app.query_one(GuildList)
        await pilot.press("slash", "o", "r")
        assert isinstance(_focus(app), Input)
        await wait_for(pilot, lambda: len(guild_list.rows) == 4, "four matches")
        assert _names_on_screen(app) == ["Dunmore", "Harbor", "Aurora", "Fjord"]
        assert "filter: 4 of 8" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(guild_list.rows) == 8, "every guild again")
        assert app.focused is guild_list
        # By id, and q typed into the filter is text, not quit.
        await pilot.press("slash", *"0000003", "enter")
        assert guild_list.rows == (CINDER,)
        assert _focus(app) is guild_list  # Enter keeps the filter, the list has the keys
        await pilot.press("slash", "q")
        await pilot.pause()
        assert app.is_running
        assert len(guild_list.rows) == 0
        assert "filter: 0 of 8" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(guild_list.rows) == 8, "cleared")


async def test_filter_text_and_guild_names_are_never_markup() -> None:
    clock = FakeClock()
    store = mixed_store(clock)
    store.add_guild("666", name=HOSTILE)
    put_in_state(store, "online", clock, "666")
    app, _, _ = _app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash", *"[/]")
        guild_list = app.query_one(GuildList)
        await wait_for(pilot, lambda: guild_list.rows == ("666",), "the hostile guild")
        text = screen_text(app)
        assert "[bold red]pwn[/]" in text
        assert " [/]" in text  # the filter input shows it literally
        assert "\x1b" not in text
        assert "\u202e" not in text
        assert app.is_running


async def test_enter_opens_the_detail_view_with_exact_times_error_and_backoff() -> None:
    app, store, engine = _app()
    clock = store.clock
    assert isinstance(clock, FakeClock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        guild_list = app.query_one(GuildList)
        await pilot.press("down", "down", "down")
        assert guild_list.selected == CINDER  # reconnecting
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, GuildDetail), "detail view")
        detail = app.screen
        assert isinstance(detail, GuildDetail)
        texts = detail.texts()
        assert texts["title"] == "◌ Reconnecting in 4 s · Cinder"
        assert "Heartbeat   2026-11-22 13:59:40 UTC (less than a minute ago)" in texts["facts"]
        assert "Error       Connection refused by 127.0.0.1:8765" in texts["facts"]
        assert "attempt 2 · next retry in 4 s (2026-11-22 14:00:04 UTC)" in texts["facts"]
        # Cinder's hour (support.CINDER_HOUR): 15 min up, 5 down, 20 up, 2 reconnecting,
        # 8 lost, 10 up; "unknown" time counts neither way, so 45 of 50 known minutes.
        assert "Uptime      90.0 % online since 13:00:00 UTC · 2 outages" in texts["facts"]
        timeline = texts["timeline"].splitlines()
        assert timeline[0] == "Last hour   " + "█" * 15 + "▁" * 5 + "█" * 20 + ".." + "▒" * 8 + (
            "█" * 10
        )
        assert timeline[1].strip() == "13:00 → 14:00 UTC, 1 mark = 1 min"
        assert "▒ connection lost" in timeline[2]
        history = texts["history"].splitlines()
        assert len(history) == 9  # every change since watching started, newest first
        assert history[0].split()[3:5] == ["disconnected", "online"]
        assert history[2].split()[1:5] == ["13:42:00", "UTC", "error", "online"]
        assert history[-1].split()[1:5] == ["13:00:00", "UTC", "connecting", "unknown"]
        clock.advance(3)
        await wait_for(
            pilot, lambda: "next retry in 1 s" in screen_text(app), "the countdown ticks"
        )
        store.set_connection(CINDER, "error", error=Problem("auth", "401 from the server"))
        await wait_for(pilot, lambda: "gave up: press r" in screen_text(app), "store change")
        await pilot.press("r")
        assert engine.retries == [CINDER]
        await pilot.press("q")
        await wait_for(pilot, lambda: not isinstance(app.screen, GuildDetail), "closed by q")
        assert app.is_running
        assert app.focused is guild_list
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, GuildDetail), "open again")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, GuildDetail), "closed by Esc")
        await pilot.press("slash", *"bas")
        await wait_for(pilot, lambda: guild_list.rows == (BASALT,), "filter after the detail")


async def test_40x10_shows_dot_name_and_word_and_20x3_the_worst_guild() -> None:
    app, _, _ = _app()
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        lines = screen_text(app).splitlines()
        assert lines[1].split() == ["⊘", "Dunmore", "Unauthorized"]  # a 401, named
        assert lines[2].split() == ["✕", "Basalt", "Offline"]
        assert all(len(line) <= 40 for line in lines)
    app, _, _ = _app()
    async with app.run_test(size=(20, 3)) as pilot:
        await pilot.pause()
        first = screen_text(app).splitlines()[0]
        assert first.startswith(f"{GLYPHS['lost']} Unauthorized")


async def test_a_thousand_guilds_stay_responsive() -> None:
    clock = FakeClock()
    store = _many(1000, clock)
    app, _, _ = _app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        guild_list = app.query_one(GuildList)
        latencies = []
        for key in ["down"] * 15 + ["pagedown"] * 5 + ["end", "home", "k", "j"]:
            started = time.perf_counter()
            await pilot.press(key)
            latencies.append(time.perf_counter() - started)
        # Keys while a burst over every guild is being shown.
        for round_ in range(5):
            for guild_id in store.guild_ids:
                put_in_state(store, "offline" if round_ % 2 else "online", clock, guild_id)
            clock.advance(1)
            started = time.perf_counter()
            await pilot.press("down")
            latencies.append(time.perf_counter() - started)
        await wait_for(
            pilot,
            lambda: all(guild_list.snapshot(g).health == "online" for g in store.guild_ids),
            "the last burst on screen",
        )
        median, worst = statistics.median(latencies), max(latencies)
        # The cost of one wake-up in which every guild changed group: update, one re-sort,
        # summary, and the repaint of the 80x24 screen.
        many = app.many
        assert many is not None
        for guild_id in store.guild_ids:
            put_in_state(store, "lost", clock, guild_id)
        started = time.perf_counter()
        many.update([store.get(g) for g in store.guild_ids])
        screen_text(app)
        wake_up = time.perf_counter() - started
        print(
            f"\n1,000 guilds: key press (Pilot round trip) median {median * 1000:.1f} ms, "
            f"max {worst * 1000:.1f} ms; one wake-up over all of them {wake_up * 1000:.1f} ms"
        )
        assert median < 0.5  # generous on 2 shared cores; the figures are the printed ones
        assert wake_up < 1.0
        assert guild_list.rows == store.guild_ids


async def test_a_server_restart_over_many_guilds_is_one_toast_not_hundreds() -> None:
    clock = FakeClock()
    store = _many(50, clock)
    app, _, _ = _app(store)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        for guild_id in store.guild_ids:
            store.set_connection(guild_id, "connected")
        await pilot.pause(0.2)
        for guild_id in store.guild_ids:
            store.set_connection(
                guild_id,
                "disconnected",
                error=Problem("network", "Connection refused"),
                next_retry_at=clock.now + timedelta(seconds=5),
            )
        await wait_for(pilot, lambda: len(app._notifications) >= 1, "a toast")
        await pilot.pause(0.3)
        titles = [n.title for n in app._notifications]
        assert titles.count("Connection lost") == 1
        lost = next(n for n in app._notifications if n.title == "Connection lost")
        assert lost.message.startswith("50 guilds: Guild 0, Guild 1, Guild 2, …")


async def test_the_kept_counts_and_cursor_follow_every_change() -> None:
    # The list keeps its counts and row indexes as it goes (no rescan per wake-up): after
    # changes of group, a filter and cursor moves they still say what a full scan says.
    from guildwatch.ui._many import summary, summary_of

    clock = FakeClock()
    store = _many(40, clock)
    app, _, _ = _app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        guild_list = app.query_one(GuildList)
        states: tuple[State, ...] = ("offline", "lost", "online", "reconnecting")
        for round_, state in enumerate(states):
            for guild_id in store.guild_ids[round_::3]:
                put_in_state(store, state, clock, guild_id)
            await wait_for(
                pilot,
                lambda: all(guild_list.snapshot(g) is store.get(g) for g in store.guild_ids),
                "the changes on screen",
            )
            assert summary_of(guild_list.kind_counts) == summary(store.snapshots())
            await pilot.press("down", "down")
            assert guild_list.rows[guild_list.cursor] == guild_list.selected
        guild_list.set_filter("Guild 1")
        await pilot.press("end")
        assert guild_list.selected == guild_list.rows[-1]
        assert guild_list.cursor == len(guild_list.rows) - 1
        assert summary_of(guild_list.kind_counts) == summary(store.snapshots())


def test_a_renamed_guild_is_named_anew_in_its_next_notice() -> None:
    from guildwatch.ui._notices import NoticeTracker

    clock = FakeClock()
    store = _many(1, clock)
    guild_id = store.guild_ids[0]
    tracker = NoticeTracker()
    tracker.seed(store.get(guild_id))
    put_in_state(store, "offline", clock, guild_id)
    assert [n.guild for n in tracker.update(store.get(guild_id))] == ["Guild 0"]
    store.add_guild(guild_id, name="Renamed")
    put_in_state(store, "online", clock, guild_id)
    assert [n.guild for n in tracker.update(store.get(guild_id))] == ["Renamed"]
