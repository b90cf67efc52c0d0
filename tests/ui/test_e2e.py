"""End to end: the installed ``guildwatch`` command in a tmux pane against the real server.

The scenario as a person would live it over SSH: the bot comes online, goes offline
(the server's threshold passes without a heartbeat) and comes back; the stream breaks until
the screen gives up; ``r`` brings it back at once; ``q`` leaves the terminal clean.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.cli.conftest import GUILDWATCH
from tests.conftest import ServerFactory
from tests.harness import RunningServer
from tests.tmux import TMUX, TmuxSession

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        TMUX is None and not os.environ.get("CI"), reason="tmux not installed (CI installs it)"
    ),
]

TIMEOUT = 30.0
"""Generous: two shared cores, a Python start-up and a server round trip per step."""


@contextmanager
def bot_alive(server: RunningServer, guild: str, version: str) -> Iterator[None]:
    """A bot that heartbeats every 0.3 s (well inside ``offline_after``) until it dies."""
    dead = threading.Event()

    def beat() -> None:
        while not dead.is_set():
            server.heartbeat(guild, version)
            dead.wait(0.3)

    thread = threading.Thread(target=beat, name="test-bot", daemon=True)
    thread.start()
    try:
        yield
    finally:
        dead.set()
        thread.join(10)


def test_offline_and_back_lost_then_r_then_quit(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory(offline_after=1.5)
    guild = server.guild_ids[0]
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GUILDWATCH_TOKEN": server.token,
    }
    command = [str(GUILDWATCH), "--api", server.url, "--max-retries", "1", guild]
    with TmuxSession(command, width=80, height=24, env=env) as pane:
        pane.wait_for("Never seen", timeout=TIMEOUT)  # connected; the bot never reported
        with bot_alive(server, guild, "5.0.0"):
            screen = pane.wait_for("◉ Online", timeout=TIMEOUT)
            assert "v5.0.0" in screen
            assert guild in screen

        # The bot stops: after offline_after the server says unhealthy.
        screen = pane.wait_for("✕ Offline", timeout=TIMEOUT)
        assert "Check Discord" in screen
        assert "Last seen" in screen

        with bot_alive(server, guild, "5.0.1"):
            pane.wait_for(lambda s: "◉ Online" in s and "v5.0.1" in s, timeout=TIMEOUT)

            # The stream breaks: one retry allowed, then the screen gives up and waits for r.
            server.set_fault(guild, status=503)
            screen = pane.wait_for("⊘ Connection lost", timeout=TIMEOUT)
            assert "Press r to retry" in screen
            assert server.token not in screen

            server.heal(guild)
            pane.send_keys("r")
            pane.wait_for(lambda s: "◉ Online" in s and "⊘" not in s, timeout=TIMEOUT)

        pane.send_keys("q")
        screen = pane.wait_for("[exit", timeout=TIMEOUT)
        assert "[exit 0]" in screen
        assert "Traceback" not in screen
        assert "Online" not in screen  # the alternate screen is gone, the shell is back
