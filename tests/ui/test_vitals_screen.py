"""The vitals on screen: the words of each state, under NO_COLOR too, and no repaint for jitter."""

from __future__ import annotations

import pytest

from guildwatch.store import BotStatus, Shard, StatusStore
from guildwatch.ui import GuildwatchApp
from guildwatch.ui._guild_list import GuildList
from guildwatch.ui._status_word import StatusWord
from tests.ui.support import (
    GUILD,
    VITALS_STATES,
    FakeClock,
    RecordingEngine,
    State,
    put_in_state,
    screen_text,
    seed_bot_state,
    seeded_store,
    wait_for,
)

WORDS: dict[State, str] = {
    "online_latency": "◉ Online · 42 ms",
    "degraded_shard": "◒ Degraded · shard 3 down",
    "degraded_latency": "◒ Degraded · latency 812 ms",
    "maintenance": "⧖ Maintenance · deploying v1.3",
    "offline": "✕ Offline",
    "lost": "⊘ Unauthorized",
}
"""What the one-guild screen says for each state: glyph and words, so no colour is needed."""


@pytest.mark.parametrize("no_color", [False, True], ids=["colour", "NO_COLOR"])
@pytest.mark.parametrize("state", VITALS_STATES)
async def test_each_state_reads_right_with_and_without_colour(
    state: State, no_color: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    clock = FakeClock()
    app = GuildwatchApp(seeded_store(state, clock), RecordingEngine(), animation=False, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.no_color is no_color
        assert WORDS[state] in screen_text(app)


def _list_store(clock: FakeClock) -> StatusStore:
    store = StatusStore(clock=clock)
    for index, state in enumerate(VITALS_STATES):
        guild_id = f"10000000000000000{index}"
        store.add_guild(guild_id, name=f"G{index} {state}")
        put_in_state(store, state, clock, guild_id)
    return store


async def test_the_list_sorts_degraded_between_offline_and_online() -> None:
    clock = FakeClock()
    app = GuildwatchApp(_list_store(clock), RecordingEngine(), animation=False, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        rows = app.query_one(GuildList).rows
        states = [app.store.get(g).name.split(" ")[1] for g in rows]  # type: ignore[union-attr]
        assert states == [
            "lost",
            "offline",
            "degraded_shard",
            "degraded_latency",
            "maintenance",
            "online_latency",
        ]
        text = screen_text(app)
        assert "1 lost · 1 offline · 2 degraded · 1 maintenance · 1 online" in text


def _beat(clock: FakeClock, latency: float) -> BotStatus:
    return BotStatus(True, clock.now, "1.2.3", latency, Shard(3, 8))


async def test_latency_jitter_repaints_no_row_of_the_list() -> None:
    clock = FakeClock()
    store = _list_store(clock)
    online = next(g for g in store.guild_ids if store.get(g).name == "G0 online_latency")
    app = GuildwatchApp(store, RecordingEngine(), animation=False, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        guild_list = app.query_one(GuildList)
        painted: list[int] = []
        render_line = guild_list.render_line

        def counting(y: int) -> object:
            painted.append(y)
            return render_line(y)

        guild_list.render_line = counting  # type: ignore[method-assign, assignment]
        for latency in (45.0, 39.0, 44.0, 47.0):  # within the dead band of 42 ms
            store.apply_status(online, _beat(clock, latency), source="stream")
            await pilot.pause(0.1)
        assert painted == []
        store.apply_status(online, _beat(clock, 90.0), source="stream")
        await pilot.pause(0.1)
        assert painted  # a real move is shown
        assert "Online · 90 ms" in screen_text(app)


async def test_latency_jitter_repaints_no_word_of_the_one_guild_screen() -> None:
    clock = FakeClock()
    store = seeded_store("online_latency", clock)
    app = GuildwatchApp(store, RecordingEngine(), animation=False, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        word = app.query_one(StatusWord)
        renders: list[str] = []
        render = word.render

        def counting() -> object:
            renders.append("x")
            return render()

        word.render = counting  # type: ignore[method-assign, assignment]
        for latency in (45.0, 39.0, 44.0):
            clock.advance(1)
            store.apply_status(GUILD, _beat(clock, latency), source="stream")
            await pilot.pause(0.1)
        assert renders == []
        store.apply_status(GUILD, _beat(clock, 42.0 + 100), source="stream")
        await pilot.pause(0.1)
        assert renders
        assert word.text == "Online · 142 ms"


VIEW_WORDS: dict[State, tuple[str, str]] = {
    "online_latency": ("◉ Online · 42 ms · Test Guild", "Bot · Online · 8 of 8 shards connected"),
    "degraded_shard": ("Shard       3 of 8 · disconnected: Degraded", "3✕  down 2.5k"),
    "degraded_latency": ("over the threshold for the last 30 s", "3◒ 812ms 2.5k"),
    "maintenance": ("⧖ Maintenance · deploying v1.3", "Bot · Maintenance"),
    "offline": ("✕ Offline · Test Guild", "Bot · Offline"),
    "lost": ("⊘ Unauthorized: check the token", "Bot · Connection lost (last known below)"),
}
"""What the detail view and the bot view say for each state."""


@pytest.mark.parametrize("state", VITALS_STATES)
async def test_detail_and_bot_views_read_right_under_no_color(
    state: State, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    clock = FakeClock()
    store = seeded_store(state, clock)
    seed_bot_state(store, clock, state)
    app = GuildwatchApp(store, RecordingEngine(), animation=False, clock=clock)
    detail, bot = VIEW_WORDS[state]
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.no_color
        await pilot.press("enter")
        await wait_for(pilot, lambda: detail in screen_text(app), f"detail: {detail}")
        await pilot.press("b")
        await wait_for(pilot, lambda: bot in screen_text(app), f"bot view: {bot}")
