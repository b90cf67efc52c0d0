"""``--metrics`` on the screen: the installed ``guildwatch`` in a tmux pane, scraped meanwhile."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import GUILDWATCH
from tests.harness import RunningServer, wait_until
from tests.metrics.test_exposition import value
from tests.metrics.tools import free_port, need
from tests.tmux import TmuxSession

GUILD = "111111111111111111"


@pytest.mark.e2e
def test_the_screen_serves_metrics_too(real_server: RunningServer, home: Path) -> None:
    need("tmux", "tmux")
    real_server.heartbeat(GUILD, "3.0")
    port = free_port()
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GUILDWATCH_TOKEN": real_server.token,
        "GUILDWATCH_API": real_server.url,
    }
    command = [str(GUILDWATCH), "--metrics", str(port), GUILD]
    with TmuxSession(command, width=100, height=20, env=env) as pane:
        pane.wait_for("Online", timeout=30)
        url = f"http://127.0.0.1:{port}/metrics"
        text = ""

        def scraped_up() -> bool:
            nonlocal text
            text = httpx.get(url, timeout=5).text
            return value(text, "guildwatch_guild_up", guild=GUILD) == 1

        wait_until(scraped_up, 15, "guildwatch_guild_up to be 1")
        assert value(text, "guildwatch_events_total", guild=GUILD) == 1
        pane.send_keys("q")
        assert "[exit 0]" in pane.wait_for("[exit", timeout=20)
    with pytest.raises(httpx.TransportError):  # the port is released with the screen
        httpx.get(url, timeout=5)
