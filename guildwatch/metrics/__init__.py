"""Prometheus metrics of a running watcher, read from the status store at scrape time.

Nothing is counted per event here: a custom collector walks the store's snapshots and its
per-guild counters when Prometheus asks, so a quiet scrape interval costs nothing and a
burst of events costs the store one integer add each. Labels are ``guild`` (the id) and
``name`` (the display name, empty while unknown); the token is never part of any of it.

``guildwatch_guild_up`` is absent while a guild's health is unknown (no valid status yet):
a 0 would say "the bot is down" before anything is known, and every restart of guildwatch
would page someone. ``guildwatch_guild_connection_state`` says why it is unknown.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple, get_args
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, ThreadingWSGIServer
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from guildwatch.store import BotStatus, ConnectionState, GuildSnapshot, Source, StatusStore

STATES: tuple[ConnectionState, ...] = get_args(ConnectionState)
SOURCES: tuple[Source, ...] = get_args(Source)
_LABELS = ["guild", "name"]


class StoreCollector(Collector):
    """Every guild's state and totals, as Prometheus metric families."""

    def __init__(self, store: StatusStore) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        store = self._store
        up = GaugeMetricFamily(
            "guildwatch_guild_up",
            "1 when the bot is online in the guild, 0 when offline; absent while unknown",
            labels=_LABELS,
        )
        heartbeat = GaugeMetricFamily(
            "guildwatch_guild_last_heartbeat_timestamp_seconds",
            "When the bot last reported in, as the server says (Unix time)",
            labels=_LABELS,
        )
        latency = GaugeMetricFamily(
            "guildwatch_guild_latency_seconds",
            "The bot's gateway latency for the guild's shard; absent while not reported",
            labels=_LABELS,
        )
        state = GaugeMetricFamily(
            "guildwatch_guild_connection_state",
            "1 for the guild's current connection state, 0 for the others",
            labels=[*_LABELS, "state"],
        )
        source = GaugeMetricFamily(
            "guildwatch_guild_source",
            "1 for where the shown status came from (stream or poll); absent before any",
            labels=[*_LABELS, "source"],
        )
        reconnects = CounterMetricFamily(
            "guildwatch_reconnects",
            "Times the guild was connected again after its first connection",
            labels=_LABELS,
        )
        polls = CounterMetricFamily(
            "guildwatch_polls", "Polls that returned a valid status", labels=_LABELS
        )
        events = CounterMetricFamily(
            "guildwatch_events", "Valid status events received on the stream", labels=_LABELS
        )
        # tuple(): one atomic copy, so a guild added meanwhile cannot break the iteration.
        for snapshot in store.snapshots():
            labels = [snapshot.guild_id, snapshot.name or ""]
            status = snapshot.status
            if status is not None:
                up.add_metric(labels, 1.0 if status.healthy else 0.0)
                if status.last_heartbeat is not None:
                    heartbeat.add_metric(labels, status.last_heartbeat.timestamp())
                if (seconds := _latency_seconds(status)) is not None:
                    latency.add_metric(labels, seconds)
            for name in STATES:
                state.add_metric([*labels, name], 1.0 if snapshot.connection == name else 0.0)
            if snapshot.source is not None:
                for where in SOURCES:
                    source.add_metric([*labels, where], 1.0 if snapshot.source == where else 0.0)
            counters = store.counters(snapshot.guild_id)
            reconnects.add_metric(labels, counters.reconnects)
            polls.add_metric(labels, counters.polls)
            events.add_metric(labels, counters.events)
        yield from (up, heartbeat, latency, state, source, reconnects, polls, events)


def _latency_seconds(status: BotStatus) -> float | None:
    # Only an online guild's latency is current: a bot that went offline keeps its last
    # report in the store, and a stale number would look like a live one on a dashboard.
    if not status.healthy or status.latency_ms is None:
        return None
    return status.latency_ms / 1000


def registry_for(store: StatusStore) -> CollectorRegistry:
    """A registry holding only the store's metrics (no process-wide defaults)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return registry


def _escape(value: str) -> str:
    # The text format's three escapes for label values (prometheus_client escapes the same).
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _GuildLines(NamedTuple):
    """One snapshot's lines per family; rebuilt only when the store replaces the snapshot."""

    snapshot: GuildSnapshot
    labels: str
    up: str
    heartbeat: str
    latency: str
    state: str
    source: str


