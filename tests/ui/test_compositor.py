"""The lean compositor writes the same cells as Textual's own, for any partial repaint.

``LeanCompositor`` (guildwatch/ui/_compositor.py) only skips widgets with no cell inside the
repainted area; these tests repaint every widget's region, every cell of the top rows and
random rectangles, on the one-guild screen and the list, and compare the escape sequences the
two compositors produce for the same dirty regions.
"""

from __future__ import annotations

import random
import re
import types

import pytest
from textual._compositor import Compositor
from textual.geometry import Region

from guildwatch.store import StatusStore
from guildwatch.ui import GuildwatchApp
from guildwatch.ui._compositor import LeanCompositor
from tests.ui.support import FakeClock, RecordingEngine, State, mixed_store, seeded_store

SIZE = (80, 24)


def dirty_sets(compositor: Compositor) -> list[set[Region]]:
    """Each widget's region, each cell of the first three rows, and seeded random boxes."""
    regions = [region for region, _ in compositor.visible_widgets.values()]
    width, height = compositor.size
    cells = [Region(x, y, 1, 1) for y in range(3) for x in range(width)]
    rng = random.Random(17)
    boxes = []
    for _ in range(200):
        x, y = rng.randrange(width), rng.randrange(height)
        boxes.append(Region(x, y, rng.randint(1, width - x), rng.randint(1, height - y)))
    pairs = [{rng.choice(cells), rng.choice(boxes)} for _ in range(50)]
    return [{r} for r in regions + cells + boxes] + pairs


IDLE_MOVE = re.compile(r"\x1b\[\d+;\d+H(?=\x1b\[\d+;\d+H|\r?\n|$)")
"""A cursor move with nothing written after it. Textual's own loop emits one for a chop that
starts exactly at the crop's right edge (painted by a widget behind the changed one); it
changes no cell, and the lean loop, which stops at the covering widget, does not emit it."""


def partial(compositor: Compositor, dirty: set[Region], app: GuildwatchApp) -> str:
    """What a partial update of ``dirty`` writes, without moves that write nothing."""
    compositor._dirty_regions.update(dirty)
    update = compositor.render_partial_update()
    assert update is not None
    return IDLE_MOVE.sub("", update.render_segments(app.console))


async def same_output(app: GuildwatchApp, size: tuple[int, int] = SIZE) -> int:
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        compositor = app.screen._compositor
        assert isinstance(compositor, LeanCompositor)
        stock = types.MethodType(Compositor._get_renders, compositor)
        lean = compositor._get_renders
        compared = 0
        for dirty in dirty_sets(compositor):
            ours = partial(compositor, dirty, app)
            compositor._get_renders = stock  # type: ignore[method-assign]
            try:
                theirs = partial(compositor, dirty, app)
            finally:
                compositor._get_renders = lean  # type: ignore[method-assign]
            assert ours == theirs, dirty
            compared += 1
        return compared


SIZES = [(80, 24), (40, 10), (120, 30)]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("state", ["online", "offline", "lost", "maintenance"])
async def test_one_guild_screen_repaints_the_same(state: State, size: tuple[int, int]) -> None:
    clock = FakeClock()
    store: StatusStore = seeded_store(state, clock)
    app = GuildwatchApp(store, RecordingEngine(), animation=False, clock=clock)
    assert await same_output(app, size) > 200


@pytest.mark.parametrize("size", SIZES)
async def test_guild_list_repaints_the_same(size: tuple[int, int]) -> None:
    clock = FakeClock()
    app = GuildwatchApp(mixed_store(clock), RecordingEngine(), animation=False, clock=clock)
    assert await same_output(app, size) > 200


async def test_the_pulse_renders_only_what_it_covers() -> None:
    clock = FakeClock()
    store = seeded_store("online", clock)
    app = GuildwatchApp(store, RecordingEngine(), animation=False, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        from guildwatch.ui._status_dot import StatusDot

        compositor = app.screen._compositor
        dot = app.query_one(StatusDot)
        dot_region = compositor.visible_widgets[dot][0]
        rendered = [region for region, _, _ in compositor._get_renders(dot_region)]
        # The dot covers its cells: nothing behind it (row, line, list, screen, and the
        # footer and words in the same containers, which Textual renders too) is rendered.
        assert rendered == [dot_region]
