"""A TCP proxy that a test controls, to put a bad network between guildwatch and the server.

It listens on 127.0.0.1 (port 0 unless given) and forwards to an upstream address, and can at
any time: add latency, cut bandwidth (down to a 1-byte drip), black-hole (accept and forward
nothing), reset connections (RST), close downstream after N more bytes (half-way through an
event), refuse connections (stop listening, so connects fail with ECONNREFUSED), accept and drop
every connection (read the request, close without an answer), and heal. It logs the request line
of every connection, so a test can count reconnect attempts per path and time them.

It runs in the test's own event loop; faults apply to the server-to-client direction, which is
where a stream consumer feels them (requests still go upstream unless black-holed).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
import time
from dataclasses import dataclass

_REQUEST_LINE = re.compile(rb"(?:GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH) \S+ HTTP/1\.[01]")


@dataclass
class Faults:
    """The faults in force; mutate through :class:`FaultProxy` methods."""

    latency: float = 0.0
    """Seconds added before each forwarded chunk."""
    bytes_per_second: float | None = None
    """Bandwidth cap downstream; None = unlimited."""
    blackhole: bool = False
    """Accept and keep connections open but forward nothing in either direction."""
    close_after: int | None = None
    """One shot: after this many more bytes downstream, close that connection (FIN)."""
    drop: bool = False
    """Accept each new connection, read its request line, then close it without an answer."""


@dataclass(frozen=True, slots=True)
class ProxiedRequest:
    """One connection's request line, as the proxy saw it."""

    at: float
    """``time.monotonic()`` when the request line arrived."""
    line: str
    """E.g. ``GET /api/v1/guilds/1/status/stream HTTP/1.1``."""

    @property
    def is_stream(self) -> bool:
        """Whether this was a request for an event stream (not a poll)."""
        parts = self.line.split(" ")
        return len(parts) > 1 and parts[1].endswith("/status/stream")


class FaultProxy:
    """Args:
    upstream_host: Where the real server listens.
    upstream_port: Its port.
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.faults = Faults()
        self.port = 0
        self.connections_accepted = 0
        self.requests: list[ProxiedRequest] = []
        """The request line of every connection that sent one, in arrival order."""
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """The base URL clients should use instead of the server's."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Listen (again, on the same port after :meth:`refuse`)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        await self.refuse()
        self.reset_all()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    # -- faults --------------------------------------------------------------------------

    def heal(self) -> None:
        """Clear every fault (a refused proxy must be started again with :meth:`start`)."""
        self.faults = Faults()

    def set_latency(self, seconds: float) -> None:
        self.faults.latency = seconds

    def set_bandwidth(self, bytes_per_second: float | None) -> None:
        self.faults.bytes_per_second = bytes_per_second

    def blackhole(self) -> None:
        self.faults.blackhole = True

    def close_after(self, byte_count: int) -> None:
        self.faults.close_after = byte_count

    def drop_connections(self) -> None:
        """Accept and drop every new connection (a server that crashes on each request)."""
        self.faults.drop = True

    def stream_requests(self, since: float = 0.0) -> list[ProxiedRequest]:
        """Stream requests (not polls) that arrived at or after ``since`` (monotonic)."""
        return [r for r in self.requests if r.is_stream and r.at >= since]

    async def refuse(self) -> None:
        """Stop listening: new connections are refused; open ones live on."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)
            self._server = None

    def reset_all(self) -> None:
        """Send RST on every open downstream connection (SO_LINGER 0, then close)."""
        for writer in list(self._writers):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        self._writers.clear()

    # -- forwarding ----------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_accepted += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            if self.faults.blackhole:
                await reader.read()  # hold the socket open, say nothing, until the client goes
                return
            if self.faults.drop:
                self._log(await reader.readline())
                return  # the finally below closes it: no status line, no bytes
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                writer.transport.abort()
                return
            upstream_task = asyncio.create_task(self._pump_up(reader, up_writer))
            try:
                await self._pump_down(up_reader, writer)
            finally:
                upstream_task.cancel()
                up_writer.transport.abort()
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # cancelled by stop(): a connection handler ends quietly, like the socket
        finally:
            self._writers.discard(writer)
            writer.transport.abort()
            self._tasks.discard(task)

    def _log(self, chunk: bytes) -> None:
        # Every request line in the chunk: keep-alive sends later requests on the same socket.
        for match in _REQUEST_LINE.finditer(chunk):
            self.requests.append(ProxiedRequest(time.monotonic(), match.group(0).decode("latin-1")))

    async def _pump_up(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while chunk := await reader.read(65536):
                self._log(chunk)
                if self.faults.blackhole:
                    continue
                writer.write(chunk)
                await writer.drain()

    async def _pump_down(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            rate = self.faults.bytes_per_second
            chunk = await reader.read(1 if rate is not None and rate < 1000 else 65536)
            if not chunk:
                writer.write_eof()
                return
            while self.faults.blackhole:
                await asyncio.sleep(0.05)
            if self.faults.latency:
                await asyncio.sleep(self.faults.latency)
            if self.faults.close_after is not None:
                allowed = self.faults.close_after
                self.faults.close_after = allowed - len(chunk)
                if len(chunk) >= allowed:
                    self.faults.close_after = None
                    writer.write(chunk[:allowed])
                    await writer.drain()
                    writer.close()  # FIN half-way through whatever was being sent
                    return
            writer.write(chunk)
            await writer.drain()
            if rate is not None:
                await asyncio.sleep(len(chunk) / rate)
