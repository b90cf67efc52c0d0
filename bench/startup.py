"""Start-up: ``guildwatch`` to its first painted status, against a bare Textual app's label.

Both run in a fresh 80x24 pty, alternately, ``runs`` times each. guildwatch's clock stops when
"Online" is on screen: the process started, imported Textual and httpx, connected to the
reference server (a ``guildwatch-server`` subprocess, one guild with a bot heartbeat) and drew
the first event. The floor's clock stops when its one label ("ready") is on screen.
"""

from __future__ import annotations

import sys

from bench._command import command_name, guildwatch
from bench._pty import PtyProgram
from bench._report import Figure, Row
from bench._servers import ServerProcess, bench_guild_ids

NAME = "start-up"
TARGET_RATIO = 1.3


def time_to(argv: list[str], env: dict[str, str], ready: bytes) -> float:
    """Seconds from spawn until ``ready`` is in the pty output."""
    with PtyProgram(argv, env=env) as program:
        return program.wait_for(ready, timeout=60)


def run(runs: int) -> list[Row]:
    guild = bench_guild_ids(1)[0]
    ours: list[float] = []
    floor: list[float] = []
    with ServerProcess([guild], ["--offline-after", "3600"]) as server:
        server.heartbeat(guild, "1.0.0")
        argv, env = guildwatch(server.url, server.token, [guild])
        bare = [sys.executable, "-m", "bench.floors.bare_app"]
        # One unmeasured start each: the first run pays for cold .pyc and page caches.
        time_to(argv, env, b"Online")
        time_to(bare, {}, b"ready")
        for _ in range(runs):
            ours.append(time_to(argv, env, b"Online"))
            floor.append(time_to(bare, {}, b"ready"))
    mine, base = Figure.of(ours), Figure.of(floor)
    return [
        Row(
            benchmark=NAME,
            metric="spawn to first painted status (Online)",
            unit="s",
            guildwatch=mine,
            floor_name="bare Textual app, one label",
            floor=base,
            target=f"<= {TARGET_RATIO} x",
            met=mine.median / base.median <= TARGET_RATIO,
            note=f"start-up: {command_name()} in an 80x24 pty, one guild on a local "
            "guildwatch-server; includes connecting and the first event.",
        )
    ]
