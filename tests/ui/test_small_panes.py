"""Keys and help in small panes, help above toasts, "nothing to retry", Enter on one guild.

Pilot tests against a hand-driven store and a recording engine (see ``support``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.containers import VerticalScroll

from guildwatch.store import Problem
from guildwatch.ui import GuildwatchApp
from guildwatch.ui._guild_detail import GuildDetail
from guildwatch.ui._help import HELP_TEXT, HelpScreen
from tests.ui.support import (
    GUILD,
    FakeClock,
    RecordingEngine,
    State,
    mixed_store,
    put_in_state,
    screen_text,
    seeded_store,
    wait_for,
)

SCROLLBAR = set("▁▂▃▄▅▆▇█▔▏▕ ")
"""What a vertical scrollbar column may hold."""


def one(
    state: State = "online", clock: FakeClock | None = None
) -> tuple[GuildwatchApp, RecordingEngine]:
    clock = clock or FakeClock()
    engine = RecordingEngine()
    return GuildwatchApp(seeded_store(state, clock), engine, animation=False, clock=clock), engine


def several(clock: FakeClock | None = None) -> tuple[GuildwatchApp, RecordingEngine]:
    store = mixed_store(clock or FakeClock())
    engine = RecordingEngine()
    return GuildwatchApp(store, engine, animation=False, clock=store.clock), engine


def footer_line(app: GuildwatchApp) -> str:
    return screen_text(app).splitlines()[-1]


def help_rows(app: GuildwatchApp) -> list[str]:
    """The text inside the help's frame, one entry per row, scrollbar column dropped."""
    rows = []
    for line in screen_text(app).splitlines():
        if line.count("│") >= 2:
            inner = line[line.index("│") + 1 : line.rindex("│")]
            assert set(inner[-1]) <= SCROLLBAR, f"text under the scrollbar: {line!r}"
            rows.append(inner[:-1].strip())
    return rows


# -- A: footer and help fit ----------------------------------------------------------------


@pytest.mark.parametrize("make", [one, several], ids=["one guild", "several"])
async def test_footer_at_40_columns_keeps_quit_and_help(
    make: Callable[[], tuple[GuildwatchApp, RecordingEngine]],
) -> None:
    app, _ = make()
    async with app.run_test(size=(40, 10), notifications=True) as pilot:
        await pilot.pause()
        footer = footer_line(app)
        assert "q Quit" in footer
        assert "? Help" in footer
        assert "r Retry" in footer
        assert len(footer.rstrip()) <= 40


async def test_footer_refits_when_the_pane_shrinks() -> None:
    app, _ = several()
    async with app.run_test(size=(100, 24), notifications=True) as pilot:
        await pilot.pause()
        assert "R Retry all" in footer_line(app)
        await pilot.resize_terminal(40, 10)
        await wait_for(pilot, lambda: "? Help" in footer_line(app), "help back in the footer")
        assert "q Quit" in footer_line(app)
        assert "R Retry all" not in footer_line(app)


async def test_help_at_40x10_wraps_instead_of_cutting_and_scrolls_to_the_states() -> None:
    app, _ = one()
    async with app.run_test(size=(40, 10), notifications=True) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        rows = help_rows(app)
        assert rows[0] == "Keys"
        flat = " ".join(HELP_TEXT.split())
        for row in rows:
            # Every visible row is a whole piece of the help, not a cut one.
            assert " ".join(row.split()) in flat, row
        assert "R      retry every down guild" in rows
        await pilot.press("end")
        await pilot.pause()
        assert "time. One guild: its dot pulses." in help_rows(app)


async def test_help_at_80x24_shows_all_of_it_in_two_columns_without_scrolling() -> None:
    app, _ = one()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        for line in HELP_TEXT.splitlines():
            assert line.strip() in text, line
        header = text.splitlines()[3]
        assert "Keys" in header
        assert "States" in header
        scroll = app.screen.query_one(VerticalScroll)
        assert scroll.max_scroll_y == 0


async def test_help_in_a_20x3_split_is_text_not_just_a_frame() -> None:
    app, _ = one()
    async with app.run_test(size=(20, 3), notifications=True) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        lines = [line.strip() for line in screen_text(app).splitlines()]
        assert lines[0] == "Keys"
        assert lines[1].startswith("r")  # the first key, on the next row: no frame


# -- B: help above toasts ----------------------------------------------------------------


async def test_toasts_wait_while_help_is_shown() -> None:
    clock = FakeClock()
    app, _ = one(clock=clock)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert "stream dropped; retrying" in screen_text(app)
        # A real notice from the store (the guild's stream gives up) and a long plain one.
        put_in_state(app.store, "lost", clock)
        app.notify("x" * 300, title="Alert")
        await pilot.pause(0.2)
        text = screen_text(app)
        # The help's lowest rows, where a toast would sit, are still the help.
        assert "stream dropped; retrying" in text
        assert "Connection lost" in text  # the States line, still drawn
        assert "xxxx" not in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: "xxxx" in screen_text(app), "the toast after help closed")


# -- C: nothing to retry -----------------------------------------------------------------


async def test_r_with_nothing_down_says_so() -> None:
    app, engine = one("online")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: "Nothing to retry" in screen_text(app), "the answer")
        assert engine.retries == [GUILD]


async def test_r_on_a_lost_guild_retries_without_that_answer() -> None:
    app, engine = one("lost")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("r")
        await pilot.pause(0.2)
        assert engine.retries == [GUILD]
        assert "Nothing to retry" not in screen_text(app)


async def test_capital_r_with_every_stream_up_says_so() -> None:
    clock = FakeClock()
    app, engine = several(clock)
    store = app.store
    for guild_id in store.guild_ids:
        put_in_state(store, "online", clock, guild_id)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("R")
        await wait_for(pilot, lambda: "Nothing to retry" in screen_text(app), "the answer")
        assert engine.retries == [None]


async def test_capital_r_with_a_guild_down_says_nothing_of_the_kind() -> None:
    app, engine = several()  # Dunmore is lost, Cinder reconnecting
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("R")
        await pilot.pause(0.2)
        assert engine.retries == [None]
        assert "Nothing to retry" not in screen_text(app)


async def test_r_in_the_detail_of_a_live_guild_says_so() -> None:
    app, engine = several()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("end", "enter")  # the last row: online (worst first)
        await wait_for(pilot, lambda: isinstance(app.screen, GuildDetail), "the detail view")
        await pilot.press("r")
        await wait_for(pilot, lambda: "Nothing to retry" in screen_text(app), "the answer")
        assert len(engine.retries) == 1


# -- D: Enter on the single-guild screen -------------------------------------------------


async def test_enter_on_one_guild_opens_its_detail_with_the_whole_error() -> None:
    app, _ = one("online")
    long_error = "Connection refused by 127.0.0.1:8765 " + "because " * 15 + "END"
    app.store.set_connection(GUILD, "error", error=Problem("network", long_error), attempt=3)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        assert "⏎ Details" in footer_line(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, GuildDetail), "the detail view")
        detail = app.screen
        assert isinstance(detail, GuildDetail)
        assert detail.guild_id == GUILD
        # Shown whole: wrapped under its label, not cut with "…" at the screen's edge.
        text = screen_text(app)
        assert "…" not in text
        assert " ".join(text.split()).count(long_error) == 1
        # Enter again on the detail does not stack a second one; Esc goes back.
        await pilot.press("enter")
        await pilot.pause()
        assert len(app.screen_stack) == 2
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(app.screen_stack) == 1, "back on the main screen")
        assert not isinstance(app.screen, HelpScreen)
