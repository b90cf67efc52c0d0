"""Connection limits for many guilds: the stream pool's size, and the process's open files.

HTTP/1.1 carries one stream per connection, so the stream pool must hold one connection per
guild (plus a margin for a dying connection still counted while its replacement opens), and
the process must be allowed that many sockets. HTTP/2 multiplexes: httpcore opens another
connection only when one is full (servers commonly allow 100 concurrent streams).
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
"""What most servers allow (RFC 9113 recommends at least 100); h2's own default too."""
_FILES_MARGIN = 64
"""Open files besides the streams: the poll pool, log file, terminal, Python's own."""


def stream_limits(guilds: int, *, http2: bool) -> httpx.Limits:
    """Pool limits for the stream client watching ``guilds`` guilds."""
    streams = max(guilds, POOL_FLOOR)
    if http2:
        connections = math.ceil(streams / H2_STREAMS_PER_CONNECTION) + POOL_MARGIN
    else:
        connections = streams + POOL_MARGIN
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
