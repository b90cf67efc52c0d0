"""SVG snapshots of every state at 80x24 and 40x10 (and 20x3), with a fixed clock.

Plain ``def`` tests: ``snap_compare`` runs its own event loop (docs/upstream-defects.md).
The engine only records calls and animations are off, so each picture is stable. Regenerate with
``python -m pytest tests/ui --snapshot-update`` and look at the SVGs before committing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from guildwatch.alerts import Silences
from guildwatch.store import BotStatus, Shard, StatusStore
from guildwatch.ui import GuildwatchApp
from tests.ui.support import (
    GUILD,
    MIXED,
    NOW,
    STATES,
    VITALS_STATES,
    FakeClock,
    RecordingEngine,
    State,
    mixed_store,
    seed_bot_state,
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


VITALS_HOSTILE = "deploying v1.3 [bold red]pwn[/] \x1b[31mred\x1b[0m \x1b]0;title\x07 \u202eevil"
"""A bot's message with markup, escape sequences and a bidi override: shown as literal text."""


def _vitals_store(clock: FakeClock, *guilds: tuple[str, str, BotStatus]) -> StatusStore:
    store = StatusStore(clock=clock)
    for guild_id, name, status in guilds:
        store.add_guild(guild_id, name=name)
        store.set_connection(guild_id, "connected")
        store.apply_status(guild_id, status, source="stream")
    return store


def _vitals_app(*guilds: tuple[str, str, BotStatus]) -> GuildwatchApp:
    clock = FakeClock()
    store = _vitals_store(clock, *guilds)
    return GuildwatchApp(store, RecordingEngine(), animation=False, clock=clock)


def _up(clock_now: datetime, latency: float | None, **vitals: Any) -> BotStatus:
    return BotStatus(
        True,
        clock_now - timedelta(seconds=20),
        "1.3.0",
        latency,
        Shard(3, 8),
        started_at=clock_now - timedelta(minutes=42),
        **vitals,
    )


@pytest.mark.parametrize("size", [(80, 24), (40, 10)], ids=["80x24", "40x10"])
@pytest.mark.parametrize("kind", ["latency", "maintenance"])
def test_vitals_state(snap_compare: SnapCompare, kind: str, size: tuple[int, int]) -> None:
    if kind == "latency":
        status = _up(NOW, 42.4)
    else:
        status = _up(NOW, None, state="maintenance", message=VITALS_HOSTILE)
    assert snap_compare(_vitals_app((GUILD, "Test Guild", status)), terminal_size=size)


LONG = "deploying v1.3 to all shards"


def _vitals_list() -> GuildwatchApp:
    return _vitals_app(
        ("100000000000000001", "Aurora", _up(NOW, 41.6)),
        ("100000000000000002", "Basalt", _up(NOW, 187.0, state="hibernating")),
        ("100000000000000003", "Cinder", _up(NOW, 55.0, state="maintenance", message=LONG)),
        ("100000000000000004", "Dunmore", _up(NOW, None)._replace(healthy=False)),
    )


def test_vitals_list(snap_compare: SnapCompare) -> None:
    assert snap_compare(_vitals_list(), terminal_size=(80, 24))


def test_vitals_detail_view(snap_compare: SnapCompare) -> None:
    keys = ["down", "down", "down", "enter"]  # offline first, then the three online
    assert snap_compare(_vitals_list(), terminal_size=(80, 24), press=keys)


def _silenced_list() -> GuildwatchApp:
    clock = FakeClock()
    silences = Silences(clock=clock)
    silences.silence([MIXED[3][0]], timedelta(minutes=14))  # Dunmore, lost: the top row
    silences.silence([MIXED[1][0]], None)  # Basalt, offline: until back
    store = mixed_store(clock)
    return GuildwatchApp(store, RecordingEngine(), animation=False, clock=clock, silences=silences)


@pytest.mark.parametrize("size", [(80, 24), (40, 10), (20, 3)], ids=["80x24", "40x10", "20x3"])
def test_silenced_rows(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(_silenced_list(), terminal_size=size)


def test_silenced_rows_without_colour(
    snap_compare: SnapCompare, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(_silenced_list(), terminal_size=(80, 24))


@pytest.mark.parametrize("size", [(80, 24), (40, 10), (20, 3)], ids=["80x24", "40x10", "20x3"])
def test_silenced_single_guild(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    app = _app("offline")
    app.silences.silence([GUILD], timedelta(hours=1))
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", [(80, 24), (40, 10), (20, 3)], ids=["80x24", "40x10", "20x3"])
def test_silence_picker(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    # Basalt is silenced until back, so the picker offers "unsilence" too.
    assert snap_compare(_silenced_list(), terminal_size=size, press=["down", "s"])


SIZES = [(80, 24), (40, 10), (20, 3)]
SIZE_IDS = ["80x24", "40x10", "20x3"]
VIEW_KEYS = {"row": [], "detail": ["enter"], "bot": ["b"]}
"""The one-guild screen's row, its detail view (Enter) and the bot view (b)."""


def _vitals_state_app(state: State) -> GuildwatchApp:
    clock = FakeClock()
    store = seeded_store(state, clock)
    seed_bot_state(store, clock, state)
    return GuildwatchApp(store, RecordingEngine(), animation=False, clock=clock)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("view", list(VIEW_KEYS))
@pytest.mark.parametrize("state", VITALS_STATES)
def test_vitals_views(
    snap_compare: SnapCompare, state: State, view: str, size: tuple[int, int]
) -> None:
    # Online with latency, Degraded (shard down), Degraded (latency), Maintenance, Offline and
    # Connection lost, each in the row, the detail view and the bot view, at three sizes.
    app = _vitals_state_app(state)
    assert snap_compare(app, terminal_size=size, press=VIEW_KEYS[view])
