"""``GET /metrics`` of the reference server: streams, heartbeats, events, refusals.

Counted where they happen (a stream opening and closing, an event written to a stream) or
read off the responses by a small ASGI middleware (401s, 429s, accepted heartbeats), so the
routes need no metrics code of their own. Rendered by prometheus-client at scrape time.

Access: with a metrics token (``--metrics-token-file`` / ``GUILDWATCH_SERVER_METRICS_TOKEN``)
every scrape must send it as a bearer token; without one, only loopback clients may scrape,
so a server bound to a public address does not hand its guild list to anyone who asks.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector, CollectorRegistry
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from guildwatch.server._auth import bearer_token
from guildwatch.server._http import UNAUTHORIZED_HEADERS, error_response
from guildwatch.server._model import SharedSubscriber

_HEARTBEAT_PATH = re.compile(r"/api/v1/guilds/([A-Za-z0-9._-]{1,100})/heartbeat")


@dataclass(slots=True)
class ServerMetrics:
    """The server's running numbers; plain counters, bumped on the event loop."""

    open_streams: Counter[str] = field(default_factory=Counter)
    """Open streams per guild (kept at 0 after the last one closes: a gauge, not a gap)."""
    heartbeats: Counter[str] = field(default_factory=Counter)
    """Accepted bot heartbeats per guild."""
    events_sent: Counter[str] = field(default_factory=Counter)
    """Events written to streams per guild (one per stream: a fan-out to 3 streams is 3)."""
    rate_limited: int = 0
    """429 answers (the per-token stream limit, or an injected fault)."""
    auth_failures: int = 0
    """401 answers: a missing or wrong client, bot or metrics token."""
    shared_events_sent: int = 0
    """Status events written to shared streams (one per stream), in total: per guild would
    cost a counter update per guild and stream on every 100,000-guild round."""
    shared_dropped: int = 0
    """Shared streams dropped because the client fell too far behind or stopped reading."""


class _Collector(Collector):
    def __init__(self, metrics: ServerMetrics, shared: Collection[SharedSubscriber]) -> None:
        self._metrics = metrics
        self._shared = shared

    def collect(self) -> Iterator[Metric]:
        metrics = self._metrics
        streams = GaugeMetricFamily(
            "guildwatch_server_open_streams", "Open event streams per guild", labels=["guild"]
        )
        for guild_id, count in sorted(metrics.open_streams.items()):
            streams.add_metric([guild_id], count)
        yield streams
        yield GaugeMetricFamily(
            "guildwatch_server_open_streams_all_guilds",
            "Open event streams in total",
            value=sum(metrics.open_streams.values()),
        )
        for name, documentation, counts in (
            ("heartbeats_received", "Bot heartbeats accepted per guild", metrics.heartbeats),
            ("events_sent", "Events written to streams per guild", metrics.events_sent),
        ):
            family = CounterMetricFamily(
                f"guildwatch_server_{name}", documentation, labels=["guild"]
            )
            for guild_id, count in sorted(counts.items()):
                family.add_metric([guild_id], count)
            yield family
        shared = list(self._shared)
        yield GaugeMetricFamily(
            "guildwatch_server_open_shared_streams",
            "Open shared streams (every guild on one stream)",
            value=len(shared),
        )
        yield GaugeMetricFamily(
            "guildwatch_server_shared_stream_pending_max",
            "Events queued for the furthest-behind open shared stream",
            value=max((subscriber.pending for subscriber in shared), default=0),
        )
        yield CounterMetricFamily(
            "guildwatch_server_shared_events_sent",
            "Status events written to shared streams (one per stream)",
            value=metrics.shared_events_sent,
        )
        yield CounterMetricFamily(
            "guildwatch_server_shared_streams_dropped",
            "Shared streams dropped because the client fell behind or stopped reading",
            value=metrics.shared_dropped,
        )
        yield CounterMetricFamily(
            "guildwatch_server_rate_limited",
            "Answers with status 429 (too many streams, or an injected fault)",
            value=metrics.rate_limited,
        )
        yield CounterMetricFamily(
            "guildwatch_server_auth_failures",
            "Answers with status 401 (missing or invalid token)",
            value=metrics.auth_failures,
        )


class CountResponses:
    """ASGI middleware: counts 401s, 429s and accepted heartbeats from the responses."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        metrics = self._metrics
        heartbeat = _HEARTBEAT_PATH.fullmatch(scope["path"]) if scope["method"] == "POST" else None

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                if status == 401:
                    metrics.auth_failures += 1
                elif status == 429:
                    metrics.rate_limited += 1
                elif status == 200 and heartbeat is not None:
                    metrics.heartbeats[heartbeat.group(1)] += 1
            await send(message)

        await self._app(scope, receive, counting)


def _is_loopback(request: Request) -> bool:
    host = request.client.host if request.client is not None else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class MetricsEndpoint:
    """``GET /metrics``: bearer token when one is configured, else loopback clients only."""

    def __init__(
        self,
        metrics: ServerMetrics,
        token: str | None,
        shared: Collection[SharedSubscriber] = (),
    ) -> None:
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(_Collector(metrics, shared))
        self._token = token

    async def handle(self, request: Request) -> Response:
        """The route (a bound method: Starlette would take an instance for an ASGI app)."""
        if self._token is not None:
            given = bearer_token(request.headers.get("authorization")) or ""
            if not hmac.compare_digest(given.encode(), self._token.encode()):
                return error_response(
                    401, "unauthorized", "missing or invalid metrics token", UNAUTHORIZED_HEADERS
                )
        elif not _is_loopback(request):
            return error_response(
                403,
                "forbidden",
                "metrics are served to loopback clients only; set a metrics token "
                "(--metrics-token-file) to scrape from another host",
            )
        return Response(generate_latest(self._registry), media_type=CONTENT_TYPE_PLAIN_0_0_4)
