"""Metrics: one Prometheus scrape of ``guildwatch --metrics`` watching 10,000 guilds.

The store is filled in-process (10,000 guilds, every one with a status, a tenth of them
changed between scrapes, as a busy watcher would be) and served by the real
:class:`MetricsServer`; each scrape is a real HTTP GET over loopback, timed from request to
last byte.

- warm scrape: the usual case, state lines cached per snapshot, a tenth re-formatted;
- cold scrape: the first scrape after start, every line formatted;
- floor: the same bytes, pre-rendered, from the same threaded WSGI server: HTTP and copying
  alone;
- prometheus-client: its ``generate_latest`` over the same families (``StoreCollector``),
  in-process, no HTTP: why the served rendering is not prometheus-client's own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from wsgiref.simple_server import make_server

import httpx
from prometheus_client import generate_latest
from prometheus_client.exposition import ThreadingWSGIServer

from bench._report import Figure, Row
from guildwatch.metrics import MetricsServer, _QuietHandler, registry_for
from guildwatch.store import BotStatus, StatusStore

NAME = "metrics"
DEFAULT_GUILDS = 10_000
TARGET_MS = 250.0
""""Well under a second": a quarter of one, on the 2-core bench machine."""


def filled_store(guilds: int) -> StatusStore:
    store = StatusStore()
    now = datetime.now(UTC)
    for number in range(guilds):
        guild_id = str(900_000_000_000_000_000 + number)
        store.add_guild(guild_id, name=f"Guild {number}")
        store.set_connection(guild_id, "connected")
        store.apply_status(guild_id, BotStatus(number % 7 != 0, now, "1.0"), source="stream")
    return store


def churn(store: StatusStore, round_number: int) -> None:
    """A tenth of the guilds change (new heartbeat, new event) between two scrapes."""
    ids = store.guild_ids
    now = datetime.now(UTC)
    for guild_id in ids[round_number % 10 :: 10]:
        store.apply_status(guild_id, BotStatus(True, now, "1.1"), source="stream")


def _timed_get(client: httpx.Client, url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    body = client.get(url).content
    return (time.perf_counter() - started) * 1000, body


class _StaticServer:
    """The floor: a fixed body from the same server class, in a thread."""

    def __init__(self, body: bytes) -> None:
        def app(environ: dict[str, Any], start: Callable[..., object]) -> Iterable[bytes]:
            start("200 OK", [("Content-Length", str(len(body)))])
            return [body]

        self.httpd = make_server("127.0.0.1", 0, app, ThreadingWSGIServer, _QuietHandler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def run(runs: int, guilds: int = DEFAULT_GUILDS) -> list[Row]:
    warm: list[float] = []
    cold: list[float] = []
    floor: list[float] = []
    library: list[float] = []
    size = 0
    with httpx.Client(timeout=60) as client:
        for round_number in range(runs):
            store = filled_store(guilds)
            server = MetricsServer(store, "127.0.0.1", 0)
            url = f"http://127.0.0.1:{server.port}/metrics"
            try:
                elapsed, body = _timed_get(client, url)
                cold.append(elapsed)
                churn(store, round_number)
                elapsed, body = _timed_get(client, url)
                warm.append(elapsed)
                size = len(body)
            finally:
                server.close()
            static = _StaticServer(body)
            try:
                floor.append(_timed_get(client, f"http://127.0.0.1:{static.httpd.server_port}/")[0])
            finally:
                static.close()
            started = time.perf_counter()
            generate_latest(registry_for(store))
            library.append((time.perf_counter() - started) * 1000)
    warm_figure, floor_figure = Figure.of(warm), Figure.of(floor)
    note = (
        f"metrics: {guilds:,} guilds, {size / 2**20:.1f} MiB per scrape, 11 series per guild; "
        "a tenth of the guilds changed between the cold and the warm scrape."
    )
    what = f"scrape of {guilds:,} guilds, warm"
    return [
        Row(
            NAME,
            what,
            "ms",
            warm_figure,
            "same bytes pre-rendered",
            floor_figure,
            f"< {TARGET_MS:g} ms",
            warm_figure.median < TARGET_MS,
            note,
        ),
        Row(
            NAME,
            f"scrape of {guilds:,} guilds, cold (first)",
            "ms",
            Figure.of(cold),
            "same bytes pre-rendered",
            floor_figure,
            "< 1000 ms",
            Figure.of(cold).median < 1000,
        ),
        Row(
            NAME,
            "prometheus-client generate_latest, same families",
            "ms",
            Figure.of(library),
            "-",
            None,
            "-",
            None,
        ),
    ]
