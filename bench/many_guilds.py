"""Many guilds from one process, HTTP/1.1 against HTTP/2: ``python -m bench.many_guilds``.

For each guild count (1, 100, 1,000 by default) and protocol, a ``guildwatch-server
--simulate`` child serves the guilds (uvicorn for HTTP/1.1, hypercorn with ``--http2``), and a
second child runs guildwatch's engine alone, so that the figures are the watcher's own:

- time from start until every guild is connected with a status (the CLI's start jitter
  included: it spreads 1,000 guilds over 10 s on purpose);
- the watcher's sockets (``/proc/self/fd``) and RSS once all are connected;
- the watcher's CPU % over an idle stretch (server heartbeats only, every 30 s by default).

Linux only (reads ``/proc``). Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import subprocess
import sys
import time
from pathlib import Path

from guildwatch.engine import Engine, EngineSettings, start_jitter_for
from guildwatch.store import StatusStore


def own_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def own_sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            continue
    return count


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _watch(
    url: str, token: str, guilds: list[str], http2: bool, idle: float
) -> dict[str, float]:
    store = StatusStore()
    store.add_guilds(guilds)
    settings = EngineSettings(
        api_url=url, token=token, http2=http2, start_jitter=start_jitter_for(len(guilds))
    )
    engine = Engine(settings, store)
    started = time.monotonic()
    task = asyncio.create_task(engine.run())
    async with asyncio.timeout(120):
        while not all(s.connection == "connected" and s.status for s in store.snapshots()):
            await asyncio.sleep(0.05)
    connected = time.monotonic() - started
    rss, sockets = own_rss_mib(), own_sockets()
    cpu_before, wall_before = _cpu_seconds(), time.monotonic()
    await asyncio.sleep(idle)
    idle_cpu = 100 * (_cpu_seconds() - cpu_before) / (time.monotonic() - wall_before)
    await engine.stop()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return {"connected_s": connected, "rss_mib": rss, "sockets": sockets, "idle_cpu": idle_cpu}


def _child(args: argparse.Namespace) -> int:
    token = os.environ["BENCH_TOKEN"]
    guilds = _guild_ids(args.url, token)
    result = asyncio.run(_watch(args.url, token, guilds, args.http2, args.idle))
    print(json.dumps(result), flush=True)
    return 0


def _guild_ids(url: str, token: str) -> list[str]:
    import httpx

    answer = httpx.get(f"{url}/api/v1/guilds", headers={"Authorization": f"Bearer {token}"})
    return [guild["id"] for guild in answer.json()["guilds"]]


def measure(guilds: int, http2: bool, idle: float) -> dict[str, float]:
    """One watcher child against one server child; returns the watcher's figures."""
    token = "bench-" + secrets.token_hex(8)
    env = {**os.environ, "GUILDWATCH_SERVER_TOKENS": token, "BENCH_TOKEN": token}
    server_argv = [
        sys.executable, "-m", "guildwatch.server.main", "--port", "0", "--db", ":memory:",
        "--simulate", "--guilds", str(guilds), "--sim-period", "600",
        "--max-streams-per-token", str(guilds * 2 + 10),
    ]  # fmt: skip
    if http2:
        server_argv.append("--http2")
    server = subprocess.Popen(server_argv, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        url = first.rsplit(" ", 1)[1].strip()
        ids = _guild_ids(url, token)
        assert len(ids) == guilds, (len(ids), guilds)
        child = subprocess.run(
            [sys.executable, "-m", "bench.many_guilds", "--child", "--url", url,
             "--guilds", str(guilds), "--idle", str(idle)] + (["--http2"] if http2 else []),
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        if child.returncode != 0:
            raise RuntimeError(f"watcher failed: {child.stderr[-2000:]}")
        result: dict[str, float] = json.loads(child.stdout.strip().splitlines()[-1])
        return result
    finally:
        server.terminate()
        server.wait(15)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.many_guilds", description=__doc__)
    parser.add_argument("--counts", default="1,100,1000", help="guild counts, comma-separated")
    parser.add_argument("--idle", type=float, default=10.0, help="idle seconds measured")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--guilds", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--http2", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    print("| guilds | protocol | all connected (s) | sockets | RSS (MiB) | idle CPU % |")
    print("|---:|---|---:|---:|---:|---:|")
    for count in (int(text) for text in args.counts.split(",")):
        for http2 in (False, True):
            figures = measure(count, http2, args.idle)
            print(
                f"| {count} | {'HTTP/2' if http2 else 'HTTP/1.1'} "
                f"| {figures['connected_s']:.2f} | {figures['sockets']:.0f} "
                f"| {figures['rss_mib']:.1f} | {figures['idle_cpu']:.2f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
