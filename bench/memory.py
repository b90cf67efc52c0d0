"""Memory: resident set size with 1, 100, 1,000 and 10,000 guilds; per-guild KB.

A ``guildwatch-server`` subprocess simulates N guilds (one heartbeat each, then quiet). Two
guildwatch clients are measured, each in its own process, once every guild is connected:

- the headless engine (``Engine`` + ``StatusStore``, what ``--watch`` runs), which reports
  when every guild is connected and has a status, so its RSS is taken at a known point;
- the screen (``guildwatch`` in a 120x40 pty), whose RSS is taken once "Online" is drawn and
  the RSS has been flat for 2 s (up to 10,000 rows: where it stops, the report says why).

Floor: the bare Textual app in the same pty. Per-guild KB is the slope between the smallest
and the largest count that ran.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import select
import subprocess
import sys
import time
from collections.abc import Sequence

from bench._command import command_name, guildwatch
from bench._pty import PtyProgram
from bench._report import Figure, Row
from bench._servers import ServerProcess

NAME = "memory"
COUNTS = (1, 100, 1_000, 10_000)
SCREEN_COUNTS = (1, 100, 1_000)
"""The screen draws one row per guild: 10,000 rows is past what a terminal shows (see note)."""
SCREEN_TIMEOUT = 120.0
ENGINE_TIMEOUT = 60.0
SIM_BASE = 900_000_000_000_000_000


def sim_ids(count: int) -> list[str]:
    return [str(SIM_BASE + n) for n in range(count)]


async def _child(url: str, count: int) -> None:
    from guildwatch.engine import Engine, EngineSettings, start_jitter_for
    from guildwatch.store import StatusStore

    logging.getLogger("guildwatch").addHandler(logging.NullHandler())  # no stderr warnings

    store = StatusStore()
    store.add_guilds(sim_ids(count))
    # Starts spread as the CLI spreads them (``--watch`` runs exactly this engine).
    settings = EngineSettings(
        api_url=url, token=os.environ["GUILDWATCH_TOKEN"], start_jitter=start_jitter_for(count)
    )
    engine = Engine(settings, store)
    runner = asyncio.create_task(engine.run())
    started = time.perf_counter()
    while True:
        await asyncio.sleep(0.2)
        ready = sum(s.connection == "connected" and s.status is not None for s in store.snapshots())
        if ready == count:
            print(f"ready {time.perf_counter() - started:.2f}", flush=True)
            break
        if time.perf_counter() - started > ENGINE_TIMEOUT:
            print(f"partial {ready} of {count} connected after {ENGINE_TIMEOUT:g} s", flush=True)
            break
    await runner


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def engine_rss(server: ServerProcess, count: int) -> tuple[float, str]:
    """KiB of the headless engine with every guild connected, and what broke if not all did."""
    env = {**os.environ, "GUILDWATCH_TOKEN": server.token}
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.memory", "--child", server.url, str(count)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        # The child reports itself, but a saturated event loop may never get to: bound it.
        ready, _, _ = select.select([child.stdout], [], [], ENGINE_TIMEOUT + 30)
        if not ready:
            rss = _rss_kib(child.pid)
            return rss, f"no report within {ENGINE_TIMEOUT + 30:g} s (event loop saturated)"
        line = child.stdout.readline()
        if not line.startswith(("ready", "partial")):
            raise RuntimeError(f"engine child with {count} guilds failed: {line!r}")
        time.sleep(0.5)
        return _rss_kib(child.pid), line.strip() if line.startswith("partial") else ""
    finally:
        child.kill()
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()


def _flat_rss(program: PtyProgram, timeout: float) -> float:
    deadline = time.perf_counter() + timeout
    last, flat_since = program.rss_kib(), time.perf_counter()
    while time.perf_counter() < deadline:
        program.read_for(0.25)
        now = program.rss_kib()
        if abs(now - last) > max(64, last // 200):
            last, flat_since = now, time.perf_counter()
        elif time.perf_counter() - flat_since >= 2.0:
            return now
    raise TimeoutError(f"RSS still growing after {timeout:g} s")


def screen_rss(server: ServerProcess, count: int) -> float:
    argv, env = guildwatch(server.url, server.token, sim_ids(count))
    with PtyProgram(argv, env=env, columns=120, rows=40) as program:
        program.wait_for(b"Online", timeout=SCREEN_TIMEOUT)
        return _flat_rss(program, SCREEN_TIMEOUT)


def bare_rss() -> float:
    with PtyProgram([sys.executable, "-m", "bench.floors.bare_app"], columns=120, rows=40) as bare:
        bare.wait_for(b"ready", timeout=60)
        return _flat_rss(bare, 30)


HISTORY_GUILDS = 20
"""Guilds whose latency history is filled for the per-guild figure (in-process, tracemalloc)."""


def latency_history_kib(guilds: int = HISTORY_GUILDS, every: float = 1.0) -> float:
    """KiB per guild of a full hour of latency (one sample each ``every`` seconds): the bound
    the detail view's sparkline and the Degraded judgement cost, whatever the heartbeat rate."""
    import random
    import tracemalloc

    from guildwatch.latency import HOUR_SECONDS, LatencyHistory

    samples = int(HOUR_SECONDS / every) + 600  # past the hour: the oldest are dropped again
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        histories = [LatencyHistory() for _ in range(guilds)]
        for history in histories:
            for n in range(samples):
                history.add(n * every, 40.0 + random.random() * 8, 500.0)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (after - before) / guilds / 1024


