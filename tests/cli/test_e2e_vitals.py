"""Bot vitals end to end: the installed ``guildwatch`` in tmux against the real
``guildwatch-server --simulate``, whose shard 1 drops early in each short vitals cycle.

A shard drop must read "Degraded" on screen within 2 s of the server knowing it, and the
alert (``--on-change``) must come only after the hold-down.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from pathlib import Path

import httpx
import pytest

from guildwatch.server._simulate import sim_guild_id
from tests.cli.conftest import GUILDWATCH
from tests.conftest import ServerFactory
from tests.tmux import TMUX, TmuxSession

needs_tmux = pytest.mark.skipif(
    TMUX is None and not os.environ.get("CI"), reason="tmux not installed (CI installs it)"
)

GUILD = sim_guild_id(1)
"""Simulated guild 1 is on shard 1, the shard the simulator drops."""
HOLD_DOWN = 1.0


def _shard_connected(url: str, token: str) -> bool | None:
    answer = httpx.get(
        f"{url}/api/v1/guilds/{GUILD}/status",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    shard = answer.json().get("shard")
    return None if shard is None else bool(shard.get("connected", True))


def _wait_for_shard(url: str, token: str, connected: bool, timeout: float) -> float:
    """Poll the server until the guild's shard is (dis)connected; when it was seen so."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _shard_connected(url, token) is connected:
            return time.monotonic()
        time.sleep(0.05)
    raise TimeoutError(f"the shard never became connected={connected}")


@needs_tmux
def test_a_shard_drop_reads_degraded_within_2_s_and_alerts_after_the_hold_down(
    server_factory: ServerFactory, home: Path, tmp_path: Path
) -> None:
    # Heartbeats every second (3 within offline_after); a 16 s cycle: maintenance at 4-8 s,
    # shard 1 down at 8-12 s (while the bot says "starting"), again 16 s later.
    server = server_factory(
        subprocess=True,
        simulate=True,
        sim_guilds=2,
        sim_period=600.0,
        offline_after=3.0,
        sim_shards=3,
        sim_maintenance_every=16.0,
        sim_maintenance_for=4.0,
        guilds=(),
    )
    alerts = tmp_path / "alerts.jsonl"
    # One JSON object per line: the alert's stdin, then a newline.
    target = shlex.quote(str(alerts))
    on_change = shlex.join(["sh", "-c", f"cat >> {target}; echo >> {target}"])
    command = [
        str(GUILDWATCH),
        "--api",
        server.url,
        "--alert-hold-down",
        str(HOLD_DOWN),
        "--on-change",
        on_change,
        GUILD,
    ]
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GUILDWATCH_TOKEN": server.token,
    }
    with TmuxSession(command, width=80, height=24, env=env) as pane:
        pane.wait_for(lambda s: "Online" in s or "Maintenance" in s, timeout=30)
        # Start from a connected shard, so the drop is seen as it happens.
        _wait_for_shard(server.url, server.token, connected=True, timeout=30)
        dropped = _wait_for_shard(server.url, server.token, connected=False, timeout=30)
        screen = pane.wait_for("Degraded · shard 1 down", timeout=2.0)
        shown = time.monotonic() - dropped
        assert shown <= 2.0, screen
        assert "◒" in screen
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and '"degraded"' not in _read(alerts):
            time.sleep(0.05)
        alerted = time.monotonic() - dropped
        records = [json.loads(line) for line in _read(alerts).splitlines() if line.strip()]
        degraded = [r for r in records if r["to"] == "degraded"]
        assert degraded, f"no Degraded alert in {records}"
        assert degraded[0]["guild"] == GUILD
        # Not before the hold-down (the server knew of the drop before we polled it).
        assert alerted >= HOLD_DOWN - 0.1
        pane.send_keys("q")
        assert "[exit 0]" in pane.wait_for("[exit", timeout=20)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""
