"""The bot view (``b``): every shard worst first, and a server without bot status said calmly."""

from __future__ import annotations

from rich.cells import cell_len

from guildwatch.store import Problem
from guildwatch.ui import GuildwatchApp
from guildwatch.ui._bot_view import NO_BOT_STATUS, BotView
from tests.ui.support import (
    FakeClock,
    RecordingEngine,
    screen_text,
    seed_bot,
    seeded_store,
    wait_for,
)


def _app(clock: FakeClock, **bot: int) -> GuildwatchApp:
    store = seeded_store("degraded_shard", clock)
    seed_bot(store, clock, **bot)
    return GuildwatchApp(store, RecordingEngine(), animation=False, clock=clock)


async def test_b_opens_the_bot_view_with_every_shard_worst_first() -> None:
    clock = FakeClock()
    app = _app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BotView), "the bot view")
        await pilot.pause()
        text = screen_text(app)
        assert "Bot · Degraded · 7 of 8 shards connected" in text
        assert "uptime about 2 hours" in text
        assert "Guilds      20028 on 8 shards" in text
        grid = [line for line in text.splitlines() if "◉" in line or "✕" in line]
        first = grid[0].split()
        assert first[:3] == ["3✕", "down", "2.5k"]  # the disconnected shard first
        assert first[3:5] == ["1◒", "812ms"]  # then the slow one
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, BotView), "closing")


async def test_64_shards_fit_an_80x24_terminal() -> None:
    clock = FakeClock()
    app = _app(clock, shards=64, down=40)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BotView), "the bot view")
        await pilot.pause()
        text = screen_text(app)
        ids = {
            cell.rstrip("◉◒✕◌")
            for line in text.splitlines()
            for cell in line.split()
            if cell[-1:] in ("◉", "◒", "✕", "◌") and cell[:-1].isdigit()
        }
        assert ids == {str(i) for i in range(64)}
        assert all(cell_len(line) <= 80 for line in text.splitlines())


async def test_the_bot_view_follows_the_store() -> None:
    clock = FakeClock()
    app = _app(clock, down=-1)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BotView), "the bot view")
        await wait_for(pilot, lambda: "8 of 8 shards" in screen_text(app), "all shards up")
        seed_bot(app.store, clock, down=5)
        await wait_for(pilot, lambda: "7 of 8 shards" in screen_text(app), "a shard drop")


async def test_a_server_without_bot_status_is_said_calmly() -> None:
    clock = FakeClock()
    store = seeded_store("online_latency", clock)
    store.update_bot(connection="error", error=Problem("not_found", "404"), availability="absent")
    app = GuildwatchApp(store, RecordingEngine(), animation=False, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BotView), "the bot view")
        await pilot.pause()
        text = screen_text(app)
        assert NO_BOT_STATUS in text
        assert "Connection lost" not in text
        assert "Error" not in text


async def test_before_the_bot_watcher_answers_it_says_connecting() -> None:
    clock = FakeClock()
    app = GuildwatchApp(
        seeded_store("online_latency", clock), RecordingEngine(), animation=False, clock=clock
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("b")
        await wait_for(pilot, lambda: "Bot · Connecting…" in screen_text(app), "connecting")


class BotRecordingEngine(RecordingEngine):
    """Also records the bot view's request to watch the bot."""

    def watch_bot(self) -> None:
        self.calls.append(("watch_bot", None))


async def test_the_bot_view_asks_the_engine_to_watch_the_bot() -> None:
    clock = FakeClock()
    engine = BotRecordingEngine()
    app = GuildwatchApp(seeded_store("online_latency", clock), engine, animation=False, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert ("watch_bot", None) not in engine.calls  # no extra stream until someone looks
        await pilot.press("b")
        await wait_for(pilot, lambda: ("watch_bot", None) in engine.calls, "watch_bot")
