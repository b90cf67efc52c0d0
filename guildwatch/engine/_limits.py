"""Connection limits for many guilds: the stream pool's size, and the process's open files.

HTTP/1.1 carries one stream per connection, so the stream pool must hold one connection per
guild (plus a margin for a dying connection still counted while its replacement opens), and
the process must be allowed that many sockets.

HTTP/2 multiplexes, but httpcore 1.0 caps a connection at 100 concurrent streams (its own
SETTINGS) and its pool never opens a second connection for more: stream 101 waits on a
semaphore for ever (read in ``httpcore/_async/http2.py``: ``is_available`` ignores the stream
count; encode/httpx#1414). Long-lived SSE streams never free a slot, so the engine gives each
group of 100 guilds its own client (:func:`stream_shards`): 1,000 guilds = 10 connections.
"""

from __future__ import annotations

import logging
import math

import httpx

log = logging.getLogger("guildwatch.engine")

POOL_FLOOR = 100
"""The pool holds at least this many, so guilds added after the engine was made still fit."""
POOL_MARGIN = 16
H2_STREAMS_PER_CONNECTION = 100
"""httpcore's own cap, and what most servers allow (RFC 9113 recommends at least 100)."""
_FILES_MARGIN = 64
"""Open files besides the streams: the poll pool, log file, terminal, Python's own."""


def stream_shards(guilds: int) -> int:
    """HTTP/2 stream clients needed for ``guilds`` streams (each carries up to 100)."""
    return max(1, math.ceil(guilds / H2_STREAMS_PER_CONNECTION))


def stream_limits(guilds: int, *, http2: bool) -> httpx.Limits:
    """Pool limits for one stream client (HTTP/2: one shard of up to 100 guilds)."""
    # HTTP/2: one connection, plus room for its replacement while a dead one is closing.
    connections = 1 + 2 if http2 else max(guilds, POOL_FLOOR) + POOL_MARGIN
    return httpx.Limits(max_connections=connections, max_keepalive_connections=connections)


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
