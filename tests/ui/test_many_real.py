"""The list with the real engine and 200 simulated guilds on the real reference server.

Nothing is faked: the server's simulated bot heartbeats 200 guilds, the engine opens 200 SSE
streams over loopback (start spread by ``start_jitter``), and the screen sorts what arrives.
Three guilds are then made to fail for good (a 404 fault), and ``R`` brings them back.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from guildwatch.engine import Engine
from guildwatch.store import StatusStore
from guildwatch.ui import GuildwatchApp
from guildwatch.ui._guild_list import GuildList
from tests.conftest import ServerFactory
from tests.engine.support import fast_settings
from tests.ui.support import screen_text, wait_for

GUILDS = 200


async def test_200_guilds_sorted_worst_first_and_capital_r_brings_back_those_in_error(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(
        guilds=(),
        simulate=True,
        sim_guilds=GUILDS,
        sim_period=600.0,  # every simulated bot stays up for the whole test
        offline_after=300.0,
        max_streams_per_token=GUILDS + 10,
        heartbeat_interval=2.0,  # 200 streams x 5 comments a second would load 2 cores
    )
    assert len(server.guild_ids) == GUILDS
    # What "watch all my guilds" does: ids and names from the server's guild list.
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{server.url}/api/v1/guilds", headers=server.auth)
    store = StatusStore()
    for guild in answer.json()["guilds"]:
        store.add_guild(guild["id"], name=guild["name"])
    settings = fast_settings(
        server.url, token=server.token, start_jitter=0.5, heartbeat_timeout=10.0
    )
    app = GuildwatchApp(store, Engine(settings, store), animation=False)
    started = time.perf_counter()
    async with app.run_test(size=(80, 24)) as pilot:
        guild_list = app.query_one(GuildList)

        def online() -> int:
            return sum(1 for s in guild_list.snapshots() if s.connection == "connected")

        await wait_for(pilot, lambda: online() == GUILDS, "all 200 connected")
        print(f"\n200 guilds connected on screen in {time.perf_counter() - started:.2f} s")
        await wait_for(pilot, lambda: f"{GUILDS} online" in screen_text(app), "the summary")
        broken = [server.guild_ids[i] for i in (17, 101, 180)]
        for guild_id in broken:
            await asyncio.to_thread(server.set_fault, guild_id, status=404)
        await wait_for(
            pilot,
            lambda: all(guild_list.snapshot(g).connection == "error" for g in broken),
            "the three in error on screen",
        )
        # Worst first, in the store's order within the group.
        assert guild_list.rows[:3] == tuple(g for g in store.guild_ids if g in broken)
        text = screen_text(app)
        assert "3 lost" in text
        assert text.count("⊘ ") == 3
        for guild_id in broken:
            await asyncio.to_thread(server.heal, guild_id)
        await pilot.pause(0.3)
        assert all(store.get(g).connection == "error" for g in broken)  # no retry loop
        await pilot.press("R")
        await wait_for(pilot, lambda: online() == GUILDS, "the three back after R")
        await wait_for(pilot, lambda: "lost" not in screen_text(app), "no guild lost")
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "exit")
    assert app.return_code == 0
