"""Soak: 50 guilds for 30 minutes, time-compressed, with the server restarted regularly.

Run: ``.venv/bin/python -m bench.soak [--minutes 30] [--guilds 50] [--restart-every 60]``.

``guildwatch-server --simulate`` runs as a child process with everything shortened (heartbeat
comments every 0.5 s, offline after 1 s, a simulated bot whose guilds go offline and come back
with a new version every few seconds), and is stopped every ``--restart-every`` seconds, by
SIGTERM and SIGKILL in turn, then started again on the same port and database. This process
runs the real :class:`~guildwatch.engine.Engine` and :class:`~guildwatch.store.StatusStore`
against it, as the screen would, and samples itself while every guild is connected:

- RSS (``/proc/self/status``), asyncio tasks, open file descriptors (``/proc/self/fd``) and
  sockets among them;
- after each restart, the time until every guild is connected again.

Checks (exit code 0 = all passed): no growth beyond a bound between the early samples (the
first three after the second restart, so SIGTERM and SIGKILL recoveries have both run once and
first-use caches and lazy imports are in) and the last three; and the final state
matches the server for every guild: the simulator is replaced by a quiet server on the same
database, every guild turns offline, and the store must then agree with ``GET .../status``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from bench.server_load import ServerProcess, Verdict
from guildwatch.engine import Engine, EngineSettings
from guildwatch.server._simulate import sim_guild_id
from guildwatch.store import StatusStore

SERVER_HEARTBEAT = 0.5
OFFLINE_AFTER = 1.0
SAMPLE_EVERY = 5.0
"""Seconds between samples (shorter for short runs: at least 30 samples a run)."""
HISTORY_SIZE = 20

RSS_GROWTH_BOUND = (1.25, 8 * 1024 * 1024)
"""Final RSS may be at most ``early * 1.25 + 8 MiB``: allocator noise, not a leak."""
COUNT_GROWTH_BOUND = {"tasks": 5, "fds": 5, "sockets": 5, "objects": 3000}
"""How much each count may grow from the early samples to the last. Live objects (counted after
``gc.collect()``) vary by a few hundred with what is in flight; a leak of one object per status
change adds tens of thousands over a run. The soak found two things this way: idle poll sockets
kept after a restart (fds and sockets stepped up by 9), and each guild keeping its last failure's
traceback and its stopped poll task (~200 objects a guild, +10k after the first restart)."""


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    rss: int
    tasks: int
    fds: int
    sockets: int
    objects: int
    """Objects the garbage collector tracks: grows with a leak, not with fragmentation."""


def sample(started: float) -> Sample:
    """This process's resources right now."""
    rss_kib = next(
        int(line.split()[1])
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    fds = os.listdir("/proc/self/fd")
    sockets = 0
    for fd in fds:
        with contextlib.suppress(OSError):  # the listing's own fd is closed meanwhile
            sockets += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    # Collect first: cyclic garbage not yet collected (exceptions with tracebacks after a
    # restart) swung the count by ~10k between samples and hid what is actually kept alive.
    gc.collect()
    return Sample(
        time.monotonic() - started,
        rss_kib * 1024,
        len(asyncio.all_tasks()),
        len(fds),
        sockets,
        len(gc.get_objects()),
    )


def all_connected(store: StatusStore) -> bool:
    return all(snapshot.connection == "connected" for snapshot in store.snapshots())


async def wait_until(check: Callable[[], bool], timeout: float) -> float | None:
    """Seconds until ``check()`` held, or None after ``timeout``."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            return None
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def restart(server: ServerProcess, number: int) -> str:
    """Stop the server (SIGTERM on even restarts, SIGKILL on odd) and start it again."""
    if number % 2 == 0:
        server.terminate()
        how = "SIGTERM"
    else:
        server.kill()
        how = "SIGKILL"
    server.start()
    return how


async def soak(minutes: float, guilds: int, restart_every: float, workdir: Path) -> list[str]:
    verdict = Verdict()
    db = str(workdir / "soak.sqlite3")
    simulate = [
        "--simulate",
        "--guilds",
        str(guilds),
        "--sim-period",
        "2",
        "--offline-after",
        str(OFFLINE_AFTER),
        "--heartbeat-interval",
        str(SERVER_HEARTBEAT),
        "--retry-ms",
        "200",  # the server's retry: floors every reconnect; 3 s by default
    ]
    server = ServerProcess(db, extra=simulate)
    await asyncio.to_thread(server.start)
    guild_ids = [sim_guild_id(i) for i in range(guilds)]
    # The history ring (1000 changes per guild by default) fills in ~30 min at this rate of
    # change, which would look like a leak; a smaller ring is full before the first samples
    # are compared, so what the soak measures is everything else.
    store = StatusStore(history_size=HISTORY_SIZE)
    store.add_guilds(guild_ids)
    settings = EngineSettings(
        api_url=server.url,
        token=server.token,
        heartbeat_timeout=2.5 * SERVER_HEARTBEAT,
        connect_timeout=2.0,
        backoff_base=0.1,
        backoff_cap=1.0,
        max_retries=30,
        min_uptime_for_reset=2.0,
        poll_interval=5.0,
    )
    engine = Engine(settings, store)
    running = asyncio.create_task(engine.run())
    started = time.monotonic()
    duration = minutes * 60
    samples: list[Sample] = []
    reconnects: list[float] = []
    restarts = 0
    warm_from = float("inf")  # when the second restart was over: samples before are warm-up
    sample_every = max(1.0, min(SAMPLE_EVERY, duration / 30))
    next_restart = started + restart_every
    try:
        if await wait_until(lambda: all_connected(store), 30) is None:
            verdict.check(False, "every guild connected at the start")
        while time.monotonic() - started < duration:
            await asyncio.sleep(sample_every)
            if time.monotonic() >= next_restart:
                how = await asyncio.to_thread(restart, server, restarts)
                restarts += 1
                back = await wait_until(lambda: all_connected(store), 60)
                verdict.check(back is not None, f"restart {restarts} ({how}): all reconnected")
                reconnects.append(back if back is not None else float("inf"))
                if restarts == 2:
                    warm_from = time.monotonic() - started
                next_restart = time.monotonic() + restart_every
                continue
            if await wait_until(lambda: all_connected(store), 30) is not None:
                samples.append(sample(started))
                last = samples[-1]
                print(
                    f"  t={last.at:6.0f} s rss={last.rss / 2**20:6.1f} MiB tasks={last.tasks} "
                    f"fds={last.fds} sockets={last.sockets} objects={last.objects}",
                    flush=True,
                )
        await final_check(server, store, guild_ids, simulate, verdict)
    finally:
        await engine.stop()
        await running
        server.stop_quietly()
    report_growth([s for s in samples if s.at >= warm_from], verdict)
    if reconnects:
        print(
            f"  {restarts} restarts; every guild reconnected after "
            f"median {statistics.median(reconnects):.2f} s, max {max(reconnects):.2f} s"
        )
    return verdict.failures


def report_growth(samples: list[Sample], verdict: Verdict) -> None:
    """Compare the first three samples after warm-up with the last three."""
    if len(samples) < 6:
        verdict.check(False, f"enough samples after warm-up to judge growth ({len(samples)})")
        return
    early, late = samples[:3], samples[-3:]

    def median(values: list[int]) -> float:
        return statistics.median(values)

    rss_early, rss_late = median([s.rss for s in early]), median([s.rss for s in late])
    factor, slack = RSS_GROWTH_BOUND
    verdict.check(
        rss_late <= rss_early * factor + slack,
        f"RSS {rss_early / 2**20:.1f} -> {rss_late / 2**20:.1f} MiB (bound x{factor} + 8 MiB)",
    )
    for name, bound in COUNT_GROWTH_BOUND.items():
        before = median([getattr(s, name) for s in early])
        after = median([getattr(s, name) for s in late])
        shown = f"{name} {before:.0f} -> {after:.0f} (bound +{bound})"
        verdict.check(after <= before + bound, shown)


async def final_check(
    server: ServerProcess,
    store: StatusStore,
    guild_ids: list[str],
    simulate: list[str],
    verdict: Verdict,
) -> None:
    """Swap the simulator for a quiet server; the store must then match it for every guild."""
    await asyncio.to_thread(server.terminate)
    server.extra = simulate[5:]  # same timings, no --simulate: the guilds come from SQLite
    await asyncio.to_thread(server.start)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {server.token}"}) as client:

        async def server_statuses() -> dict[str, dict[str, object]]:
            answers = await asyncio.gather(
                *(client.get(f"{server.url}/api/v1/guilds/{g}/status") for g in guild_ids)
            )
            return {g: a.json() for g, a in zip(guild_ids, answers, strict=True)}

        await asyncio.sleep(2 * OFFLINE_AFTER)  # every guild goes quiet, then offline
        truth = await server_statuses()
        took = await wait_until(lambda: all(matches(store, g, truth[g]) for g in guild_ids), 30)
        wrong = [g for g in guild_ids if not matches(store, g, truth[g])]
    verdict.check(
        took is not None and not wrong,
        f"final state matches the server for all {len(guild_ids)} guilds "
        f"({len(wrong)} wrong{'' if took is None else f', converged in {took:.2f} s'})",
    )


def matches(store: StatusStore, guild_id: str, truth: dict[str, object]) -> bool:
    snapshot = store.get(guild_id)
    status = snapshot.status
    if snapshot.connection != "connected" or status is None:
        return False
    beat = truth["lastHeartbeat"]
    expected_beat = (
        datetime.fromisoformat(beat.replace("Z", "+00:00")) if isinstance(beat, str) else None
    )
    return (
        status.healthy == truth["healthy"]
        and status.version == truth["version"]
        and status.last_heartbeat == expected_beat
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--guilds", type=int, default=50)
    parser.add_argument("--restart-every", type=float, default=60.0, help="seconds")
    args = parser.parse_args(argv)
    # Every restart makes 50 guilds log their reconnects; the figures below are the output.
    logging.getLogger("guildwatch").setLevel(logging.ERROR)
    print(
        f"== soak: {args.guilds} guilds, {args.minutes:g} min, server restart every "
        f"{args.restart_every:g} s (load average {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="guildwatch-soak-") as workdir:
        failures = asyncio.run(soak(args.minutes, args.guilds, args.restart_every, Path(workdir)))
    print("== result:", "all checks passed" if not failures else f"{len(failures)} FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
