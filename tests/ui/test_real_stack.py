"""The screen with the real engine against the real reference server, over loopback.

Nothing is faked here: the heartbeat goes over HTTP into the server, the server pushes it down
the SSE stream, the engine writes the store and the screen shows it. Timings are shrunk
through configuration (0.2 s server heartbeat comments, ``offline_after``, backoff).
"""

from __future__ import annotations

import asyncio
from typing import Any

from guildwatch.engine import Engine
from guildwatch.store import StatusStore
from guildwatch.ui import GuildwatchApp
from guildwatch.ui._detail_line import Detail
from guildwatch.ui._status_dot import StatusDot
from tests.conftest import ServerFactory
from tests.engine.support import fast_settings
from tests.harness import RunningServer
from tests.ui.support import screen_text, wait_for


def _app(server: RunningServer, *, token: str | None = None, **settings: Any) -> GuildwatchApp:
    store = StatusStore()
    store.add_guild(server.guild_ids[0], name="Alpha")
    engine = Engine(fast_settings(server.url, token=token or server.token, **settings), store)
    return GuildwatchApp(store, engine, animation=False)


def _on_screen(app: GuildwatchApp, *texts: str) -> bool:
    screen = screen_text(app)
    return all(text in screen for text in texts)


async def test_online_after_a_heartbeat_then_q_stops_the_engine(
    real_server: RunningServer,
) -> None:
    guild = real_server.guild_ids[0]
    app = _app(real_server)
    async with app.run_test() as pilot:
        await asyncio.to_thread(real_server.heartbeat, guild, "2.0.1")
        await wait_for(pilot, lambda: _on_screen(app, "◉ Online", "v2.0.1"), "Online v2.0.1")
        assert "Last seen less than a minute ago" in screen_text(app)
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "exit")
    assert app.return_code == 0
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("guildwatch-guild")]


async def test_offline_after_the_threshold_with_a_toast(server_factory: ServerFactory) -> None:
    server = server_factory(offline_after=0.5)
    guild = server.guild_ids[0]
    app = _app(server)
    async with app.run_test(notifications=True) as pilot:
        await asyncio.to_thread(server.heartbeat, guild, "2.0.1")
        await wait_for(pilot, lambda: _on_screen(app, "◉ Online"), "Online")
        await wait_for(pilot, lambda: _on_screen(app, "✕ Offline", "Check Discord"), "Offline")
        assert "v2.0.1" in screen_text(app)
        await wait_for(
            pilot,
            lambda: any(n.title == "Bot offline" for n in app._notifications),
            "the offline toast",
        )
        await asyncio.to_thread(server.heartbeat, guild, "2.0.2")
        await wait_for(pilot, lambda: _on_screen(app, "◉ Online", "v2.0.2"), "back Online")


async def test_bad_token_is_connection_lost_without_showing_the_token(
    real_server: RunningServer,
) -> None:
    secret = "tok-SECRET-wrong-4f9a1c"
    app = _app(real_server, token=secret)
    async with app.run_test(notifications=True) as pilot:
        await wait_for(pilot, lambda: _on_screen(app, "⊘ Unauthorized", "Press r to retry"), "lost")
        # The row's detail line is cut to 80 columns; the whole reason is in its tooltip.
        tooltip = app.query_one(Detail).tooltip
        assert isinstance(tooltip, str)
        assert "401" in tooltip
        assert secret not in tooltip
        assert secret not in screen_text(app)
        assert all(secret not in n.message for n in app._notifications)
        assert app.query_one(StatusDot).kind == "lost"


async def test_server_gone_gives_up_and_r_reconnects_once_it_is_back(
    real_server: RunningServer,
) -> None:
    guild = real_server.guild_ids[0]
    await asyncio.to_thread(real_server.heartbeat, guild, "3.0.0")
    app = _app(real_server, max_retries=2)
    async with app.run_test(notifications=True) as pilot:
        await wait_for(pilot, lambda: _on_screen(app, "◉ Online", "v3.0.0"), "Online")
        await asyncio.to_thread(real_server.stop)
        await wait_for(pilot, lambda: _on_screen(app, "⊘ Connection lost"), "given up")
        lost_toasts = [n for n in app._notifications if n.title == "Connection lost"]
        assert len(lost_toasts) == 1  # one outage, one toast, however many attempts
        await asyncio.to_thread(real_server.restart)
        await pilot.pause(0.3)
        assert _on_screen(app, "⊘ Connection lost")  # no retry loop of its own after giving up
        await pilot.press("r")
        await wait_for(pilot, lambda: app.store.get(guild).connection == "connected", "live")
        # A fresh in-memory server has no heartbeat yet: the bot shows Offline, never seen.
        await wait_for(pilot, lambda: _on_screen(app, "✕ Offline", "Never seen"), "new status")
        assert "⊘" not in screen_text(app)
        await wait_for(
            pilot, lambda: any(n.title == "Reconnected" for n in app._notifications), "toast"
        )
