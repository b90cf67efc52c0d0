"""Engine settings: every timing the protocol names, in one frozen value.

The defaults come from ``guildwatch.defaults`` (the one table the CLI, ``--help`` and the
README read too). Tests shorten time by passing small values here (heartbeat timeout, backoff
base, poll interval), never by patching clocks or sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, cast

from guildwatch import defaults as d

DEFAULT_HEARTBEAT_TIMEOUT = d.HEARTBEAT_TIMEOUT.value
"""2.5 x the protocol's 30 s heartbeat: silence longer than this is a dead connection."""

DEFAULT_SKEW_TOLERANCE = d.CLOCK_SKEW_TOLERANCE.value
"""Seconds a ``lastHeartbeat`` may lie in the future (ordinary clock drift) without a warning."""

MAX_EVENT_BYTES = 1024 * 1024
"""One line/event larger than this aborts the connection (docs/protocol.md: 1 MiB)."""

Multiplex = Literal["auto", "on", "off"]
"""``auto``: the shared stream for more than one guild; ``on``: even for one; ``off``: never."""

DEFAULT_MULTIPLEX = cast(Multiplex, d.MULTIPLEX.value)


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """How the engine connects, waits and retries. All durations are in seconds."""

    api_url: str
    """Base URL such as ``http://127.0.0.1:8765`` (no trailing path, no credentials)."""
    token: str = field(repr=False)
    """Bearer token; kept out of ``repr`` so it cannot leak through logs or tracebacks."""
    heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT
    """Watchdog: silence (no headers, event or comment) allowed before reconnecting."""
    connect_timeout: float = d.CONNECT_TIMEOUT.value
    backoff_base: float = d.BACKOFF_BASE.value
    backoff_cap: float = d.BACKOFF_CAP.value
    backoff_jitter: float = d.BACKOFF_JITTER.value
    """Up to this fraction of the delay is added at random (jitter only adds)."""
    max_retries: int = d.MAX_RETRIES.value
    """Failed attempts in a row before the stream is in ``error`` (Connection lost)."""
    min_uptime_for_reset: float = d.MIN_UPTIME_FOR_RESET.value
    """A connection must live this long before the attempt counter resets."""
    poll_interval: float = d.POLL_INTERVAL.value
    """Polling period while the stream is down, across outages too: polls of one guild are
    never closer than this (an outage's first poll is immediate only if none ran lately)."""
    slow_retry: float = d.SLOW_RETRY.value
    """After giving up (``max_retries``) or a fatal answer (401/403/404): retry the stream
    this often, for ever, so a monitor recovers on its own; a manual retry is the fast path."""
    stream: bool = d.STREAM.value
    """False: never open the stream, poll only (``--no-stream``)."""
    max_event_bytes: int = MAX_EVENT_BYTES
    max_redirects: int = d.MAX_REDIRECTS.value
    start_jitter: float = 0.0
    """Spread the first connection of each guild over this many seconds (many guilds)."""
    http2: bool = d.HTTP2.value
    """Speak HTTP/2 (prior knowledge on ``http://``, ALPN on ``https://``): every guild's
    stream shares one connection. Needs the ``h2`` package (``guildwatch[http2]``)."""
    multiplex: Multiplex = DEFAULT_MULTIPLEX
    """Carry the guilds over the server's one shared stream (``GET .../guilds/status/stream``)
    instead of a stream each; a server without it gets per-guild streams (``--multiplex``)."""
    clock_skew_tolerance: float = DEFAULT_SKEW_TOLERANCE
    """A ``lastHeartbeat`` further in the future than this is flagged as clock skew."""
    watch_bot: bool = False
    """Also watch the bot as a whole (``/api/v1/bot/status``, optional on a server) into
    ``store.bot``: the screen's bot view and ``--watch --json`` read it."""


STAGGER_FROM = 50
"""Fewer guilds than this connect at once: no server minds, and nobody waits for nothing."""


def start_jitter_for(guilds: int) -> float:
    """How long to spread first connections over: 1 s per 100 guilds, at most 10 s.

    A thousand guilds are spread over 10 s, so the server sees ~100 new streams a second
    instead of a thousand in one millisecond (after a restart, backoff jitter spreads them).
    """
    return 0.0 if guilds < STAGGER_FROM else min(10.0, guilds / 100)
