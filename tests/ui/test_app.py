"""Pilot tests of the screen against a store driven by hand and a recording engine.

These are view tests: the engine here only records calls. The same behaviours against the
real engine and reference server live in ``test_real_stack.py``.
"""

from __future__ import annotations

import os
import signal

import pytest
from textual.widgets import Footer

from guildwatch.store import StatusStore
from guildwatch.ui import EngineLike, GuildwatchApp
from guildwatch.ui._guild_detail import GuildDetail
from guildwatch.ui._guild_list import GuildList
from guildwatch.ui._help import HelpScreen
from guildwatch.ui._last_seen import LastSeen
from guildwatch.ui._status_dot import GLYPHS, StatusDot
from guildwatch.ui._status_line import StatusLine
from guildwatch.ui._status_word import StatusWord
from tests.ui.support import (
    GUILD,
    HOSTILE,
    FakeClock,
    RecordingEngine,
    State,
    put_in_state,
    screen_text,
    seeded_store,
    wait_for,
)


def make_app(
    state: State = "online", *, animation: bool = False
) -> tuple[GuildwatchApp, StatusStore, RecordingEngine, FakeClock]:
    clock = FakeClock()
    store = seeded_store(state, clock)
    engine = RecordingEngine()
    return GuildwatchApp(store, engine, animation=animation, clock=clock), store, engine, clock


def several(store: StatusStore, clock: FakeClock) -> None:
    others: list[tuple[str, State]] = [("222", "offline"), ("333", "reconnecting")]
    for guild_id, state in others:
        store.add_guild(guild_id, name=f"Guild {guild_id}")
        put_in_state(store, state, clock, guild_id)


def test_recording_engine_is_engine_like() -> None:
    assert isinstance(RecordingEngine(), EngineLike)


async def test_engine_runs_in_a_worker_and_r_retries_the_selected_guild() -> None:
    app, _, engine, _ = make_app("lost")
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: ("run", None) in engine.calls, "engine.run()")
        await pilot.press("r")
        assert engine.retries == [GUILD]


async def test_q_stops_the_engine_and_quits_with_code_0() -> None:
    app, _, engine, _ = make_app()
    async with app.run_test() as pilot:
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "exit")
    assert ("stop", None) in engine.calls
    assert app.return_code == 0


async def test_ctrl_c_quits_cleanly_with_code_130() -> None:
    app, _, engine, _ = make_app()
    async with app.run_test() as pilot:
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: not app.is_running, "exit")
    assert engine.calls.count(("stop", None)) == 1
    assert app.return_code == 130  # as the README and the headless modes say


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
async def test_sigterm_and_sighup_quit_cleanly_and_restore_the_handler(
    signum: signal.Signals,
) -> None:
    before = signal.getsignal(signum)
    app, _, engine, _ = make_app()
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: ("run", None) in engine.calls, "engine.run()")
        os.kill(os.getpid(), signum)
        await wait_for(pilot, lambda: not app.is_running, "exit on signal")
    assert ("stop", None) in engine.calls
    assert app.return_code == 0
    assert signal.getsignal(signum) == before


async def test_question_mark_shows_help_and_escape_closes_it() -> None:
    app, _, _, _ = make_app()
    async with app.run_test() as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "Press r" not in screen_text(app)
        assert "retry now" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), "help closed")


async def test_footer_shows_the_keys() -> None:
    app, _, _, _ = make_app()
    async with app.run_test() as pilot:
        await pilot.pause()
        bottom = screen_text(app).splitlines()[-1]
        for label in ("r Retry", "q Quit", "? Help"):
            assert label in bottom


async def test_several_guilds_get_the_list_and_r_retries_the_selected_one() -> None:
    app, store, engine, clock = make_app()
    several(store, clock)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert not app.query(StatusLine)  # one compact row each, not the roomy layout
        guild_list = app.query_one(GuildList)
        assert guild_list.rows == ("222", "333", GUILD)  # offline, reconnecting, online
        await pilot.press("down", "down", "r", "up", "r")
        assert engine.retries == [GUILD, "333"]


async def test_click_selects_a_row_and_a_double_click_opens_its_detail() -> None:
    app, store, _, clock = make_app()
    several(store, clock)
    async with app.run_test() as pilot:
        await pilot.pause()
        guild_list = app.query_one(GuildList)
        # Row 2 (the third guild) sits below the summary line and the column titles.
        await pilot.click(GuildList, offset=(5, 3))
        assert guild_list.selected == GUILD
        await pilot.click(GuildList, offset=(5, 2), times=2)
        await wait_for(pilot, lambda: isinstance(app.screen, GuildDetail), "detail view")
        assert isinstance(app.screen, GuildDetail)
        assert app.screen.guild_id == "333"


async def test_store_changes_reach_the_screen() -> None:
    app, store, _, clock = make_app("connecting")
    async with app.run_test() as pilot:
        word = app.query_one(StatusWord)
        assert word.text == "Connecting…"
        put_in_state(store, "offline", clock)
        await wait_for(pilot, lambda: "✕ Offline" in screen_text(app), "Offline on screen")
        assert "Check Discord" in screen_text(app)


