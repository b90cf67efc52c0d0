"""What one guild's event costs on screen: the dot changes colour by repainting, never by
re-matching the stylesheet (bench/latency.py measures the time).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rich.style import Style

from guildwatch.display import StatusKind, status_kind
from guildwatch.ui import GuildwatchApp
from guildwatch.ui._status_dot import BOLD_WITHOUT_COLOUR, COLOURS, StatusDot
from tests.ui.support import (
    GUILD,
    FakeClock,
    RecordingEngine,
    State,
    put_in_state,
    seeded_store,
    wait_for,
)


def _glyph_style(dot: StatusDot) -> Style:
    segments = [seg for seg in dot.render_line(0) if seg.text.strip()]
    assert len(segments) == 1
    assert segments[0].style is not None
    return segments[0].style


def _shows(dot: StatusDot, kind: StatusKind) -> Callable[[], bool]:
    return lambda: dot.kind == kind


def _hex(style: Style) -> str:
    assert style.color is not None
    return style.color.get_truecolor().hex.upper()


@pytest.mark.parametrize("no_color", [False, True], ids=["colour", "NO_COLOR"])
async def test_the_dot_follows_the_state_by_repainting_only(
    no_color: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    clock = FakeClock()
    store = seeded_store("online", clock)
    app = GuildwatchApp(store, RecordingEngine(), animation=False, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        dot = app.query_one(StatusDot)
        restyles: list[object] = []
        restyle = dot.update_node_styles

        def counted(animate: bool = True) -> None:
            restyles.append(animate)
            restyle(animate)

        monkeypatch.setattr(dot, "update_node_styles", counted)
        states: list[State] = ["offline", "degraded_shard", "reconnecting", "lost", "maintenance"]
        for state in [*states, "online"]:
            put_in_state(store, state, clock)
            kind = status_kind(store.get(GUILD))
            await wait_for(pilot, _shows(dot, kind), kind)
            await pilot.pause()
            style = _glyph_style(dot)
            colour = COLOURS[kind]
            if colour is None:  # the dot's own CSS colour ($text-muted)
                assert dot.glyph_style() == ("bold" if style.bold else "")
            else:
                assert _hex(style) == app.theme_variables[colour], kind
            assert bool(style.bold) is (no_color and kind in BOLD_WITHOUT_COLOUR), kind
        assert restyles == []


async def test_the_dot_takes_the_new_theme_colours() -> None:
    clock = FakeClock()
    app = GuildwatchApp(seeded_store("offline", clock), RecordingEngine(), clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        dot = app.query_one(StatusDot)
        before = _hex(_glyph_style(dot))
        assert before == app.theme_variables["error"]
        app.theme = "nord"  # its error colour differs from the default's
        await wait_for(pilot, lambda: app.theme_variables["error"] != before, "new theme")
        await wait_for(
            pilot, lambda: _hex(_glyph_style(dot)) == app.theme_variables["error"], "repaint"
        )
