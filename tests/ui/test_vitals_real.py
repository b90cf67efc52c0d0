"""Bot vitals end to end: a heartbeat POSTed to the real server changes the screen within a
second (Pilot, real engine, real server), so does one from the bot's side (the agent's
``Heartbeat`` and the ``guildwatch-heartbeat`` command), and ``guildwatch --demo`` in tmux shows
latency per guild and the simulated maintenance message."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from guildwatch.agent import Heartbeat, ShardVitals, Vitals
from guildwatch.engine import Engine
from guildwatch.store import StatusStore
from guildwatch.ui import GuildwatchApp
from tests.cli.conftest import GUILDWATCH
from tests.engine.support import fast_settings
from tests.harness import GUILDS, RunningServer
from tests.tmux import TMUX, TmuxSession
from tests.ui.support import screen_text

GUILD = GUILDS[0][0]
HOSTILE = "deploying v1.3 [bold]x[/bold] \x1b[31mred"


def _post(server: RunningServer, path: str, body: Any) -> None:
    answer = httpx.post(f"{server.url}{path}", json=body, headers=server.bot_auth, timeout=10)
    assert answer.status_code == 200, answer.text


async def _shown_within(app: GuildwatchApp, pilot: Any, seconds: float, text: str) -> float:
    """Seconds until ``text`` is on screen; fails past ``seconds``."""
    started = time.monotonic()
    while text not in screen_text(app):
        elapsed = time.monotonic() - started
        assert elapsed < seconds, f"{text!r} not shown after {elapsed:.2f} s:\n{screen_text(app)}"
        await pilot.pause(0.02)
    return time.monotonic() - started


def _watching(server: RunningServer) -> GuildwatchApp:
    """The real screen and engine watching GUILD on ``server``."""
    store = StatusStore()
    store.add_guild(GUILD, name="Alpha")
    engine = Engine(fast_settings(server.url, token=server.token), store)
    return GuildwatchApp(store, engine, animation=False)


async def test_a_heartbeat_with_vitals_changes_the_screen_within_a_second(
    real_server: RunningServer,
) -> None:
    app = _watching(real_server)
    path = f"/api/v1/guilds/{GUILD}/heartbeat"
    async with app.run_test(size=(80, 24)) as pilot:
        await asyncio.to_thread(real_server.heartbeat, GUILD, "1.2.3")
        await _shown_within(app, pilot, 10.0, "◉ Online")  # connected: from now on, timed
        assert " ms" not in screen_text(app)  # a heartbeat without vitals shows none

        await asyncio.to_thread(_post, real_server, path, {"version": "1.3.0", "latencyMs": 42.4})
        await _shown_within(app, pilot, 1.0, "Online · 42 ms")

        body = {"version": "1.3.0", "state": "maintenance", "message": HOSTILE}
        await asyncio.to_thread(_post, real_server, path, body)
        await _shown_within(app, pilot, 1.0, "Maintenance · deploying v1.3 [bold]x[/bold] [31mred")
        assert "\x1b" not in screen_text(app)

        bot = {"shards": [{"id": 0, "latencyMs": 77}], "guilds": {GUILD: 0}}
        await asyncio.to_thread(_post, real_server, "/api/v1/bot/heartbeat", bot)
        await _shown_within(app, pilot, 1.0, "Online · 77 ms")
        await pilot.press("q")


async def test_the_bots_side_changes_the_screen_within_a_second(
    real_server: RunningServer,
) -> None:
    app = _watching(real_server)
    command = Path(sys.executable).parent / "guildwatch-heartbeat"
    bot_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GUILDWATCH_")},
        "GUILDWATCH_BOT_TOKEN": real_server.bot_token,
    }
    vitals = Vitals(
        latency=0.0312,
        shards=(ShardVitals(0, True, 0.0312), ShardVitals(1, True, 0.05)),
        shard_count=2,
        guilds={GUILD: 0},
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await asyncio.to_thread(real_server.heartbeat, GUILD, "1.2.3")
        await _shown_within(app, pilot, 10.0, "◉ Online")

        # The library a bot embeds: one bot-level beat with its shards' latency.
        heartbeat = Heartbeat(
            real_server.url, real_server.bot_token, version="1.3.0", vitals=lambda: vitals
        )
        assert await heartbeat.beat(), heartbeat.last_error
        await heartbeat.aclose()
        await _shown_within(app, pilot, 1.0, "Online · 31 ms")

        # The command a bot in any language runs (the token from the environment).
        args = [str(command), "--api", real_server.url, "--guild", GUILD, "--version", "1.3.0"]
        args += ["--state", "maintenance", "--message", "deploying v1.4"]
        result = await asyncio.to_thread(
            subprocess.run, args, env=bot_env, capture_output=True, text=True, timeout=30
        )
        assert result.returncode == 0, result.stderr
        await _shown_within(app, pilot, 1.0, "Maintenance · deploying v1.4")
        await pilot.press("q")


@pytest.mark.e2e
@pytest.mark.skipif(
    TMUX is None and not os.environ.get("CI"), reason="tmux not installed (CI installs it)"
)
def test_demo_shows_latency_per_guild_and_the_maintenance_message(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    latency = re.compile(r"Online · \d+ ms")

    def latency_rows(screen: str) -> int:
        return len(latency.findall(screen))

    with TmuxSession([str(GUILDWATCH), "--demo"], width=80, height=24, env=env) as pane:
        screen = pane.wait_for(lambda s: latency_rows(s) >= 3, timeout=30)
        assert "Aurora 1" in screen
        # The simulated deploy begins 15 s in and lasts 10 s.
        screen = pane.wait_for("deploying v1.1", timeout=45)
        assert "Maintenance" in screen
        pane.send_keys("q")
        screen = pane.wait_for("[exit", timeout=30)
        assert "[exit 0]" in screen
