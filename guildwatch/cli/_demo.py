"""``guildwatch --demo``: the reference server with its simulated bot, on a free loopback port.

The server runs in a thread of its own with its own event loop, because the screen's path
(``run_tui``) owns the main thread's loop through Textual, and the headless path is the same
code either way. The thread's loop is an ``asyncio.run``, so whatever tasks the server leaves
behind (sse-starlette keeps a watcher task per loop) are cancelled and awaited on the way out,
not destroyed while pending. The token is made up for this run and never leaves the process.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from types import TracebackType

from guildwatch.cli._config import GuildSpec
from guildwatch.errors import ConfigError

START_TIMEOUT = 30.0
"""Upper bound for binding and starting; on a loaded machine this normally takes ~0.2 s."""
STOP_TIMEOUT = 10.0


class DemoServer:
    """A running reference server for the demo: ``with DemoServer() as demo: demo.url``.

    Raises:
        ConfigError: on enter, when the server extra is not installed or it cannot start.
    """

    def __init__(self) -> None:
        self.token = secrets.token_urlsafe(24)
        """Made up for this run; granted every guild."""
        self.url = ""
        self.guilds: tuple[GuildSpec, ...] = ()
        self._ready = threading.Event()
        self._error: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        # A daemon thread: a stop that goes wrong must never keep the process alive.
        self._thread = threading.Thread(target=self._serve, name="guildwatch-demo", daemon=True)

    def __enter__(self) -> DemoServer:
        try:
            # Fail here, with advice, if the server extra is missing: the package's public
            # name loads the server (and starlette, uvicorn) on first use.
            from guildwatch.server import ReferenceServer  # noqa: F401
        except ImportError as exc:
            raise ConfigError(
                f"--demo needs the reference server's packages ({exc.name} is missing): "
                "pip install 'guildwatch[server]'"
            ) from None
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise ConfigError(f"the demo server did not start within {START_TIMEOUT:g} s")
        if self._error is not None:
            self._thread.join(STOP_TIMEOUT)
            raise ConfigError(f"the demo server did not start: {self._error}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and self._thread.is_alive():
            loop.call_soon_threadsafe(stop.set)
        self._thread.join(STOP_TIMEOUT)

    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        from guildwatch.server import ReferenceServer, demo_config

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        # demo_config: in-memory database (a demo leaves no file behind) and the short offline
        # threshold, so every state shows within a minute.
        server = ReferenceServer(demo_config(self.token))
        try:
            self.url = await server.start()
            self.guilds = tuple(GuildSpec(gid, server.model.name(gid)) for gid in server.guild_ids)
        except Exception as exc:
            self._error = str(exc) or type(exc).__name__
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await server.stop()
