"""Many guilds on the shared stream: ``python -m bench shared_stream``.

For each guild count (10,000 and 100,000 by default) a ``guildwatch-server --simulate`` child
serves the guilds, and further children measure, each in its own interpreter:

- guildwatch's headless engine (``multiplex="on"``): time from start until every guild's first
  status is in the store, its sockets (``/proc/self/fd``) and RSS then;
- the floor for time: raw httpx-sse reading ``GET /api/v1/guilds/status/stream`` until every
  guild has had a ``status`` event;
- the floor for memory: the bare engine (the same imports and a store of the same guilds, no
  stream, in a running event loop), so that RSS minus it over the guild count is what watching
  costs per guild, and its sockets (the loop's self-pipe) are not counted as the engine's.

Linux only (reads ``/proc``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import time

from bench._report import Figure, Row
from bench._servers import ServerThread, bench_config, bench_guild_ids
from bench.many_guilds import own_rss_mib, own_sockets

NAME = "shared_stream"
COUNTS = (10_000, 100_000)
TIMEOUT = 120.0


def _guild_ids(url: str, token: str) -> list[str]:
    import httpx

    answer = httpx.get(
        f"{url}/api/v1/guilds", headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    return [guild["id"] for guild in answer.json()["guilds"]]


async def _engine(url: str, token: str, guilds: list[str]) -> dict[str, float]:
    from guildwatch.engine import Engine, EngineSettings
    from guildwatch.store import StatusStore

    store = StatusStore()
    store.add_guilds(guilds)
    engine = Engine(EngineSettings(api_url=url, token=token, multiplex="on"), store)
    started = time.monotonic()
    task = asyncio.create_task(engine.run())
    async with asyncio.timeout(TIMEOUT):
        while not all(s.status is not None for s in store.snapshots()):
            await asyncio.sleep(0.05)
    elapsed = time.monotonic() - started
    figures = {"seconds": elapsed, "rss_mib": own_rss_mib(), "sockets": own_sockets()}
    await engine.stop()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return figures


async def _bare(guilds: list[str]) -> dict[str, float]:
    from guildwatch.engine import Engine, EngineSettings  # noqa: F401  (the same imports)
    from guildwatch.store import StatusStore

    store = StatusStore()
    store.add_guilds(guilds)
    return {"rss_mib": own_rss_mib(), "sockets": own_sockets()}


async def _raw(url: str, token: str, guilds: list[str]) -> dict[str, float]:
    import httpx
    from httpx_sse import aconnect_sse

    wanted = set(guilds)
    seen: set[str] = set()
    started = time.monotonic()
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(60), trust_env=False) as client,
        aconnect_sse(
            client,
            "GET",
            f"{url}/api/v1/guilds/status/stream",
            headers={"Authorization": f"Bearer {token}"},
        ) as source,
    ):
        async with asyncio.timeout(TIMEOUT):
            async for event in source.aiter_sse():
                if event.event == "status":
                    seen.add(json.loads(event.data)["guild"])
                    if wanted <= seen:
                        break
    return {"seconds": time.monotonic() - started}


def _child(args: argparse.Namespace) -> int:
    token = os.environ["BENCH_TOKEN"]
    guilds = _guild_ids(args.url, token)
    kinds = {"engine": _engine(args.url, token, guilds), "raw": _raw(args.url, token, guilds)}
    if args.kind == "bare":
        result = asyncio.run(_bare(guilds))
    else:
        result = asyncio.run(kinds.pop(args.kind))
    for leftover in kinds.values():
        leftover.close()
    print(json.dumps(result), flush=True)
    return 0


def measure(guilds: int) -> dict[str, dict[str, float]]:
    """One server child; the engine, raw and bare children against it in turn."""
    token = "bench-" + secrets.token_hex(8)
    env = {**os.environ, "GUILDWATCH_SERVER_TOKENS": token, "BENCH_TOKEN": token}
    server_argv = [
        sys.executable, "-m", "guildwatch.server.main", "--port", "0", "--db", ":memory:",
        "--simulate", "--guilds", str(guilds), "--sim-period", "600",
        "--offline-after", "3600", "--max-streams-per-token", "100",
    ]  # fmt: skip
    server = subprocess.Popen(server_argv, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().rsplit(" ", 1)[1].strip()
        results: dict[str, dict[str, float]] = {}
        for kind in ("raw", "engine", "bare"):
            child = subprocess.run(
                [sys.executable, "-m", "bench.shared_stream", "--child", "--url", url,
                 "--kind", kind],
                capture_output=True, text=True, env=env, timeout=TIMEOUT + 60,
            )  # fmt: skip
            if child.returncode != 0:
                raise RuntimeError(f"{kind} child failed: {child.stderr[-2000:]}")
            results[kind] = json.loads(child.stdout.strip().splitlines()[-1])
        return results
    finally:
        server.terminate()
        server.wait(30)


RETRY_SECONDS = 3.0
"""The reference server's default ``retry:`` (ms / 1000): the reconnect's floor."""
JITTER = 0.5
"""The engine's default: up to 50 % added to each delay."""


