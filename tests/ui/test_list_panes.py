"""The guild list after resizes and re-sorts: worst rows on top, columns next to the names."""

from __future__ import annotations

from guildwatch.store import StatusStore
from guildwatch.ui import GuildwatchApp
from guildwatch.ui._guild_list import GuildList
from guildwatch.ui._rows import NAME_MAX_CELLS, Layout
from tests.ui.support import (
    MIXED,
    MIXED_WORST_FIRST,
    FakeClock,
    RecordingEngine,
    mixed_store,
    put_in_state,
    screen_text,
    wait_for,
)

HARBOR, GROVE = MIXED[7][0], MIXED[6][0]
SCROLLBAR_GLYPHS = set("▁▂▃▄▅▆▇█▔▕▏▎▍▌▋▊▉")


def _app() -> tuple[GuildwatchApp, StatusStore]:
    clock = FakeClock()
    store = mixed_store(clock)
    return GuildwatchApp(store, RecordingEngine(), animation=False, clock=clock), store


async def test_shrinking_to_20x3_keeps_the_worst_guild_on_the_first_line() -> None:
    app, _ = _app()
    async with app.run_test(size=(80, 24)) as pilot:
        guild_list = app.query_one(GuildList)
        await pilot.press("down", "down")
        assert guild_list.selected == HARBOR  # third row: fits a 3-row pane
        await pilot.resize_terminal(20, 3)
        await pilot.pause()
        await pilot.pause()
        lines = screen_text(app).splitlines()
        assert lines[0].startswith("⊘ Unauthorized"), lines
        assert any("Harbor" in line for line in lines), lines
        assert guild_list.scroll_offset.y == 0


async def test_a_resort_keeps_the_selection_on_a_tiny_screen() -> None:
    app, store = _app()
    async with app.run_test(size=(20, 3)) as pilot:
        guild_list = app.query_one(GuildList)
        await pilot.press("down", "down")
        assert guild_list.selected == HARBOR
        put_in_state(store, "lost", store.clock, GROVE)  # type: ignore[arg-type]
        await wait_for(pilot, lambda: guild_list.rows[1] == GROVE, "Grove moved up")
        await pilot.pause()
        assert guild_list.cursor == 3
        assert any("Harbor" in line for line in screen_text(app).splitlines())
        # Back to the top row: the worst guild is on the first line again.
        await pilot.press("home")
        await pilot.pause()
        assert screen_text(app).splitlines()[0].startswith("⊘ Unauthorized")


async def test_tiny_panes_keep_the_scrollbar_off_the_names() -> None:
    app, _ = _app()
    async with app.run_test(size=(20, 3)) as pilot:
        await pilot.pause()
        for line in screen_text(app).splitlines():
            assert not SCROLLBAR_GLYPHS & set(line), line
    app, _ = _app()
    async with app.run_test(size=(20, 8)) as pilot:  # taller: a scrollbar, and a gap before it
        await pilot.pause()
        rows = [line for line in screen_text(app).splitlines() if line[:1] in "⊘✕◌◉"]
        assert rows
        assert any(line[19] in SCROLLBAR_GLYPHS for line in rows), rows
        for line in rows:
            assert line[18] == " ", line


async def test_at_120x40_the_status_sits_next_to_the_longest_name() -> None:
    app, _ = _app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        lines = screen_text(app).splitlines()
        title = next(line for line in lines if "Status" in line and "Version" in line)
        name_start, status_start = title.index("Guild"), title.index("Status")
        longest = max(len(name) for name in MIXED_WORST_FIRST)
        # One space between the column of names and the status, not half the screen.
        assert status_start - (name_start + longest) <= 1, title
        dunmore = next(line for line in lines if "Dunmore" in line)
        assert dunmore.index("Unauthorized") == status_start


def test_the_name_column_fits_the_longest_name_up_to_a_cap() -> None:
    assert Layout.for_width(117, 7).name == 7
    assert Layout.for_width(117, 2).name == len("Guild")  # never narrower than its title
    assert Layout.for_width(117, 90).name == NAME_MAX_CELLS
    assert Layout.for_width(45, 90).name == 45 - 2 - 27  # narrower panes: what is left
    assert Layout.for_width(117).name == 117 - 2 - 53  # no longest given: all the room
