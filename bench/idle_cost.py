"""Idle cost of the screen: bytes written to the terminal per second and CPU %, pulse on.

``python -m bench.idle_cost [--seconds 20] [--columns 80 --rows 24]`` runs, each in its own
pty, the guildwatch screen with one guild Online (pulse on), the same with animation off, and
the bare-Textual floors (one static label; one label toggled at the pulse rate), then prints
one line per program. Over SSH every byte written is a byte sent: the issue allows "a few
hundred bytes a second at most" with the pulse running.

The screen runs against an engine that only waits (``--child``): the idle screen is what is
measured, not the network.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from datetime import timedelta

from bench._pty import PtyProgram
from guildwatch.store import BotStatus, StatusStore, utc_now
from guildwatch.ui import run_tui
from guildwatch.ui._status_dot import PULSE_INTERVAL

SETTLE_SECONDS = 2.0
"""Start-up output (first paint, terminal queries) is not idle cost: skip it."""


class IdleEngine:
    """Starts, does nothing, stops: the screen's idle cost without any network."""

    def __init__(self) -> None:
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        await self._stopped.wait()

    def retry(self, guild_id: str | None = None) -> None:
        """Nothing to retry: the guild stays Online."""

    async def stop(self) -> None:
        self._stopped.set()


def child(animation: bool) -> int:
    """Run the real screen with one guild Online, as ``guildwatch`` would."""
    store = StatusStore()
    store.add_guild("123456789012345678", name="Bench Guild")
    store.set_connection("123456789012345678", "connected")
    status = BotStatus(True, utc_now() - timedelta(seconds=5), "1.2.3")
    store.apply_status("123456789012345678", status, source="stream")
    return run_tui(store, IdleEngine(), animation=animation)


@dataclass(frozen=True, slots=True)
class Measurement:
    name: str
    bytes_per_second: float
    cpu_percent: float


def measure(
    name: str, argv: list[str], ready: bytes, seconds: float, columns: int, rows: int
) -> Measurement:
    with PtyProgram(argv, columns=columns, rows=rows) as program:
        program.wait_for(ready)
        program.read_for(SETTLE_SECONDS)
        cpu_before, started = program.cpu_seconds(), time.perf_counter()
        written = program.read_for(seconds)
        elapsed = time.perf_counter() - started
        cpu = program.cpu_seconds() - cpu_before
    return Measurement(name, written / elapsed, 100 * cpu / elapsed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.idle_cost", description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="idle time measured")
    parser.add_argument("--columns", type=int, default=80)
    parser.add_argument("--rows", type=int, default=24)
    parser.add_argument("--child", choices=["pulse", "static"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(animation=args.child == "pulse")
    me = [sys.executable, "-m", "bench.idle_cost", "--child"]
    bare = [sys.executable, "-m", "bench.floors.bare_app"]
    programs = [
        ("guildwatch, Online, pulse on", [*me, "pulse"], b"Online"),
        ("guildwatch, Online, animation off", [*me, "static"], b"Online"),
        ("bare Textual, one static label", bare, b"ready"),
        (
            "bare Textual, one label toggled at the pulse rate",
            [*bare, "--toggle", f"{1 / PULSE_INTERVAL:.3f}"],
            b"ready",
        ),
    ]
    print(f"idle {args.seconds:g} s in a {args.columns}x{args.rows} pty, TERM=xterm-256color")
    for name, command, ready in programs:
        result = measure(name, command, ready, args.seconds, args.columns, args.rows)
        print(f"  {result.name}: {result.bytes_per_second:.0f} B/s, {result.cpu_percent:.1f}% CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
