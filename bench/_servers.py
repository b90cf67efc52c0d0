"""The reference server for benchmarks: as a ``guildwatch-server`` subprocess, or in a thread.

The subprocess is the default: it has its own interpreter and GIL, so what the bench process
does while measuring (reading a pty) cannot slow the server down, and vice versa. The thread
(:class:`ServerThread`) is for the reconnect benchmark, which must restart the server on the
same port and count every request it sees (:class:`RequestCounter`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import guildwatch.server._server as server_module
from guildwatch.server import ReferenceServer, ServerConfig

T = TypeVar("T")

START_TIMEOUT = 30.0


def bench_guild_ids(count: int) -> list[str]:
    """``count`` snowflake-like guild ids, the same in every benchmark."""
    return [str(800_000_000_000_000_000 + n) for n in range(count)]


class ServerProcess:
    """``guildwatch-server`` in a child process, serving ``guilds`` with random tokens.

    Args:
        guilds: Guild ids served from the start (ignored with ``--simulate`` in ``extra``).
        extra: More ``guildwatch-server`` flags.
    """

    def __init__(self, guilds: Sequence[str] = (), extra: Sequence[str] = ()) -> None:
        self.token = "bench-" + secrets.token_hex(12)
        self.bot_token = "bot-" + secrets.token_hex(12)
        env = {
            **os.environ,
            "GUILDWATCH_SERVER_TOKENS": self.token,
            "GUILDWATCH_SERVER_BOT_TOKENS": self.bot_token,
        }
        argv = [sys.executable, "-m", "guildwatch.server.main", "--port", "0", "--db", ":memory:"]
        for guild in guilds:
            argv += ["--guild", guild]
        argv += [*extra]
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        if "listening on" not in first:
            self.stop()
            raise RuntimeError(f"guildwatch-server did not start: {first!r}")
        self.url = first.split()[-1]
        self._client = httpx.Client(base_url=self.url, timeout=30, trust_env=False)

    def heartbeat(self, guild: str, version: str, **vitals: object) -> None:
        """POST one bot heartbeat (a new version is a status change: one event per stream);
        ``vitals`` are the protocol's optional fields (``latencyMs=42``, ...)."""
        answer = self._client.post(
            f"/api/v1/guilds/{guild}/heartbeat",
            json={"version": version, **vitals},
            headers={"Authorization": f"Bearer {self.bot_token}"},
        )
        answer.raise_for_status()

    def stop(self) -> None:
        """SIGTERM (the server ends its streams cleanly), SIGKILL after 15 s."""
        with contextlib.suppress(AttributeError):
            self._client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@dataclass
class RequestCounter:
    """Counts what the server saw, per guild: requests, stream opens, streams open now.

    Thread-safe enough for its use: written on the server's loop, read from the bench thread
    (single int/list operations under the GIL).
    """

    requests: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    stream_starts: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    """``perf_counter()`` of every stream request, per guild."""
    open_streams: set[int] = field(default_factory=set)
    open_guilds: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))

    def reset(self) -> None:
        self.requests.clear()
        self.stream_starts.clear()

    def connected(self) -> int:
        """Guilds with at least one stream answered 200 and still open."""
        return sum(1 for count in list(self.open_guilds.values()) if count > 0)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """An ASGI app that counts, then calls ``app``."""

        async def counting(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            parts = str(scope["path"]).split("/")
            guild = parts[4] if len(parts) > 4 else ""
            self.requests[guild] += 1
            is_stream = str(scope["path"]).endswith("/status/stream")
            if is_stream:
                self.stream_starts[guild].append(time.perf_counter())
            opened = False

            async def counting_send(message: Message) -> None:
                nonlocal opened
                if is_stream and message["type"] == "http.response.start":
                    opened = message["status"] == 200
                    if opened:
                        self.open_guilds[guild] += 1
                await send(message)

            try:
                await app(scope, receive, counting_send)
            finally:
                if opened:
                    self.open_guilds[guild] -= 1

        return counting


class ServerThread:
    """The reference server on its own event loop in a daemon thread, restartable in place.

    Every request goes through :attr:`counter`. ``restart`` binds the same port again.

    Args:
        config: Server configuration (``port=0`` binds a free port on the first start).
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.counter = RequestCounter()
        self.token = next(iter(config.tokens))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: ReferenceServer | None = None
        self.url = ""

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = START_TIMEOUT) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def start(self) -> str:
        """Start (or start again on the same port); returns the URL."""
        original = server_module.create_app  # type: ignore[attr-defined]

        def counted_app(*args: Any, **kwargs: Any) -> ASGIApp:
            return self.counter.wrap(original(*args, **kwargs))

        # ReferenceServer builds its app in start(): wrap it there so the counter sees every
        # request the real routes see (the server has no request counter of its own).
        server_module.create_app = counted_app  # type: ignore[attr-defined,assignment]
        try:
            self._server = ReferenceServer(self.config)
            self.url = self._call(self._server.start())
        finally:
            server_module.create_app = original  # type: ignore[attr-defined]
        port = int(self.url.rsplit(":", 1)[1])
        self.config = replace(self.config, port=port)
        return self.url

    def stop(self) -> None:
        """Stop serving (every stream ends cleanly); the thread stays for a restart."""
        if self._server is not None:
            self._call(self._server.stop())
            self._server = None

    def close(self) -> None:
        """Stop and end the thread (its leftover tasks, e.g. sse-starlette's, cancelled)."""
        self.stop()

        async def cancel_leftovers() -> None:
            current = asyncio.current_task()
            leftovers = [t for t in asyncio.all_tasks() if t is not current]
            for task in leftovers:
                task.cancel()
            await asyncio.gather(*leftovers, return_exceptions=True)

        self._call(cancel_leftovers(), 10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> ServerThread:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def bench_config(guilds: Sequence[str], **overrides: Any) -> ServerConfig:
    """A reference-server config for benchmarks: loopback, free port, in-memory, one token."""
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "tokens": {"bench-" + secrets.token_hex(12): None},
        "guilds": tuple((guild, None) for guild in guilds),
        "db": ":memory:",
        "offline_after": 3600.0,
        "max_streams_per_token": len(guilds) + 10,
        **overrides,
    }
    return ServerConfig(**values)
