"""Idle cost: CPU % and bytes/s written to the terminal, pulse on, one guild Online.

All programs run at the same time, each in its own 80x24 pty, for ``seconds`` (60 by default,
as the issue asks), after a settle time that skips start-up output (first paint, terminal
queries). Over SSH every byte written is a byte sent.

- guildwatch: ``guildwatch`` against a ``guildwatch-server`` subprocess, one guild Online with
  a recent heartbeat, pulse on; and the same with ``--no-animation``. The bot heartbeats once a
  second with a gateway latency that jitters by a few ms ("Online · 42 ms"), as a real bot's
  does: each heartbeat is an event, and the row must not repaint for it;
- floors: the bare Textual app with one static label, and the same app toggling one dot's
  colour at guildwatch's own pulse rate (read from ``PULSE_INTERVAL``, so the two cannot drift
  apart): like for like, one class toggle per pulse step.

The pulse rows' target is the floor itself, in every run: guildwatch at most 1.0 x the
pulsing floor's CPU and bytes, measured side by side in the same run. The ``--no-animation``
rows keep an absolute budget, since the static floor's figures are nearly zero.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bench._command import command_name, guildwatch
from bench._pty import PtyProgram
from bench._report import Figure, Row
from bench._servers import ServerProcess, bench_guild_ids
from guildwatch.ui._status_dot import PULSE_INTERVAL

NAME = "idle cost"
SETTLE_SECONDS = 3.0
DEFAULT_SECONDS = 60.0
TARGET_CPU_PERCENT = 1.0
TARGET_BYTES_PER_SECOND = 150.0
PULSE_TARGET_RATIO = 1.0
"""Pulse on: at most the pulsing floor's CPU and bytes, in every run."""
PULSE_HZ = 1 / PULSE_INTERVAL
"""Class toggles a second: guildwatch's pulse flips its dot once per ``PULSE_INTERVAL``."""


@dataclass(frozen=True, slots=True)
class Sample:
    bytes_per_second: float
    cpu_percent: float


def _measure_together(programs: dict[str, PtyProgram], seconds: float) -> dict[str, Sample]:
    """Read every pty for ``seconds``; bytes and CPU per program over that window."""
    cpu_before = {name: program.cpu_seconds() for name, program in programs.items()}
    counts = dict.fromkeys(programs, 0)
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for name, program in programs.items():
            counts[name] += program.read_for(0.02)
    elapsed = time.perf_counter() - started
    return {
        name: Sample(
            counts[name] / elapsed,
            100 * (program.cpu_seconds() - cpu_before[name]) / elapsed,
        )
        for name, program in programs.items()
    }


HEARTBEAT_EVERY = 1.0
"""Seconds between the bench bot's heartbeats while measuring."""


@contextmanager
def _jittery_bot(server: ServerProcess, guild: str) -> Iterator[None]:
    """Heartbeat once a second with a latency of 42 ms +- 4 ms, until the block ends."""
    stop = threading.Event()

    def beat() -> None:
        tick = 0
        while not stop.is_set():
            latency = 42 + round(4 * math.sin(tick * 1.7))
            shard = {"id": 0, "count": 1, "connected": True}
            server.heartbeat(guild, "1.0.0", latencyMs=latency, shard=shard)
            tick += 1
            stop.wait(HEARTBEAT_EVERY)

    thread = threading.Thread(target=beat, name="bench-bot", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


def run(runs: int, seconds: float = DEFAULT_SECONDS) -> list[Row]:
    guild = bench_guild_ids(1)[0]
    samples: dict[str, list[Sample]] = {"pulse": [], "static": [], "bare": [], "toggle": []}
    bare = [sys.executable, "-m", "bench.floors.bare_app"]
    with ServerProcess([guild], ["--offline-after", "3600"]) as server:
        for _ in range(runs):
            server.heartbeat(guild, "1.0.0")
            pulse_argv, env = guildwatch(server.url, server.token, [guild])
            static_argv, _ = guildwatch(server.url, server.token, [guild], "--no-animation")
            commands = {
                "pulse": (pulse_argv, env, b"Online"),
                "static": (static_argv, env, b"Online"),
                "bare": (bare, {}, b"ready"),
                "toggle": ([*bare, "--toggle", f"{PULSE_HZ!r}"], {}, b"ready"),
            }
            programs = {
                name: PtyProgram(argv, env=extra) for name, (argv, extra, _) in commands.items()
            }
            try:
                for name, program in programs.items():
                    program.wait_for(commands[name][2], timeout=60)
                with _jittery_bot(server, guild):
                    _measure_together(programs, SETTLE_SECONDS)
                    for name, sample in _measure_together(programs, seconds).items():
                        samples[name].append(sample)
            finally:
                for program in programs.values():
                    program.stop()

    def values(name: str, cpu: bool) -> list[float]:
        return [s.cpu_percent if cpu else s.bytes_per_second for s in samples[name]]

    def figure(name: str, cpu: bool) -> Figure:
        return Figure.of(values(name, cpu))

    def against_floor(cpu: bool) -> tuple[str, bool]:
        pairs = list(zip(values("pulse", cpu), values("toggle", cpu), strict=True))
        worst = max((ours / floor if floor else math.inf) for ours, floor in pairs)
        met = all(ours <= PULSE_TARGET_RATIO * floor for ours, floor in pairs)
        return f"<= {PULSE_TARGET_RATIO:g} x in every run (worst {worst:.2f} x)", met

    toggle_name = f"bare Textual app, one dot toggled {PULSE_HZ:.3g} times a second"
    static_name = "bare Textual app, one static label"
    pulse_cpu, pulse_bytes = figure("pulse", True), figure("pulse", False)
    static_cpu, static_bytes = figure("static", True), figure("static", False)
    cpu_target = f"<= {TARGET_CPU_PERCENT:g} %"
    bytes_target = f"<= {TARGET_BYTES_PER_SECOND:g} B/s"
    pulse_cpu_target, pulse_cpu_met = against_floor(cpu=True)
    pulse_bytes_target, pulse_bytes_met = against_floor(cpu=False)
    return [
        Row(
            NAME,
            "CPU, pulse on",
            "%",
            pulse_cpu,
            toggle_name,
            figure("toggle", True),
            pulse_cpu_target,
            pulse_cpu_met,
        ),
        Row(
            NAME,
            "written to the terminal, pulse on",
            "B/s",
            pulse_bytes,
            toggle_name,
            figure("toggle", False),
            pulse_bytes_target,
            pulse_bytes_met,
            f"idle cost, pulse on: the floor toggles one dot's colour class every "
            f"{PULSE_INTERVAL:g} s, guildwatch's pulse rate read from its code, so both "
            "repaint one cell as often; guildwatch also takes a heartbeat event a second.",
        ),
        Row(
            NAME,
            "CPU, --no-animation",
            "%",
            static_cpu,
            static_name,
            figure("bare", True),
            cpu_target,
            static_cpu.median <= TARGET_CPU_PERCENT,
        ),
        Row(
            NAME,
            "written to the terminal, --no-animation",
            "B/s",
            static_bytes,
            static_name,
            figure("bare", False),
            bytes_target,
            static_bytes.median <= TARGET_BYTES_PER_SECOND,
            f"idle cost: {command_name()} and the floors side by side, {seconds:g} s per run "
            "with the bot heartbeating every second, its latency jittering by a few ms, "
            "after a 3 s settle, 80x24 pty, TERM=xterm-256color; the terminal answers the "
            "synchronized-output query as modern terminals do.",
        ),
    ]
