"""A tiny raw HTTP/1.1 server over asyncio TCP, for byte-exact engine tests.

A test scripts each connection with an async handler that writes exact bytes at exact read
boundaries and ends the connection the way it wants: clean FIN, RST, a stall, a drip. The
server records every request (line and headers) so tests can check what the client sent.
Only what the engine needs is implemented: one request per connection, no request bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field

EVENT_STREAM_HEAD = (("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"))


@dataclass
class Request:
    """One request as received."""

    method: str
    target: str
    headers: dict[str, str] = field(default_factory=dict)
    """Header names lower-cased; a repeated header keeps its last value."""
    received_at: float = field(default_factory=time.monotonic)
    """``time.monotonic()`` when the request head was complete."""


class Conn:
    """One accepted connection, handed to the test's handler."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: Request,
        index: int,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.request = request
        self.index = index
        """0 for the first request to this target (path) on this server, 1 for the next, ..."""

    async def head(
        self,
        status: int = 200,
        headers: Sequence[tuple[str, str]] = EVENT_STREAM_HEAD,
        *,
        reason: str = "Whatever",
        keep_alive: bool = False,
    ) -> None:
        """Send a status line and headers; without a length the body runs until the end."""
        lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers)]
        if not keep_alive:
            lines.append("Connection: close")
        await self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    async def respond(
        self,
        status: int,
        body: bytes = b"",
        headers: Sequence[tuple[str, str]] = (),
        *,
        keep_alive: bool = False,
    ) -> None:
        """A complete response with Content-Length, then a clean close (or, with
        ``keep_alive``, the connection left open for the client to reuse or close)."""
        head = [*headers, ("Content-Length", str(len(body)))]
        await self.head(status, head, keep_alive=keep_alive)
        await self.send(body)
        if keep_alive:
            await self.hold()
        await self.close()

    async def send(self, data: bytes) -> None:
        """Write bytes and wait until the kernel took them (one write = one read, usually)."""
        self.writer.write(data)
        await self.writer.drain()

    async def drip(self, data: bytes, interval: float) -> None:
        """Write one byte at a time, ``interval`` seconds apart."""
        for i in range(len(data)):
            await self.send(data[i : i + 1])
            await asyncio.sleep(interval)

    async def close(self) -> None:
        """Clean end (FIN)."""
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()

    def reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0), not a FIN."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def hold(self) -> None:
        """Keep the connection open, sending nothing, until the client leaves or the test ends."""
        await self.reader.read()


Handler = Callable[[Conn], Coroutine[object, object, None]]


class RawServer:
    """``async with RawServer(handler) as server:`` listens on 127.0.0.1, a free port."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._accepting: set[asyncio.Task[object]] = set()
        self.handler_errors: list[BaseException] = []
        """Unexpected exceptions from handlers (a broken test script), checked at exit."""
        self._writers: set[asyncio.StreamWriter] = set()
        self._request_seen = asyncio.Condition()
        self.port = 0

    @property
    def url(self) -> str:
        """Base URL (the engine's ``api_url``)."""
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        for writer in self._writers:
            writer.transport.abort()
        if self._tasks or self._accepting:
            await asyncio.wait([*self._tasks, *self._accepting], timeout=10)
        await self._server.wait_closed()
        if self.handler_errors and exc_info[0] is None:
            raise AssertionError(f"raw server handler failed: {self.handler_errors[0]!r}")

    @property
    def stream_requests(self) -> list[Request]:
        """The requests for an SSE stream (polls left out)."""
        return [r for r in self.requests if r.target.endswith("/status/stream")]

    @property
    def poll_requests(self) -> list[Request]:
        """The polls (``GET .../status``)."""
        return [r for r in self.requests if r.target.endswith("/status")]

    async def wait_requests(self, count: int, timeout: float = 10.0) -> list[Request]:
        """Wait until at least ``count`` requests arrived; return them all."""
        async with asyncio.timeout(timeout), self._request_seen:
            await self._request_seen.wait_for(lambda: len(self.requests) >= count)
        return list(self.requests)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The handler runs in its own task so teardown can cancel it: cancelling the task
        # asyncio.start_server made would log an error in Python 3.11 (streams.py callback).
        self._writers.add(writer)
        outer = asyncio.current_task()
        assert outer is not None
        outer.set_name("rawserver-accept")
        self._accepting.add(outer)
        try:
            request = await _read_request(reader)
            if request is None:
                return
            async with self._request_seen:
                index = sum(1 for r in self.requests if r.target == request.target)
                self.requests.append(request)
                self._request_seen.notify_all()
            inner = asyncio.create_task(
                self.handler(Conn(reader, writer, request, index)), name="rawserver-handler"
            )
            self._tasks.add(inner)
            await asyncio.wait([inner])
            self._tasks.discard(inner)
            exc = None if inner.cancelled() else inner.exception()
            if exc is not None and not isinstance(
                exc, ConnectionError | asyncio.IncompleteReadError
            ):
                self.handler_errors.append(exc)
        finally:
            writer.close()
            self._writers.discard(writer)
            self._accepting.discard(outer)


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    request = Request(method, target)
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            request.headers[name.strip().lower()] = value.strip()
    return request
