"""``s`` and ``S`` on the screen: the picker, the row's mark and time left, unsilence."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rich.cells import cell_len

from guildwatch.alerts import Silences, SilenceState
from guildwatch.store import BotStatus, GuildSnapshot
from guildwatch.ui import GuildwatchApp
from guildwatch.ui._guild_list import GuildList
from guildwatch.ui._rows import Cell, Layout, row_cells
from guildwatch.ui._silence import SilencePicker
from tests.ui.support import (
    MIXED,
    NOW,
    FakeClock,
    RecordingEngine,
    mixed_store,
    screen_text,
    seeded_store,
    wait_for,
)

BASALT = MIXED[1][0]  # offline: second row, worst first


def _offline() -> GuildSnapshot:
    status = BotStatus(False, NOW - timedelta(minutes=5), "1.2.3")
    return GuildSnapshot("g", name="Basalt", connection="connected", status=status)


def _text(cells: list[Cell]) -> str:
    return "".join(text for text, _ in cells)


@pytest.mark.parametrize(
    ("width", "shown"),
    [(80, "~ silenced 14m"), (40, "Offline ~14m"), (20, "Offline ~14m")],
)
def test_the_mark_and_time_left_fit_every_width(width: int, shown: str) -> None:
    silence = SilenceState("operator", NOW + timedelta(minutes=14))
    layout = Layout.for_width(width, len("Basalt"))
    cells = row_cells(_offline(), NOW, layout, silence)
    text = _text(cells)
    assert shown in text
    assert cell_len(text) <= width
    assert "Offline" in text  # the status word stays, whatever the width
    assert "~" not in _text(row_cells(_offline(), NOW, layout))


def test_until_back_and_maintenance_marks() -> None:
    wide = Layout.for_width(80, 6)
    until_back = SilenceState("operator", None)
    assert "~ silenced until back" in _text(row_cells(_offline(), NOW, wide, until_back))
    narrow = Layout.for_width(40, 6)
    assert "Offline ~back" in _text(row_cells(_offline(), NOW, narrow, until_back))
    maintenance = SilenceState("maintenance", None)
    assert "Offline ~" in _text(row_cells(_offline(), NOW, narrow, maintenance))


def _list_app(silences: Silences | None = None) -> tuple[GuildwatchApp, FakeClock]:
    clock = FakeClock()
    app = GuildwatchApp(
        mixed_store(clock), RecordingEngine(), animation=False, clock=clock, silences=silences
    )
    return app, clock


async def test_s_picks_an_hour_for_the_selected_guild_and_the_row_counts_down() -> None:
    app, clock = _list_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down")  # Basalt, offline
        assert app.query_one(GuildList).selected == BASALT
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SilencePicker), "the picker")
        assert "Silence Basalt" in screen_text(app)
        assert "unsilence" not in screen_text(app)
        await pilot.press("down", "enter")  # the second choice: 1 hour
        await wait_for(pilot, lambda: "~ silenced 1h" in screen_text(app), "the mark")
        state = app.silences.state(BASALT)
        assert state is not None
        assert state.until == NOW + timedelta(hours=1)
        clock.advance(16 * 60)
        await wait_for(pilot, lambda: "~ silenced 44m" in screen_text(app), "the time left")
        # s again offers to unsilence.
        await pilot.press("s")
        await wait_for(pilot, lambda: "unsilence" in screen_text(app), "unsilence")
        await pilot.press("u")
        await wait_for(pilot, lambda: "silenced" not in screen_text(app), "the mark gone")
        assert app.silences.get(BASALT) is None


async def test_esc_changes_nothing_and_s_opens_no_second_picker() -> None:
    app, _ = _list_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SilencePicker), "the picker")
        await pilot.press("s", "S")
        await pilot.pause()
        assert sum(isinstance(screen, SilencePicker) for screen in app.screen_stack) == 1
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, SilencePicker), "closed")
        assert app.silences.entries() == ()


async def test_capital_s_silences_every_guild_until_back() -> None:
    app, _ = _list_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("S")
        await wait_for(pilot, lambda: "Silence all 8 guilds" in screen_text(app), "the picker")
        await pilot.press("4")
        await wait_for(pilot, lambda: len(app.silences.entries()) == len(MIXED), "silences")
        assert all(e.until_back for e in app.silences.entries())
        assert screen_text(app).count("~ silenced until back") == len(MIXED)


async def test_one_guild_shows_the_mark_after_its_name() -> None:
    clock = FakeClock()
    app = GuildwatchApp(
        seeded_store("offline", clock), RecordingEngine(), animation=False, clock=clock
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s", "3")  # 4 hours
        await wait_for(pilot, lambda: "~ silenced 4h" in screen_text(app), "the mark")
    app = GuildwatchApp(
        seeded_store("offline", clock), RecordingEngine(), animation=False, clock=clock
    )
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.press("s", "1")
        await wait_for(pilot, lambda: "~15m" in screen_text(app), "the short mark")


async def test_a_state_file_problem_is_a_toast() -> None:
    from guildwatch.alerts import ReportRelay

    relay = ReportRelay()
    relay("silences file /x/silences.json is corrupt (bad); ignored")
    clock = FakeClock()
    app = GuildwatchApp(
        seeded_store("online", clock),
        RecordingEngine(),
        animation=False,
        clock=clock,
        silence_reports=relay,
    )
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: "Silences" in screen_text(app), "the toast")
        assert "corrupt" in " ".join(screen_text(app).split())