def _lines(snapshot: GuildSnapshot) -> _GuildLines:
    labels = f'guild="{_escape(snapshot.guild_id)}",name="{_escape(snapshot.name or "")}"'
    status = snapshot.status
    up = heartbeat = latency = source = ""
    if status is not None:
        up = f"guildwatch_guild_up{{{labels}}} {1 if status.healthy else 0}\n"
        if status.last_heartbeat is not None:
            stamp = _go_float(status.last_heartbeat.timestamp())
            heartbeat = f"guildwatch_guild_last_heartbeat_timestamp_seconds{{{labels}}} {stamp}\n"
        if (seconds := _latency_seconds(status)) is not None:
            latency = f"guildwatch_guild_latency_seconds{{{labels}}} {_go_float(seconds)}\n"
    state = "".join(
        f'guildwatch_guild_connection_state{{{labels},state="{name}"}} '
        f"{1 if snapshot.connection == name else 0}\n"
        for name in STATES
    )
    if snapshot.source is not None:
        source = "".join(
            f'guildwatch_guild_source{{{labels},source="{name}"}} '
            f"{1 if snapshot.source == name else 0}\n"
            for name in SOURCES
        )
    return _GuildLines(snapshot, labels, up, heartbeat, latency, state, source)


def _go_float(value: float) -> str:
    text: str = floatToGoString(value)  # type: ignore[no-untyped-call]  # as the library prints
    return text


def _header(family: Metric) -> str:
    name = family.name + ("_total" if family.type == "counter" else "")
    return f"# HELP {name} {family.documentation}\n# TYPE {name} {family.type}\n"


class StoreExposition:
    """The same families as :class:`StoreCollector`, in the text format, fast.

    prometheus-client formats each sample anew (about 10 us each: 1 s for 10,000 guilds'
    110,000 samples, ``bench/metrics.py``). Here a guild's state lines are formatted once
    per snapshot (the store replaces a snapshot on every change, so identity says "changed")
    and only the counters are formatted per scrape. The collector stays the reference: a
    test checks that both say the same, and ``promtool check metrics`` checks this output.
    """

    def __init__(self, store: StatusStore) -> None:
        self._store = store
        self._cache: dict[str, _GuildLines] = {}
        families = list(StoreCollector(StatusStore()).collect())
        self._headers = [_header(family) for family in families]

    def render(self) -> bytes:
        """Every guild's series, grouped by family as the text format requires."""
        store, cache = self._store, self._cache
        up: list[str] = []
        heartbeat: list[str] = []
        latency: list[str] = []
        state: list[str] = []
        source: list[str] = []
        reconnects: list[str] = []
        polls: list[str] = []
        events: list[str] = []
        for snapshot in store.snapshots():
            lines = cache.get(snapshot.guild_id)
            if lines is None or lines.snapshot is not snapshot:
                lines = cache[snapshot.guild_id] = _lines(snapshot)
            up.append(lines.up)
            heartbeat.append(lines.heartbeat)
            latency.append(lines.latency)
            state.append(lines.state)
            source.append(lines.source)
            counters = store.counters(snapshot.guild_id)
            labels = lines.labels
            reconnects.append(f"guildwatch_reconnects_total{{{labels}}} {counters.reconnects}\n")
            polls.append(f"guildwatch_polls_total{{{labels}}} {counters.polls}\n")
            events.append(f"guildwatch_events_total{{{labels}}} {counters.events}\n")
        groups = (up, heartbeat, latency, state, source, reconnects, polls, events)
        text = "".join(
            header + "".join(group) for header, group in zip(self._headers, groups, strict=True)
        )
        # "replace": a server-sent name may hold a lone surrogate, which UTF-8 cannot carry.
        return text.encode(errors="replace")


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Scrapes every 15 s are not news; the default handler prints each to stderr."""


class MetricsServer:
    """``GET /metrics`` over HTTP in a daemon thread (prometheus-client's WSGI server class).

    A thread rather than the event loop: the screen's loop belongs to Textual, and a scrape
    must not wait for a busy frame.

    Raises:
        OSError: the address cannot be resolved or bound (port in use, not this host's).
    """

    def __init__(self, store: StatusStore, host: str, port: int) -> None:
        self._exposition = StoreExposition(store)
        self._lock = threading.Lock()  # concurrent scrapes share the cache
        server_class = type(
            "_Server", (ThreadingWSGIServer,), {"address_family": _family(host, port)}
        )
        self._httpd: WSGIServer = make_server(
            host, port, self._app, server_class, handler_class=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="guildwatch-metrics", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        """The bound port (useful after asking for port 0)."""
        return int(self._httpd.server_port)

    def _app(
        self, environ: dict[str, Any], start_response: Callable[..., object]
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") not in ("/metrics", "/"):
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"not found: try /metrics\n"]
        with self._lock:
            body = self._exposition.render()
        start_response(
            "200 OK",
            [("Content-Type", CONTENT_TYPE_PLAIN_0_0_4), ("Content-Length", str(len(body)))],
        )
        return [body]

    def close(self) -> None:
        """Stop serving and release the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def _family(host: str, port: int) -> socket.AddressFamily:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return infos[0][0]
