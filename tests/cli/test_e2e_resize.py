"""The installed ``guildwatch`` in a tmux pane that is resized under it, as a user drags a split.

Five guilds on the real reference server: three heartbeat once (Online for the server's long
threshold), two never report (Offline). The selection starts on the first guild given, which
the worst-first sort then moves to the third row.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.conftest import GUILDWATCH
from tests.conftest import ServerFactory
from tests.tmux import TMUX, TmuxSession

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        TMUX is None and not os.environ.get("CI"), reason="tmux not installed (CI installs it)"
    ),
]

TIMEOUT = 30.0
"""Generous: two shared cores, a Python start-up and a server round trip per step."""

ONLINE = (
    ("100000000000000001", "Aurora"),
    ("100000000000000002", "Basalt"),
    ("100000000000000003", "Cinder"),
)
OFFLINE = (("100000000000000004", "Dunmore"), ("100000000000000005", "Ember"))


def _first_line(screen: str) -> str:
    return screen.splitlines()[0] if screen else ""


def test_shrinking_the_pane_keeps_the_offline_guild_on_the_first_line(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory(guilds=ONLINE + OFFLINE, offline_after=600.0)
    for guild_id, _ in ONLINE:
        server.heartbeat(guild_id, "1.0.0")
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GUILDWATCH_TOKEN": server.token,
    }
    guilds = [guild_id for guild_id, _ in ONLINE + OFFLINE]
    command = [str(GUILDWATCH), "--api", server.url, "--no-animation", *guilds]
    with TmuxSession(command, width=80, height=24, env=env) as pane:
        pane.wait_for("2 offline · 3 online", timeout=TIMEOUT)

        pane.resize(20, 3)
        screen = pane.wait_for(lambda s: _first_line(s).startswith("✕ Offline"), timeout=10)
        # Offline, Offline, then the selected first guild given (shown by its id).
        lines = screen.splitlines()
        assert lines[1].startswith("✕ Offline"), screen
        assert lines[2].startswith(f"◉ Online {ONLINE[0][0][:8]}"), screen
        assert not set("▁▂▃▄▅▆▇█") & set(screen)  # no scrollbar crowding the names

        # Back and forth, as a split is dragged: still the worst guild on top.
        pane.resize(80, 24)
        pane.wait_for("2 offline · 3 online", timeout=10)
        pane.resize(20, 3)
        pane.wait_for(lambda s: _first_line(s).startswith("✕ Offline"), timeout=10)

        pane.send_keys("q")
        screen = pane.wait_for("[exit", timeout=TIMEOUT)
        assert "[exit 0]" in screen
