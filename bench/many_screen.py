"""10,000 guilds on the screen: a key press and a wake-up in which every guild changed.

``python -m bench many_screen``. In-process, through Textual's Pilot (headless, 80x24): the
store holds 10,000 guilds, one row each in the guild list; no network (an engine that waits).

- key press: ``pilot.press("down")`` and the frame after it (``pilot.pause()``), per press;
  timed in CPU seconds of the process: Pilot's own waits for idle are wall time that no
  terminal user sees (~80 ms per press here), the app's work for the key and its frame is not;
- wake-up: every guild gets a new status (alternately online and offline, so every row changes
  group and the list re-sorts), then the time until the screen shows the last of them,
  from the end of the writes (the store's own cost is not the screen's), in CPU seconds too.

No floor: the target is absolute (50 ms), the figure a human notices as lag.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta

from bench._report import Figure, Row
from guildwatch.store import BotStatus, StatusStore
from guildwatch.ui.app import GuildwatchApp

NAME = "10,000 guilds on screen"
GUILDS = 10_000
TARGET_MS = 50.0
PRESSES = 20


class _IdleEngine:
    """The three calls the screen makes, doing nothing (the bench writes the store)."""

    def __init__(self) -> None:
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        await self._stopped.wait()

    def retry(self, guild_id: str | None = None) -> None:
        pass

    async def stop(self) -> None:
        self._stopped.set()


def _store(count: int) -> StatusStore:
    store = StatusStore()
    beat = datetime.now(UTC) - timedelta(seconds=5)
    for number in range(count):
        guild_id = f"{number:018d}"
        store.add_guild(guild_id, name=f"Guild {number}")
        store.set_connection(guild_id, "connected")
        store.apply_status(guild_id, BotStatus(True, beat, "1.0"), source="stream")
    return store


async def _one_run(count: int) -> tuple[list[float], list[float]]:
    """Milliseconds per key press, and per wake-up over every guild."""
    store = _store(count)
    # freeze_heap as the command's run_tui sets it: the bench measures what the command runs.
    app = GuildwatchApp(store, _IdleEngine(), animation=False, freeze_heap=True)
    presses: list[float] = []
    wakes: list[float] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        many = app.many
        assert many is not None
        guild_list = many.guild_list
        for _ in range(PRESSES):
            started = time.process_time()
            await pilot.press("down")
            await pilot.pause()
            presses.append(1000 * (time.process_time() - started))
        for round_ in range(4):
            version = f"2.{round_}"
            healthy = round_ % 2 == 1
            beat = datetime.now(UTC)
            last = store.guild_ids[-1]
            for guild_id in store.guild_ids:
                store.apply_status(guild_id, BotStatus(healthy, beat, version), source="stream")
            # The writes are synchronous: the screen's wake-up comes after them, from here.
            started = time.process_time()
            while guild_list.snapshot(last).status != store.get(last).status:
                await asyncio.sleep(0.001)
            await pilot.pause()  # and its frame
            wakes.append(1000 * (time.process_time() - started))
            await pilot.pause(0.1)
    return presses, wakes


def run(runs: int, guilds: int = GUILDS) -> list[Row]:
    presses: list[float] = []
    wakes: list[float] = []
    for _ in range(runs):
        run_presses, run_wakes = asyncio.run(_one_run(guilds))
        presses.append(statistics.median(run_presses))
        wakes.append(max(run_wakes))
    press_figure, wake_figure = Figure.of(presses), Figure.of(wakes)
    return [
        Row(
            NAME,
            f"{guilds:,} guilds: key press (down) to its frame, median per run",
            "ms",
            press_figure,
            "-",
            None,
            f"<= {TARGET_MS:g} ms",
            press_figure.high <= TARGET_MS,
        ),
        Row(
            NAME,
            f"{guilds:,} guilds: every guild changed, writes to the last shown, worst per run",
            "ms",
            wake_figure,
            "-",
            None,
            f"<= {TARGET_MS:g} ms",
            wake_figure.high <= TARGET_MS,
            f"many_screen: Textual Pilot, headless 80x24, {guilds:,} guilds in the list; the "
            "wake-up is timed from the end of the 10,000 writes to the frame showing the last.",
        ),
    ]
