"""Connection limits for many guilds: how streams are spread over clients, and open files.

HTTP/1.1 carries one stream per connection, so every stream needs its own connection, and the
process must be allowed that many sockets. One pool must not hold them all: httpcore 1.0's
pool scans every connection it has on each request (``_assign_requests_to_connections``,
``can_handle_request`` per connection), so n streams in one pool cost O(n^2). With 10,000
guilds in one pool the event loop was saturated before 500 streams were open (py-spy: 80 % of
the time in the pool); so the engine gives each group of 100 guilds its own client
(:func:`stream_shards`), which bounds each scan at ~100.

HTTP/2 multiplexes, but httpcore 1.0 caps a connection at 100 concurrent streams (its own
SETTINGS) and its pool never opens a second connection for more: stream 101 waits on a
semaphore for ever (read in ``httpcore/_async/http2.py``: ``is_available`` ignores the stream
count; encode/httpx#1414). Long-lived SSE streams never free a slot, so there too each group of
100 guilds gets its own client: 1,000 guilds = 10 connections.
"""

from __future__ import annotations

import logging
import math

import httpx

log = logging.getLogger("guildwatch.engine")

POOL_MARGIN = 16
"""Room in an HTTP/1.1 pool for connections still closing while their replacements open."""
H2_CONNECTIONS_PER_CLIENT = 3
"""HTTP/2: one connection, plus room for its replacement while a dead one is closing."""
STREAMS_PER_CLIENT = 100
"""Guilds per stream client: HTTP/2's per-connection cap, and a short HTTP/1.1 pool scan."""
_FILES_MARGIN = 64
"""Open files besides the streams: the poll pool, log file, terminal, Python's own."""


def stream_shards(guilds: int) -> int:
    """Stream clients needed for ``guilds`` streams (each client carries up to 100)."""
    return max(1, math.ceil(guilds / STREAMS_PER_CLIENT))


def stream_limits(*, http2: bool) -> httpx.Limits:
    """Pool limits for one stream client (one shard of up to 100 guilds)."""
    if http2:
        connections = H2_CONNECTIONS_PER_CLIENT
        return httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    # HTTP/1.1: one connection per stream. Guilds added after the engine was built land on
    # the existing shards, so no HTTP/1.1 pool is capped: a capped pool would queue a stream
    # behind streams that never end.
    return httpx.Limits(
        max_connections=None, max_keepalive_connections=STREAMS_PER_CLIENT + POOL_MARGIN
    )


def stream_sockets(guilds: int, *, http2: bool) -> int:
    """The most sockets the stream clients of ``guilds`` guilds can hold at once."""
    if http2:
        return stream_shards(guilds) * H2_CONNECTIONS_PER_CLIENT
    return guilds + POOL_MARGIN


def raise_open_files_limit(sockets: int) -> None:
    """Raise the soft RLIMIT_NOFILE toward the hard limit if ``sockets`` would not fit.

    Many systems start processes with a soft limit of 1,024 open files: a thousand HTTP/1.1
    streams would then fail with EMFILE ("Too many open files"). Never lowers it; a hard limit
    too small is logged, and the guilds over it show their connection errors as usual.
    """
    try:
        import resource
    except ImportError:  # not on POSIX: nothing to raise
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = sockets + _FILES_MARGIN
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < wanted:
        log.warning(
            "open files limited to %d: fewer than the %d sockets these guilds need", hard, wanted
        )
