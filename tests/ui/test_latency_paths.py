"""What one guild's event costs on screen: no layout pass, no restyle, no wait for a frame slot.

bench/latency.py measures the time; these check the mechanisms behind it: a heartbeat with a new
version repaints its line without a layout pass, the dot changes colour by repainting (never by
re-matching the stylesheet), and a store wake-up is painted without the frame timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from rich.style import Style

from guildwatch.display import StatusKind, status_kind
from guildwatch.ui import GuildwatchApp
from guildwatch.ui._compositor import LeanScreen
from guildwatch.ui._status_dot import BOLD_WITHOUT_COLOUR, COLOURS, StatusDot
from tests.ui.support import (
    GUILD,
    FakeClock,
    RecordingEngine,
    State,
    put_in_state,
    screen_text,
    seeded_store,
    wait_for,
)

FRAME_WAIT = 5.0
"""Seconds a test waits for a frame before failing (a frame takes milliseconds)."""


def _glyph_style(dot: StatusDot) -> Style:
    segments = [seg for seg in dot.render_line(0) if seg.text.strip()]
    assert len(segments) == 1
    assert segments[0].style is not None
    return segments[0].style


def _shows(dot: StatusDot, kind: StatusKind) -> Callable[[], bool]:
    return lambda: dot.kind == kind


def _on_screen(app: GuildwatchApp, text: str) -> Callable[[], bool]:
    return lambda: text in screen_text(app)


def _hex(style: Style) -> str:
    assert style.color is not None
    return style.color.get_truecolor().hex.upper()


def _new_version(app: GuildwatchApp, version: str) -> None:
    store = app.store
    status = store.get(GUILD).status
    assert status is not None
    store.apply_status(GUILD, status._replace(version=version), source="stream")


async def test_a_new_version_repaints_without_a_layout_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    app = GuildwatchApp(seeded_store("online", clock), RecordingEngine(), clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        layouts: list[object] = []
        reflow = screen._refresh_layout

        def counted(*args: Any, **kwargs: Any) -> None:
            layouts.append(args)
            reflow(*args, **kwargs)

        monkeypatch.setattr(screen, "_refresh_layout", counted)
        for number in range(5):
            _new_version(app, f"2.0.{number}")
            await wait_for(pilot, _on_screen(app, f"v2.0.{number}"), "version")
        assert layouts == []


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


async def test_a_wake_up_is_painted_without_the_frame_timer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The frame timer ticks on a 1/60 s grid: a change right after another frame (the pulse's)
    # waited for the next slot. With the timer unable to run at all, the wake-up's frame must
    # still go out: the screen paints it itself (LeanScreen.paint_promptly).
    clock = FakeClock()
    store = seeded_store("online", clock)
    app = GuildwatchApp(store, RecordingEngine(), animation=False, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LeanScreen)
        timer = screen._update_timer
        monkeypatch.setattr(timer, "resume", lambda: None)
        monkeypatch.setattr(timer, "reset", lambda: None)
        frames: list[str] = []
        display = app._display

        def recorded(on: Any, renderable: Any) -> None:
            if renderable is not None:
                frames.append(renderable.render_segments(app.console))
            display(on, renderable)

        monkeypatch.setattr(app, "_display", recorded)
        _new_version(app, "3.1.4")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FRAME_WAIT
        # Not pilot.pause(): it calls the frame timer's callback itself.
        while not any("v3.1.4" in frame for frame in frames):
            assert loop.time() < deadline, "no frame without the frame timer"
            await asyncio.sleep(0.005)
        assert len(frames) == 1
