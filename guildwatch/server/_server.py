"""Run the reference server in-process: :class:`ReferenceServer`.

It owns the whole lifecycle in a fixed order, so that a stop is always clean and bounded:
start = open the store (SQLite or Redis, :mod:`._store`), restore guilds, start the simulated bot,
bind the socket, serve; stop = end every stream (their bodies end cleanly), stop uvicorn, flush
and close the store.

uvicorn never installs signal handlers here (:class:`_Server`): the caller decides what a signal
means (``main`` stops on SIGINT/SIGTERM; a Textual app has its own keys), and uvicorn's habit of
re-raising the signal after serving would turn a clean stop into exit code 143. Streams are ended
through the model rather than sse-starlette's process-global ``AppStatus.should_exit``, so several
servers can live in one process one after another (docs/upstream-defects.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
from collections.abc import Callable, Generator
from datetime import datetime
from types import TracebackType

import uvicorn
from sse_starlette.sse import AppStatus

from guildwatch.server._app import create_app
from guildwatch.server._auth import Authenticator
from guildwatch.server._config import ConfigError, ServerConfig
from guildwatch.server._faults import FaultBoard
from guildwatch.server._http import AppState
from guildwatch.server._model import StatusModel, utc_now
from guildwatch.server._simulate import Simulator
from guildwatch.server._store import LocalStore, Store
from guildwatch.server._stream import quiet_dropped_streams


class _Server(uvicorn.Server):
    """uvicorn without signal handling (the owner of the process handles signals)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP, and without it Nagle + delayed ACK add 40 ms to every response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    # Same port again right after a stop (restart tests), despite TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


class ReferenceServer:
    """The reference server as an object, for ``main``, ``guildwatch --demo`` and tests.

    Use it from a running event loop::

        async with ReferenceServer(ServerConfig(port=0, tokens={"t": None}, simulate=True)) as srv:
            print(srv.url, srv.guild_ids)

    or call :meth:`start` / :meth:`stop` yourself. From another thread, run those two in that
    thread's own loop (``tests/harness.py`` does this).

    Args:
        config: What to serve; ``port=0`` binds a free port (see :attr:`url`).
        clock: Wall clock for heartbeat times (tests may fix it).
    """

    def __init__(self, config: ServerConfig, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.config = config
        self._clock = clock
        self._state: AppState | None = None
        self._simulator: Simulator | None = None
        self._server: _Server | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None
        self._http2_stop: asyncio.Event | None = None
        self.url = ""
        """``http://host:port`` once started."""

    @property
    def store(self) -> Store:
        """The live store (started servers only)."""
        if self._state is None:
            raise RuntimeError("the server is not running")
        return self._state.store

    @property
    def model(self) -> StatusModel:
        """The live status model of a server without ``--redis`` (started servers only)."""
        store = self.store
        if not isinstance(store, LocalStore):
            raise RuntimeError("a server on Redis has no in-process model")
        return store.model

    @property
    def guild_ids(self) -> list[str]:
        """Every guild served, in the order they became known (with Redis: as of start)."""
        return self.store.guild_ids

    async def start(self) -> str:
        """Restore state, bind, serve; returns the base URL.

        Raises:
            ConfigError: The database or the address cannot be used.
            RuntimeError: Already started.
        """
        if self._state is not None:
            raise RuntimeError("the server is already running")
        config = self.config
        AppStatus.should_exit = False  # process-global; a previous server may have set it
        store: Store
        if config.redis is not None:
            # Imported here: the redis extra is needed only with --redis.
            from guildwatch.server._redis import RedisStore

            store = RedisStore(config, self._clock)
        else:
            store = LocalStore(config, self._clock)
        await store.start()
        try:
            sock = _bind(config.host, config.port)
        except BaseException:
            await store.close()
            raise
        self._sock = sock
        self._state = AppState(
            config=config,
            auth=Authenticator(config.tokens, config.bot_tokens),
            store=store,
            faults=FaultBoard() if config.faults else None,
        )
        if config.simulate:
            assert isinstance(store, LocalStore)  # the config refuses --simulate with --redis
            self._simulator = Simulator(
                store.model,
                guilds=config.sim_guilds,
                period=config.sim_period,
                offline_after=config.offline_after,
                shards=config.sim_shards,
                maintenance_every=config.sim_maintenance_every,
                maintenance_for=config.sim_maintenance_for,
                clock=self._clock,
            )
            self._simulator.start()
        if config.http2:
            self._serve_task = asyncio.create_task(self._serve_http2(sock))
            # The socket is bound and listening: connections wait in its backlog until
            # hypercorn accepts them, so the URL is usable now.
            return self._set_url(sock)
        quiet_dropped_streams()
        uv_config = uvicorn.Config(
            create_app(self._state),
            log_config=None,
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=math.ceil(config.shutdown_timeout),
        )
        self._server = _Server(uv_config)
        self._serve_task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._serve_task.done():
                failed, self._serve_task = self._serve_task, None
                await self.stop()  # release the database, the socket and the simulator
                raise RuntimeError("the server stopped during startup") from (
                    failed.exception() if not failed.cancelled() else None
                )
            await asyncio.sleep(0.01)
        return self._set_url(sock)

    def _set_url(self, sock: socket.socket) -> str:
        host, port = sock.getsockname()[:2]
        self.url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        return self.url

    async def _serve_http2(self, sock: socket.socket) -> None:
        """Serve with hypercorn (HTTP/1.1 and h2c prior knowledge) until :meth:`stop`."""
        from hypercorn.asyncio import serve
        from hypercorn.config import Config as HypercornConfig

        assert self._state is not None
        hyper = HypercornConfig()
        # A duplicate descriptor: hypercorn closes what it was given, and stop() closes sock.
        hyper.bind = [f"fd://{os.dup(sock.fileno())}"]
        hyper.accesslog = None
        hyper.errorlog = None
        hyper.graceful_timeout = self.config.shutdown_timeout
        self._http2_stop = asyncio.Event()
        await serve(
            create_app(self._state),  # type: ignore[arg-type]  # starlette's ASGI app type
            hyper,
            shutdown_trigger=self._http2_stop.wait,
            mode="asgi",
        )

    async def stop(self) -> None:
        """End every stream cleanly, stop serving, flush and close the store (idempotent,
        bounded)."""
        state = self._state
        if state is None:
            return
        state.stopping.set()
        state.store.end_streams()
        if state.faults is not None:
            state.faults.wake()
        if self._simulator is not None:
            await self._simulator.stop()
            self._simulator = None
        if self._http2_stop is not None and self._serve_task is not None:
            self._http2_stop.set()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(
                    asyncio.shield(self._serve_task), self.config.shutdown_timeout + 1
                )
            if not self._serve_task.done():
                self._serve_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._serve_task
            self._http2_stop = None
        if self._server is not None and self._serve_task is not None:
            self._server.should_exit = True
            try:
                await asyncio.wait_for(
                    asyncio.shield(self._serve_task), self.config.shutdown_timeout + 1
                )
            except TimeoutError:
                self._server.force_exit = True
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(self._serve_task, 2)
        await state.store.close()
        if self._sock is not None:
            self._sock.close()  # uvicorn closes it too; this covers a failed start
        self._sock = None
        self._state = None
        self._server = None
        self._serve_task = None

    async def __aenter__(self) -> ReferenceServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