async def test_one_guild_renamed_shows_its_new_name_and_state() -> None:
    # The line holds its children and skips the name when the label is the same: a rename
    # must still reach the screen, and so must a status change after it.
    app, store, _, clock = make_app()
    async with app.run_test() as pilot:
        store.add_guild(GUILD, name="Renamed Guild")
        await wait_for(pilot, lambda: "Renamed Guild" in screen_text(app), "the new name")
        put_in_state(store, "offline", clock)
        await wait_for(pilot, lambda: "✕ Offline" in screen_text(app), "Offline on screen")
        assert "Renamed Guild" in screen_text(app)


async def test_a_guild_added_later_switches_to_the_list() -> None:
    app, store, _, clock = make_app()
    async with app.run_test() as pilot:
        assert len(app.query(StatusLine)) == 1
        store.add_guild("999", name="Late Guild")
        put_in_state(store, "offline", clock, "999")
        await wait_for(pilot, lambda: bool(app.query(GuildList)), "the list")
        assert not app.query(StatusLine)
        await wait_for(pilot, lambda: "Late Guild" in screen_text(app), "its name")
        assert app.query_one(GuildList).rows == ("999", GUILD)
        assert app.focused is app.query_one(GuildList)


async def test_last_seen_advances_with_the_injected_clock() -> None:
    app, _, _, clock = make_app("online")
    async with app.run_test() as pilot:
        await pilot.pause()
        assert "Last seen less than a minute ago · v1.2.3" in screen_text(app)
        clock.advance(5 * 60)
        await wait_for(
            pilot, lambda: "Last seen 5 minutes ago · v1.2.3" in screen_text(app), "5 minutes"
        )
        tooltip = app.query_one(LastSeen).tooltip
        assert isinstance(tooltip, str)
        assert "Last heartbeat 2026-11-22 13:59:40 UTC" in tooltip


async def test_reconnect_countdown_counts_down() -> None:
    app, _, _, clock = make_app("reconnecting")
    async with app.run_test() as pilot:
        await pilot.pause()
        assert "Reconnecting in 4 s" in screen_text(app)
        clock.advance(2)
        await wait_for(pilot, lambda: "Reconnecting in 2 s" in screen_text(app), "2 s left")
        clock.advance(5)
        await wait_for(pilot, lambda: "Reconnecting…" in screen_text(app), "due now")


async def test_polled_marker_ages() -> None:
    app, _, _, clock = make_app("polled")
    async with app.run_test() as pilot:
        await pilot.pause()
        assert "polled 30 s ago" in screen_text(app)
        clock.advance(15)
        await wait_for(pilot, lambda: "polled 45 s ago" in screen_text(app), "older poll")


def _dot_colour(dot: StatusDot) -> str:
    """The colour the dot's glyph is painted in, as ``#rrggbb``."""
    segments = [seg for seg in dot.render_line(0) if seg.text.strip()]
    assert segments
    style = segments[0].style
    assert style is not None
    assert style.color is not None
    return style.color.get_truecolor().hex.upper()


async def test_pulse_runs_only_while_online_and_live() -> None:
    app, store, _, clock = make_app("online", animation=True)
    async with app.run_test() as pilot:
        dot = app.query_one(StatusDot)
        assert dot.pulsing
        await wait_for(pilot, lambda: dot.dim, "a dim phase")
        await pilot.pause()
        assert _dot_colour(dot) == app.theme_variables["success-darken-3"]  # drawn darker
        await wait_for(pilot, lambda: not dot.dim, "a bright phase")
        await pilot.pause()
        assert _dot_colour(dot) == app.theme_variables["success"]
        put_in_state(store, "offline", clock)
        await wait_for(pilot, lambda: dot.kind == "offline", "offline")
        assert not dot.pulsing
        assert not dot.dim
        put_in_state(store, "polled", clock)
        await wait_for(pilot, lambda: not dot.live, "polled only")
        assert dot.kind == "online"
        assert not dot.pulsing


async def test_no_pulse_with_animation_off() -> None:
    app, _, _, _ = make_app("online", animation=False)
    async with app.run_test() as pilot:
        await pilot.pause()
        dot = app.query_one(StatusDot)
        assert app.animation_level == "none"
        assert dot.kind == "online"
        assert not dot.pulsing


async def test_pulse_stops_when_animations_are_switched_off_while_running() -> None:
    app, _, _, _ = make_app("online", animation=True)
    async with app.run_test() as pilot:
        dot = app.query_one(StatusDot)
        assert dot.pulsing
        app.animation_level = "none"
        await wait_for(pilot, lambda: not dot.pulsing, "pulse to stop at its next step")
        assert not dot.dim


