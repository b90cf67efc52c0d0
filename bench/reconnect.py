"""Reconnect: restart the server; time until every guild is connected again, requests per
guild the server saw, and how the reconnects spread over time (no thundering herd).

The reference server runs in a thread of this process (restartable on the same port, every
request counted by :class:`bench._servers.RequestCounter`); ``guildwatch`` watches ``guilds``
guilds from an 80x24 pty. One run (a fresh ``guildwatch`` each): wait until every guild has an
open stream, stop the server (every stream ends cleanly), start it again at once, and wait until
every guild has an open stream again. Each stream ends with the server's ``retry: 3000``, which
raises the backoff floor to 3 s; jitter adds up to 50 %, so the reconnects should spread over
about 1.5 s.
"""

from __future__ import annotations

import time

from bench._command import command_name, guildwatch
from bench._pty import PtyProgram
from bench._report import Figure, Row
from bench._servers import ServerThread, bench_config, bench_guild_ids

NAME = "reconnect"
DEFAULT_GUILDS = 100
RETRY_SECONDS = 3.0
"""The reference server's default ``retry:`` (ms / 1000): the first reconnect's floor."""
JITTER = 0.5
"""The engine's default: up to 50 % added to each delay."""
SPREAD_SHARE = 0.9
"""A sample of guilds never spans the whole window exactly: 90 % of it counts as spread."""


def _wait_connected(server: ServerThread, program: PtyProgram, count: int, timeout: float) -> float:
    """When ``count`` guilds have an open stream; drains the pty meanwhile.

    Draining matters: a terminal nobody reads fills the pty buffer, guildwatch's writes block,
    and its event loop with them (this once made 100 guilds look 8 s slow to reconnect).
    """
    deadline = time.perf_counter() + timeout
    while server.counter.connected() < count:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{server.counter.connected()} of {count} guilds reconnected")
        program.read_for(0.005)
    return time.perf_counter()


def run(runs: int, guilds: int = DEFAULT_GUILDS) -> list[Row]:
    ids = bench_guild_ids(guilds)
    to_all: list[float] = []
    per_guild: list[float] = []
    streams_per_guild: list[float] = []
    spreads: list[float] = []
    downs: list[float] = []
    with ServerThread(bench_config(ids)) as server:
        argv, env = guildwatch(server.url, server.token, ids)
        for _ in range(runs):
            # A fresh guildwatch each run: restarts seconds apart would rightly count as a
            # flapping server (the attempt counter resets only after 60 s up) and back off more.
            with PtyProgram(argv, env=env, columns=120, rows=40) as program:
                program.wait_for(b"Online" if guilds == 1 else b"Offline", timeout=60)
                _wait_connected(server, program, guilds, 60)
                stopping = time.perf_counter()
                server.stop()
                server.counter.reset()
                server.start()
                restarted = time.perf_counter()
                done = _wait_connected(server, program, guilds, 60)
                program.read_for(0.2)
            to_all.append(done - restarted)
            downs.append(restarted - stopping)
            requests = sum(server.counter.requests[g] for g in ids)
            per_guild.append(requests / guilds)
            streams = sum(len(server.counter.stream_starts[g]) for g in ids)
            streams_per_guild.append(streams / guilds)
            firsts = [min(server.counter.stream_starts[g]) for g in ids]
            spreads.append(max(firsts) - min(firsts))
    window = RETRY_SECONDS * JITTER
    spread = Figure.of(spreads)
    per = Figure.of(per_guild)
    return [
        Row(
            NAME,
            "server down (graceful stop, then start on the same port)",
            "s",
            Figure.of(downs),
            "-",
            None,
            "report",
            None,
        ),
        Row(
            NAME,
            f"server back up to all {guilds} guilds connected",
            "s",
            Figure.of(to_all),
            "-",
            None,
            f"about retry: + jitter (<= {RETRY_SECONDS * (1 + JITTER):g} s)",
            max(to_all) <= RETRY_SECONDS * (1 + JITTER) + 1,
        ),
        Row(
            NAME,
            "requests the server saw per guild",
            "requests",
            per,
            "-",
            None,
            "1 (one stream, no retry storm)",
            per.high <= 1.0,
        ),
        Row(
            NAME,
            "of which stream requests per guild",
            "requests",
            Figure.of(streams_per_guild),
            "-",
            None,
            "1",
            max(streams_per_guild) <= 1.0,
        ),
        Row(
            NAME,
            "spread of the first reconnects (last - first)",
            "s",
            spread,
            "-",
            None,
            f">= jitter window ({window:g} s)",
            spread.median >= SPREAD_SHARE * window,
            f"reconnect: {command_name()} with {guilds} guilds against the reference server "
            "in a thread, counting requests in an ASGI wrapper; met = spread >= "
            f"{SPREAD_SHARE:.0%} of the window (a finite sample of uniform jitter).",
        ),
    ]
