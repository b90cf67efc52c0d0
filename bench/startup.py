"""Start-up: ``guildwatch`` to its first painted status, against a bare Textual app's label.

Both run in a fresh 80x24 pty, alternately, ``runs`` times each. guildwatch is timed twice in
each run: to its first painted status ("Connecting…", the grey dot: the screen is up and says
what it is doing) and to "Online" (it also imported httpx, connected to the reference server, a
``guildwatch-server`` subprocess with one guild and a bot heartbeat, and drew the first event).
The floor's clock stops when its one label ("ready") is on screen.

Both start from compiled bytecode, as after ``pip install``: Textual's ``.pyc`` files come with
its installation, and an editable checkout run with ``PYTHONDONTWRITEBYTECODE`` would otherwise
recompile guildwatch's sources on every start (~20 ms here) and compare unlike with unlike.
"""

from __future__ import annotations

import compileall
import sys
from pathlib import Path

import guildwatch as package
from bench._command import command_name, guildwatch
from bench._pty import PtyProgram
from bench._report import Figure, Row
from bench._servers import ServerProcess, bench_guild_ids

NAME = "start-up"
TARGET_RATIO = 1.3


def time_to(argv: list[str], env: dict[str, str], *ready: bytes) -> list[float]:
    """Seconds from spawn until each of ``ready`` is in the pty output."""
    with PtyProgram(argv, env=env) as program:
        return [program.wait_for(pattern, timeout=60) for pattern in ready]


def run(runs: int) -> list[Row]:
    compileall.compile_dir(Path(package.__file__).parent, quiet=1)
    guild = bench_guild_ids(1)[0]
    painted: list[float] = []
    online: list[float] = []
    floor: list[float] = []
    with ServerProcess([guild], ["--offline-after", "3600"]) as server:
        server.heartbeat(guild, "1.0.0")
        argv, env = guildwatch(server.url, server.token, [guild])
        bare = [sys.executable, "-m", "bench.floors.bare_app"]
        # One unmeasured start each: the first run pays for cold page caches.
        time_to(argv, env, b"Online")
        time_to(bare, {}, b"ready")
        for _ in range(runs):
            first, connected = time_to(argv, env, b"Connecting", b"Online")
            painted.append(first)
            online.append(connected)
            floor.extend(time_to(bare, {}, b"ready"))
    base = Figure.of(floor)
    first_paint, up = Figure.of(painted), Figure.of(online)
    floor_name = "bare Textual app, one label"
    return [
        Row(
            benchmark=NAME,
            metric="spawn to first painted status (Connecting…)",
            unit="s",
            guildwatch=first_paint,
            floor_name=floor_name,
            floor=base,
            target=f"<= {TARGET_RATIO} x",
            met=first_paint.median / base.median <= TARGET_RATIO,
        ),
        Row(
            benchmark=NAME,
            metric="spawn to Online (connected, first event drawn)",
            unit="s",
            guildwatch=up,
            floor_name=floor_name,
            floor=base,
            target="report",
            met=None,
            note=f"start-up: {command_name()} in an 80x24 pty, one guild on a local "
            "guildwatch-server, from compiled bytecode; the engine (httpx) is imported after "
            "the first frame, so Online includes that import, connecting and the first event.",
        ),
    ]
