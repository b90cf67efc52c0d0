"""Start-up: ``guildwatch`` to its first painted status and to Online, against two floors.

All three run in a fresh 80x24 pty, one after the other, ``runs`` times each. guildwatch is
timed twice in each run: to its first painted status ("Connecting…", the grey dot: the screen
is up and says what it is doing) and to "Online" (it also imported httpx, connected to the
reference server, a ``guildwatch-server`` subprocess with one guild and a bot heartbeat, and
drew the first event). The floors:

- first paint: a bare Textual app (``bench/floors/bare_app.py``); its clock stops when its one
  label ("ready") is on screen;
- Online: a seed-style client (``bench/floors/seed_client.py``): one label and a worker doing
  ``httpx_sse.aconnect_sse`` + ``json.loads`` on the same guild's stream; its clock stops at
  "Online v1.0.0".

A target holds only if it holds in every run (each run's guildwatch figure against the same
run's floor), not just for the medians.

Both start from compiled bytecode, as after ``pip install``: Textual's ``.pyc`` files come with
its installation, and an editable checkout run with ``PYTHONDONTWRITEBYTECODE`` would otherwise
recompile guildwatch's sources on every start (~20 ms here) and compare unlike with unlike.
"""

from __future__ import annotations

import compileall
import sys
from pathlib import Path

import bench
import guildwatch as package
from bench._command import command_name, guildwatch
from bench._pty import PtyProgram
from bench._report import Figure, Row
from bench._servers import ServerProcess, bench_guild_ids

NAME = "start-up"
PAINT_TARGET = 1.1
"""First paint at most this many times the bare app's, in every run."""
ONLINE_TARGET = 1.0
"""Online no later than the seed client's, in every run."""
VERSION = "1.0.0"


def time_to(argv: list[str], env: dict[str, str], *ready: bytes) -> list[float]:
    """Seconds from spawn until each of ``ready`` is in the pty output."""
    with PtyProgram(argv, env=env) as program:
        return [program.wait_for(pattern, timeout=60) for pattern in ready]


def _every_run(ours: list[float], floor: list[float], ratio: float) -> bool:
    return all(mine <= ratio * theirs for mine, theirs in zip(ours, floor, strict=True))


def _worst(ours: list[float], floor: list[float]) -> float:
    return max(mine / theirs for mine, theirs in zip(ours, floor, strict=True))


def run(runs: int) -> list[Row]:
    compileall.compile_dir(Path(package.__file__).parent, quiet=1)
    compileall.compile_dir(Path(bench.__file__).parent, quiet=1)
    guild = bench_guild_ids(1)[0]
    painted: list[float] = []
    online: list[float] = []
    bare_ready: list[float] = []
    seed_online: list[float] = []
    with ServerProcess([guild], ["--offline-after", "3600"]) as server:
        server.heartbeat(guild, VERSION)
        argv, env = guildwatch(server.url, server.token, [guild])
        bare = [sys.executable, "-m", "bench.floors.bare_app"]
        seed = [sys.executable, "-m", "bench.floors.seed_client", server.url, guild]
        online_text = f"Online v{VERSION}".encode()
        # One unmeasured start each: the first run pays for cold page caches.
        time_to(argv, env, b"Online")
        time_to(bare, {}, b"ready")
        time_to(seed, env, online_text)
        for _ in range(runs):
            first, connected = time_to(argv, env, b"Connecting", b"Online")
            painted.append(first)
            online.append(connected)
            bare_ready.extend(time_to(bare, {}, b"ready"))
            seed_online.extend(time_to(seed, env, online_text))
    first_paint, up = Figure.of(painted), Figure.of(online)
    worst_paint = _worst(painted, bare_ready)
    worst_online = _worst(online, seed_online)
    return [
        Row(
            benchmark=NAME,
            metric="spawn to first painted status (Connecting…)",
            unit="s",
            guildwatch=first_paint,
            floor_name="bare Textual app, one label",
            floor=Figure.of(bare_ready),
            target=f"<= {PAINT_TARGET:g} x in every run (worst {worst_paint:.2f} x)",
            met=_every_run(painted, bare_ready, PAINT_TARGET),
            note="start-up, first paint: the floor is a bare Textual app showing one label "
            "(bench/floors/bare_app.py): what any Textual screen costs before it shows anything.",
        ),
        Row(
            benchmark=NAME,
            metric="spawn to Online (connected, first event drawn)",
            unit="s",
            guildwatch=up,
            floor_name="seed client: one label, httpx-sse, json.loads",
            floor=Figure.of(seed_online),
            target=f"<= {ONLINE_TARGET:g} x in every run (worst {worst_online:.2f} x)",
            met=_every_run(online, seed_online, ONLINE_TARGET),
            note=f"start-up, Online: {command_name()} in an 80x24 pty, one guild on a local "
            "guildwatch-server, from compiled bytecode, against the seed client "
            "(bench/floors/seed_client.py): a Textual app with one label and a worker that "
            "opens the same guild's stream with httpx_sse.aconnect_sse, json.loads each "
            "event (skipping the empty one httpx-sse makes of the heartbeat comment) and "
            "shows the first version; no reconnecting, polling or store. guildwatch paints "
            "first and builds httpx and its clients after that frame, its TLS context on a "
            "thread started with the process; the seed imports httpx before its first frame.",
        ),
    ]
