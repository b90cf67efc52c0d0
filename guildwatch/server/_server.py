"""Run the reference server in-process: :class:`ReferenceServer`.

It owns the whole lifecycle in a fixed order, so that a stop is always clean and bounded:
start = open SQLite, restore guilds, build the model, start the simulated bot, bind the socket,
serve; stop = end every stream (their bodies end cleanly), stop uvicorn, flush SQLite.

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
import time
from collections.abc import Callable, Generator
from datetime import datetime
from types import TracebackType

import uvicorn
from sse_starlette.sse import AppStatus

from guildwatch.server._app import create_app
from guildwatch.server._auth import Authenticator
from guildwatch.server._config import ConfigError, ServerConfig
from guildwatch.server._db import Database
from guildwatch.server._faults import FaultBoard
from guildwatch.server._http import AppState
from guildwatch.server._model import StatusModel, utc_now
from guildwatch.server._simulate import Simulator


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
        self._db: Database | None = None
        self._state: AppState | None = None
        self._simulator: Simulator | None = None
        self._server: _Server | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._flush_task: asyncio.Task[None] | None = None
        self._saved_event_id = 0
        self._sock: socket.socket | None = None
        self._http2_stop: asyncio.Event | None = None
        self.url = ""
        """``http://host:port`` once started."""

    @property
    def model(self) -> StatusModel:
        """The live status model (started servers only)."""
        if self._state is None:
            raise RuntimeError("the server is not running")
        return self._state.model

    @property
    def guild_ids(self) -> list[str]:
        """Every guild served, in the order they became known."""
        return self.model.guild_ids

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
        db = Database(config.db)
        try:
            records, last_event_id = db.load()
            bot_record = db.load_bot()
            sock = _bind(config.host, config.port)
        except BaseException:
            db.close()
            raise
        self._db = db
        self._sock = sock
        self._saved_event_id = last_event_id
        # Ids only grow, also across a restart that lost the database: seed from the clock
        # (microseconds since 1970) and from the last id stored, whichever is larger.
        first_id = max(last_event_id + 1, time.time_ns() // 1000)
        model = StatusModel(
            offline_after=config.offline_after,
            ring_size=config.ring_size,
            queue_size=config.queue_size,
            first_event_id=first_id,
            clock=self._clock,
        )
        for record in records:
            model.add_guild(
                record.guild_id,
                name=record.name,
                last_heartbeat=record.last_heartbeat,
                version=record.version,
                vitals=record.vitals,
            )
        if bot_record is not None:
            model.restore_bot(bot_record)
        for guild_id, name in config.guilds:
            model.add_guild(guild_id, name=name)
        self._state = AppState(
            config=config,
            auth=Authenticator(config.tokens, config.bot_tokens),
            model=model,
            faults=FaultBoard() if config.faults else None,
        )
        if config.simulate:
            self._simulator = Simulator(
                model,
                guilds=config.sim_guilds,
                period=config.sim_period,
                offline_after=config.offline_after,
                shards=config.sim_shards,
                maintenance_every=config.sim_maintenance_every,
                maintenance_for=config.sim_maintenance_for,
                clock=self._clock,
            )
            self._simulator.start()
        self._flush_task = asyncio.create_task(self._flush_forever())
        if config.http2:
            self._serve_task = asyncio.create_task(self._serve_http2(sock))
            # The socket is bound and listening: connections wait in its backlog until
            # hypercorn accepts them, so the URL is usable now.
            return self._set_url(sock)
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
        """End every stream cleanly, stop serving, flush SQLite (idempotent, bounded)."""
        state = self._state
        if state is None:
            return
        state.stopping.set()
        state.model.shutdown()
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
        if self._flush_task is not None:
            self._flush_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush_task
        await self._flush()
        if self._sock is not None:
            self._sock.close()  # uvicorn closes it too; this covers a failed start
        if self._db is not None:
            self._db.close()
        self._db = None
        self._sock = None
        self._state = None
        self._server = None
        self._serve_task = None
        self._flush_task = None

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

    async def _flush(self) -> None:
        if self._state is None or self._db is None:
            return
        model = self._state.model
        build_records = model.take_dirty()
        bot = model.take_bot_record()
        last_event_id = model.last_event_id
        db = self._db
        if build_records is None and bot is None and last_event_id == self._saved_event_id:
            return

        def save() -> None:
            db.save(build_records() if build_records is not None else [], last_event_id, bot)

        await asyncio.to_thread(save)
        self._saved_event_id = last_event_id

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.flush_interval)
            await self._flush()
