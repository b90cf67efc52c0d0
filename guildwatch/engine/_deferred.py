"""An engine built on its first ``run()``, so the screen can paint before httpx is imported.

Importing httpx and building its clients (an SSL context each) costs ~0.2 s, as much as Textual
itself; the screen starts this engine after its first frame, so "Connecting…" shows at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from guildwatch.engine._settings import EngineSettings
from guildwatch.store import StatusStore

if TYPE_CHECKING:
    from guildwatch.engine._engine import Engine


class DeferredEngine:
    """Same calls as :class:`~guildwatch.engine.Engine`; the real one exists once ``run()`` ran.

    Args:
        settings: Passed to the engine.
        store: Passed to the engine.
    """

    def __init__(self, settings: EngineSettings, store: StatusStore) -> None:
        self._settings = settings
        self._store = store
        self._engine: Engine | None = None
        self._stopped = False
        self._bot_wanted = False

    async def run(self) -> None:
        """Import and build the engine, then run it; returns at once after :meth:`stop`."""
        if self._stopped or self._engine is not None:
            return
        from guildwatch.engine._engine import Engine

        self._engine = Engine(self._settings, self._store)
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
        """As :meth:`Engine.stop`; before ``run()`` it only makes ``run()`` a no-op."""
        self._stopped = True
        if self._engine is not None:
            await self._engine.stop()
