"""SVG snapshots of every state at 80x24 and 40x10 (and 20x3), with a fixed clock.

Plain ``def`` tests: ``snap_compare`` runs its own event loop (docs/upstream-defects.md).
The engine only records calls and animations are off, so each picture is stable. Regenerate with
``python -m pytest tests/ui --snapshot-update`` and look at the SVGs before committing.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from guildwatch.ui import GuildwatchApp
from tests.ui.support import (
    STATES,
    FakeClock,
    RecordingEngine,
    State,
    mixed_store,
    seeded_store,
)

SnapCompare = Callable[..., bool]


def _app(state: State) -> GuildwatchApp:
    clock = FakeClock()
    return GuildwatchApp(
        seeded_store(state, clock), RecordingEngine(), animation=False, clock=clock
    )


@pytest.mark.parametrize("size", [(80, 24), (40, 10)], ids=["80x24", "40x10"])
@pytest.mark.parametrize("state", STATES)
def test_state(snap_compare: SnapCompare, state: State, size: tuple[int, int]) -> None:
    assert snap_compare(_app(state), terminal_size=size)


@pytest.mark.parametrize("state", ["online", "reconnecting", "lost"])
def test_tiny_pane_keeps_dot_and_word(snap_compare: SnapCompare, state: State) -> None:
    assert snap_compare(_app(state), terminal_size=(20, 3))


def _list_app() -> GuildwatchApp:
    clock = FakeClock()
    return GuildwatchApp(mixed_store(clock), RecordingEngine(), animation=False, clock=clock)


@pytest.mark.parametrize("size", [(80, 24), (40, 10), (20, 3)], ids=["80x24", "40x10", "20x3"])
def test_list_worst_first_with_selection(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(_list_app(), terminal_size=size, press=["down"])


@pytest.mark.parametrize("size", [(80, 24), (40, 10)], ids=["80x24", "40x10"])
def test_list_filtered(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    keys = ["slash", "o", "r"]  # Aurora, Dunmore, Fjord and Harbor
    assert snap_compare(_list_app(), terminal_size=size, press=keys)


@pytest.mark.parametrize("size", [(80, 24), (40, 10)], ids=["80x24", "40x10"])
def test_detail_view(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    # Third row down: Cinder, reconnecting (error, backoff countdown, an hour of history).
    keys = ["down", "down", "down", "enter"]
    assert snap_compare(_list_app(), terminal_size=size, press=keys)


def test_help_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(_app("online"), terminal_size=(80, 24), press=["question_mark"])


@pytest.mark.parametrize("state", ["online", "offline", "lost"])
def test_no_color_still_reads_right(
    snap_compare: SnapCompare, state: State, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Textual reads NO_COLOR when the app is created and renders monochrome: glyph and word
    # must carry the state alone.
    monkeypatch.setenv("NO_COLOR", "1")
    app = _app(state)
    assert app.no_color
    assert snap_compare(app, terminal_size=(40, 10))
