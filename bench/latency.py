"""Event-to-screen latency: the server sends, the screen shows (p50, p99).

guildwatch: a ``guildwatch-server`` subprocess serves one guild; ``guildwatch`` runs in an 80x24
pty. For each event the clock starts just before the bot heartbeat is POSTed (a new version, so
one status change, one event) and stops when ``v<new version>`` is read from the pty.

Floor: the bare Textual app updating its label from a local queue, fed through a named pipe;
the clock starts just before the line is written to the pipe. Events are spaced 150-250 ms
apart (more than the screen's 10 Hz redraw coalescing, which is for bursts: see ``burst``).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench._command import command_name, guildwatch
from bench._pty import PtyProgram
from bench._report import Figure, Row
from bench._servers import ServerProcess, bench_guild_ids

NAME = "event-to-screen latency"
TARGET_P99_MS = 17.0
DEFAULT_EVENTS = 60


def _latencies(
    program: PtyProgram, send: Callable[[str], None], events: int, prefix: str
) -> list[float]:
    """Milliseconds from ``send(version)`` to ``v<version>`` on screen, per event."""
    rng = random.Random(9)
    found: list[float] = []
    for number in range(events):
        version = f"{prefix}.{number:04d}"
        since = len(program.output)
        started = time.perf_counter()
        send(version)
        seen = program.seen_at(f"v{version}".encode(), timeout=30, since=since)
        found.append(1000 * (seen - started))
        program.read_for(rng.uniform(0.15, 0.25))  # paced, and the pty drained meanwhile
    return found


def _pipe(writer: int) -> Callable[[str], None]:
    def send(version: str) -> None:
        os.write(writer, f"{version}\n".encode())

    return send


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def run(runs: int, events: int = DEFAULT_EVENTS) -> list[Row]:
    guild = bench_guild_ids(1)[0]
    ours_p50: list[float] = []
    ours_p99: list[float] = []
    floor_p50: list[float] = []
    floor_p99: list[float] = []
    with ServerProcess([guild], ["--offline-after", "3600"]) as server:
        server.heartbeat(guild, "0.start")
        argv, env = guildwatch(server.url, server.token, [guild])
        for run_number in range(runs):
            with PtyProgram(argv, env=env) as program:
                program.wait_for(b"Online", timeout=60)
                program.read_for(0.5)
                samples = _latencies(
                    program,
                    lambda version: server.heartbeat(guild, version),
                    events,
                    f"7{run_number}",
                )
            ours_p50.append(statistics.median(samples))
            ours_p99.append(_p99(samples))
            with tempfile.TemporaryDirectory() as directory:
                fifo = Path(directory) / "feed"
                os.mkfifo(fifo)
                bare = [sys.executable, "-m", "bench.floors.bare_app", "--feed", str(fifo)]
                with PtyProgram(bare) as program:
                    writer = os.open(fifo, os.O_WRONLY)  # blocks until the app opened it
                    try:
                        program.wait_for(b"ready", timeout=60)
                        program.read_for(0.5)
                        samples = _latencies(program, _pipe(writer), events, f"8{run_number}")
                    finally:
                        os.close(writer)
            floor_p50.append(statistics.median(samples))
            floor_p99.append(_p99(samples))
    p99 = Figure.of(ours_p99)
    floor_name = "bare Textual app, label from a local queue"
    return [
        Row(NAME, "p50", "ms", Figure.of(ours_p50), floor_name, Figure.of(floor_p50), "-", None),
        Row(
            NAME,
            "p99",
            "ms",
            p99,
            floor_name,
            Figure.of(floor_p99),
            f"p99 <= {TARGET_P99_MS:g} ms",
            p99.high <= TARGET_P99_MS,  # in every run
            f"latency: {command_name()} against a guildwatch-server subprocess, {events} events "
            "per run, POST to pty read.",
        ),
    ]