async def test_one_toast_per_outage_then_recovered_and_health_flips() -> None:
    app, store, _, clock = make_app("online")
    async with app.run_test(notifications=True) as pilot:
        await pilot.pause()
        for _ in range(3):  # three failed attempts in a row: one outage
            put_in_state(store, "reconnecting", clock)
            store.set_connection(GUILD, "connecting")
            await pilot.pause(0.15)
        put_in_state(store, "lost", clock)
        await pilot.pause(0.15)
        put_in_state(store, "online", clock)
        await pilot.pause(0.15)
        put_in_state(store, "offline", clock)
        await wait_for(pilot, lambda: len(app._notifications) == 3, "three toasts")
        titles = [notification.title for notification in app._notifications]
        assert titles == ["Unauthorized: check the token", "Reconnected", "Bot offline"]
        assert all(not notification.markup for notification in app._notifications)


async def test_hostile_server_text_is_shown_inert_in_rows_and_toasts() -> None:
    app, store, _, clock = make_app("online")
    store.add_guild(GUILD, name=HOSTILE)
    async with app.run_test(notifications=True) as pilot:
        put_in_state(store, "hostile", clock)
        await wait_for(pilot, lambda: len(app._notifications) >= 1, "a toast")
        await pilot.pause()
        text = screen_text(app)
        assert "[bold red]pwn[/]" in text  # markup shown literally, not applied
        assert "[@click=app.quit]" in text
        assert "\x1b" not in text
        assert "\u202e" not in text
        assert "A" * 200 not in text  # ellipsized, not wrapped
        assert app.is_running  # the click markup did not become an action
        assert len(text.splitlines()) <= 24


async def test_engine_crash_exits_with_code_1_and_a_message() -> None:
    class CrashingEngine(RecordingEngine):
        async def run(self) -> None:
            raise RuntimeError("bug \x1b[2J here")

    clock = FakeClock()
    app = GuildwatchApp(seeded_store("online", clock), CrashingEngine(), clock=clock)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: not app.is_running, "exit after crash")
    assert app.return_code == 1
    assert isinstance(app.engine_error, RuntimeError)  # kept for the CLI's --debug


@pytest.mark.parametrize("state", ["online", "reconnecting", "lost", "offline"])
async def test_tiny_pane_shows_dot_and_word_without_footer(state: State) -> None:
    app, _, _, _ = make_app(state)
    async with app.run_test(size=(20, 3)) as pilot:
        await pilot.pause()
        first = screen_text(app).splitlines()[0]
        dot = app.query_one(StatusDot)
        assert first.startswith(f"{GLYPHS[dot.kind]} {app.query_one(StatusWord).text}")
        assert app.query_one(Footer).styles.display == "none"


async def test_a_burst_over_many_guilds_ends_on_the_latest_state_with_few_sorts() -> None:
    clock = FakeClock()
    store = StatusStore(clock=clock)
    guild_ids = [f"{n:018d}" for n in range(200)]
    for guild_id in guild_ids:
        store.add_guild(guild_id, name=f"Guild {guild_id[-3:]}")
    app = GuildwatchApp(store, RecordingEngine(), animation=False, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        guild_list = app.query_one(GuildList)
        sorts_before = guild_list.sorts
        for round_ in range(20):  # 20 x 200 writes without yielding: one burst
            for guild_id in guild_ids:
                put_in_state(store, "offline" if round_ % 2 else "online", clock, guild_id)
        await wait_for(
            pilot,
            lambda: all(guild_list.snapshot(g).health == "offline" for g in guild_ids),
            "every row on the last write",
        )
        # One wake-up (two if the burst straddled one): one re-order each, not one per guild.
        sorts = guild_list.sorts - sorts_before
        print(f"\nburst of 4,000 writes over 200 guilds: {sorts} re-sort(s)")
        assert 1 <= sorts <= 3
        assert guild_list.rows == tuple(guild_ids)  # all offline now: store order


@pytest.mark.parametrize("size", [(20, 3), (40, 10)], ids=["20x3", "40x10"])
async def test_no_toasts_in_small_panes_where_they_would_cover_the_row(
    size: tuple[int, int],
) -> None:
    app, store, _, clock = make_app("online")
    async with app.run_test(size=size, notifications=True) as pilot:
        await pilot.pause()
        put_in_state(store, "offline", clock)
        await wait_for(pilot, lambda: app.query_one(StatusDot).kind == "offline", "offline")
        await pilot.pause(0.2)
        assert len(app._notifications) == 0
        assert screen_text(app).lstrip().startswith("✕ Offline")


async def test_toasts_go_when_the_pane_shrinks_below_toast_size() -> None:
    app, store, _, clock = make_app("online")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        put_in_state(store, "offline", clock)
        await wait_for(pilot, lambda: len(app._notifications) == 1, "the offline toast")
        await pilot.resize_terminal(20, 3)
        await pilot.pause(0.2)  # far less than a toast's own few seconds
        assert not app._notifications
        assert "Bot offline" not in screen_text(app)