async def _restart(guilds: int) -> tuple[float, float]:
    """The engine on the shared stream; the server (a thread here, restartable on the same
    port, every request counted by an ASGI wrapper) stopped and started again. Returns the
    seconds from the restart until every guild is connected again, and the requests the
    server saw meanwhile."""
    from guildwatch.engine import Engine, EngineSettings
    from guildwatch.store import StatusStore

    ids = bench_guild_ids(guilds)
    with ServerThread(bench_config(ids, max_streams_per_token=100)) as server:
        store = StatusStore()
        store.add_guilds(ids)
        engine = Engine(
            EngineSettings(api_url=server.url, token=server.token, multiplex="on"), store
        )
        task = asyncio.create_task(engine.run())
        try:
            async with asyncio.timeout(TIMEOUT):
                while not all(s.connection == "connected" for s in store.snapshots()):
                    await asyncio.sleep(0.05)
                await asyncio.to_thread(server.stop)
                while any(s.connection == "connected" for s in store.snapshots()):
                    await asyncio.sleep(0.01)
                server.counter.reset()
                await asyncio.to_thread(server.start)
                restarted = time.monotonic()
                while not all(s.connection == "connected" for s in store.snapshots()):
                    await asyncio.sleep(0.01)
                back = time.monotonic() - restarted
                await asyncio.sleep(0.5)  # a request still under way would show up now
        finally:
            await engine.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return back, float(sum(server.counter.requests.values()))


def run(runs: int, counts: tuple[int, ...] = COUNTS, restart_guilds: int = 10_000) -> list[Row]:
    """The rows for :mod:`bench`: per count, time to all statuses, sockets, RSS, per guild."""
    rows: list[Row] = []
    for count in counts:
        samples = [measure(count) for _ in range(runs)]
        engine_s = Figure.of([s["engine"]["seconds"] for s in samples])
        raw_s = Figure.of([s["raw"]["seconds"] for s in samples])
        within = 2.0 if count <= 10_000 else 15.0
        rows.append(
            Row(
                NAME,
                f"{count:,} guilds: every first status in the store",
                "s",
                engine_s,
                "raw httpx-sse on the shared stream",
                raw_s,
                f"<= {within:g} s",
                engine_s.median <= within,
            )
        )
        # The bare engine's sockets are the event loop's own self-pipe (a socketpair).
        sockets = Figure.of([s["engine"]["sockets"] - s["bare"]["sockets"] for s in samples])
        rows.append(
            Row(
                NAME,
                f"{count:,} guilds: sockets to the server",
                "",
                sockets,
                "-",
                None,
                "1",
                sockets.high <= 1,
            )
        )
        rss = Figure.of([s["engine"]["rss_mib"] for s in samples])
        bare = Figure.of([s["bare"]["rss_mib"] for s in samples])
        rows.append(
            Row(
                NAME,
                f"{count:,} guilds: RSS, headless",
                "MiB",
                rss,
                "bare engine (store, no stream)",
                bare,
                "<= 1024 MiB",
                rss.high <= 1024,
            )
        )
        per_guild = Figure.of(
            [(s["engine"]["rss_mib"] - s["bare"]["rss_mib"]) * 1024 / count for s in samples]
        )
        rows.append(
            Row(
                NAME,
                f"{count:,} guilds: memory per guild over the bare engine",
                "KiB",
                per_guild,
                "-",
                None,
                "<= 10 KiB",
                per_guild.median <= 10,
            )
        )
    restarts = [asyncio.run(_restart(restart_guilds)) for _ in range(runs)]
    limit = RETRY_SECONDS * (1 + JITTER)
    back = Figure.of([seconds for seconds, _ in restarts])
    requests = Figure.of([count for _, count in restarts])
    rows += [
        Row(
            NAME,
            f"server restart, {restart_guilds:,} guilds on the shared stream: all back",
            "s",
            back,
            "-",
            None,
            f"<= retry: + jitter ({limit:g} s)",
            back.high <= limit + 1,
        ),
        Row(
            NAME,
            f"server restart, {restart_guilds:,} guilds: requests the server saw",
            "requests",
            requests,
            "-",
            None,
            "1",
            requests.high <= 1,
            "counted by an ASGI wrapper around the server in a thread of the bench process "
            "(the server's /metrics has no request counter)",
        ),
    ]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.shared_stream", description=__doc__)
    parser.add_argument("--counts", default=",".join(map(str, COUNTS)))
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--restart-guilds", type=int, default=10_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--kind", default="engine", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    counts = tuple(int(text) for text in args.counts.split(","))
    for row in run(args.runs, counts, args.restart_guilds):
        floor = row.floor.render(row.unit) if row.floor else "-"
        print(f"{row.metric}: {row.guildwatch.render(row.unit)} | floor {floor} | {row.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