def run(
    runs: int, counts: Sequence[int] = COUNTS, screen_counts: Sequence[int] = SCREEN_COUNTS
) -> list[Row]:
    engine: dict[int, list[float]] = {n: [] for n in counts}
    screen: dict[int, list[float]] = {n: [] for n in counts}
    broken: dict[int, str] = {}
    broken_engine: dict[int, str] = {}
    floor: list[float] = []
    for count in counts:
        extra = ["--simulate", "--guilds", str(count), "--offline-after", "3600"]
        extra += ["--sim-period", "3600", "--max-streams-per-token", str(count + 10)]
        with ServerProcess((), extra) as server:
            # 10,000 connections take minutes to settle on 2 cores: one run is enough there.
            for _ in range(runs if count < 10_000 else 1):
                kib, trouble = engine_rss(server, count)
                engine[count].append(kib / 1024)
                if trouble:
                    broken_engine[count] = trouble
                if count in broken or count not in screen_counts:
                    continue
                try:
                    screen[count].append(screen_rss(server, count) / 1024)
                except (TimeoutError, RuntimeError) as exc:
                    broken[count] = str(exc).split(";")[0]
    for _ in range(runs):
        floor.append(bare_rss() / 1024)
    base = Figure.of(floor)
    floor_name = "bare Textual app"
    rows: list[Row] = []
    for count in counts:
        rows.append(
            Row(
                NAME,
                f"headless engine, {count:,} guilds"
                + (" (not all connected)" if count in broken_engine else ""),
                "MiB",
                Figure.of(engine[count]),
                floor_name,
                base,
                "report",
                None,
            )
        )
        if screen[count]:
            rows.append(
                Row(
                    NAME,
                    f"screen, {count:,} guilds",
                    "MiB",
                    Figure.of(screen[count]),
                    floor_name,
                    base,
                    "report",
                    None,
                )
            )
    rows += _per_guild(engine, "headless engine", [n for n in counts if n not in broken_engine])
    for every, label in ((1.0, "1 s"), (30.0, "30 s")):
        rows.append(
            Row(
                NAME,
                f"latency history per guild: a full hour, a heartbeat every {label}",
                "KiB",
                Figure.of([latency_history_kib(every=every) for _ in range(runs)]),
                "-",
                None,
                "report (bounded: 64 recent + 720 hour slots)",
                None,
            )
        )
    ran = [n for n in counts if screen[n]]
    if len(ran) >= 2:
        rows += _per_guild(screen, "screen", ran)
    notes = [
        f"memory: {command_name()} and a headless engine child against guildwatch-server "
        "--simulate (every guild online, then quiet); RSS from /proc after all connected."
    ]
    notes += [f"screen with {n:,} guilds did not settle: {why}." for n, why in broken.items()]
    notes += [f"headless engine with {n:,} guilds: {why}." for n, why in broken_engine.items()]
    skipped = [n for n in counts if n not in screen_counts]
    if skipped:
        notes.append(
            f"screen not run with {', '.join(f'{n:,}' for n in skipped)} guilds: one row "
            "per guild, far past what a terminal shows."
        )
    last = rows[-1]
    rows[-1] = dataclasses.replace(last, note=" ".join(notes))
    return rows


def _per_guild(data: dict[int, list[float]], what: str, counts: Sequence[int]) -> list[Row]:
    low, high = min(counts), max(counts)
    if low == high:
        return []
    slopes = [(b - a) * 1024 / (high - low) for a, b in zip(data[low], data[high], strict=False)]
    return [
        Row(
            NAME,
            f"{what}: per guild ({low:,} to {high:,})",
            "KiB",
            Figure.of(slopes),
            "-",
            None,
            "report per-guild KB",
            None,
        )
    ]


if __name__ == "__main__" and sys.argv[1:2] == ["--child"]:
    asyncio.run(_child(sys.argv[2], int(sys.argv[3])))
