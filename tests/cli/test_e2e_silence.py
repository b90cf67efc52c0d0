"""``s`` end to end: the installed ``guildwatch`` in a tmux pane against a ``guildwatch-server``
process; the silence picked on the screen is still there after quitting and starting again."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli.conftest import GUILDWATCH
from tests.conftest import ServerFactory
from tests.tmux import TMUX, TmuxSession

pytestmark = pytest.mark.skipif(
    TMUX is None and not os.environ.get("CI"), reason="tmux not installed (CI installs it)"
)


def test_a_silence_survives_a_restart(server_factory: ServerFactory, home: Path) -> None:
    server = server_factory(subprocess=True)
    online, offline = server.guild_ids[:2]
    server.heartbeat(online)
    state_home = home / ".local" / "state"
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(state_home),
        "GUILDWATCH_TOKEN": server.token,
    }
    command = [str(GUILDWATCH), "--no-animation", "--api", server.url, online, offline]
    with TmuxSession(command, width=100, height=20, env=env) as pane:
        pane.wait_for(lambda text: "Online" in text and "Offline" in text, timeout=30)
        pane.send_keys("s")  # on the selected guild, whichever it is: the picker names it
        screen = pane.wait_for(
            lambda text: f"Silence {online}" in text or f"Silence {offline}" in text, timeout=10
        )
        chosen = online if f"Silence {online}" in screen else offline
        pane.send_keys("2")  # 1 hour
        screen = pane.wait_for("~ silenced 1h", timeout=10)
        (row,) = [line for line in screen.splitlines() if "~ silenced" in line]
        assert chosen in row
        pane.send_keys("q")
        assert "[exit 0]" in pane.wait_for("[exit", timeout=20)
    saved = json.loads((state_home / "guildwatch" / "silences.json").read_text())
    assert [entry["guild"] for entry in saved["silences"]] == [chosen]

    with TmuxSession(command, width=100, height=20, env=env) as pane:
        screen = pane.wait_for("~ silenced", timeout=30)
        (row,) = [line for line in screen.splitlines() if "~ silenced" in line]
        assert chosen in row
        pane.send_keys("q")
        assert "[exit 0]" in pane.wait_for("[exit", timeout=20)
