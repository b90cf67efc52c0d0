"""An engine built on its first ``run()``, so the screen can paint before httpx is imported.

Importing httpx and building its clients costs as much as Textual itself; the screen starts
this engine after its first frame, so "Connecting…" shows at once. The TLS context, the other
big part, can come ready-made from a thread started with the process (``_tls``).
"""

from __future__ import annotations

import asyncio
import ssl
from concurrent.futures import Future
from typing import TYPE_CHECKING

from guildwatch.engine._httpx import import_httpx
from guildwatch.engine._settings import EngineSettings
from guildwatch.store import StatusStore

if TYPE_CHECKING:
    from guildwatch.engine._engine import Engine


class DeferredEngine:
    """Same calls as :class:`~guildwatch.engine.Engine`; the real one exists once ``run()`` ran.

    Args:
        settings: Passed to the engine.
        store: Passed to the engine.
        tls: The TLS context being built on a thread (:func:`~guildwatch.engine.prefetch_tls`);
            None builds httpx's own in the engine.
    """

    def __init__(
        self,
        settings: EngineSettings,
        store: StatusStore,
        *,
        tls: Future[ssl.SSLContext] | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._tls = tls
        self._engine: Engine | None = None
        self._stopped = False
        self._bot_wanted = False

    async def run(self) -> None:
        """Import and build the engine, then run it; returns at once after :meth:`stop`."""
        if self._stopped or self._engine is not None:
            return
        tls: ssl.SSLContext | None = None
        if self._tls is not None:
            tls = await asyncio.wrap_future(self._tls)
        import_httpx()
        from guildwatch.engine._engine import Engine

        if self._stopped:  # stopped while the TLS context was still loading
            return
        self._engine = Engine(self._settings, self._store, tls=tls)
        if self._bot_wanted:
            self._engine.watch_bot()
        await self._engine.run()

    def retry(self, guild_id: str | None = None) -> None:
        """As :meth:`Engine.retry`; before the engine runs nothing is waiting to be retried."""
        if self._engine is not None:
            self._engine.retry(guild_id)

    def watch_bot(self) -> None:
        """As :meth:`Engine.watch_bot`; before ``run()`` it is remembered."""
        self._bot_wanted = True
        if self._engine is not None:
            self._engine.watch_bot()

    def retry_bot(self) -> None:
        """As :meth:`Engine.retry_bot`."""
        if self._engine is not None:
            self._engine.retry_bot()

    async def stop(self) -> None:
        """As :meth:`Engine.stop`; before ``run()`` it only makes ``run()`` a no-op.

        Also waits for the TLS thread, so that nothing of the engine outlives ``stop()``.
        """
        self._stopped = True
        if self._engine is not None:
            await self._engine.stop()
        if self._tls is not None:
            waiter = asyncio.wrap_future(self._tls)
            await asyncio.wait([waiter])
            if not waiter.cancelled():
                waiter.exception()  # a failure is run()'s to report, not stop()'s
