"""What the screen needs from the connection engine, as a Protocol.

The screen is a view: it starts the engine, asks it to retry and stops it, and learns
everything else from the :class:`~guildwatch.store.StatusStore`. Depending on this Protocol
rather than on ``guildwatch.engine.Engine`` keeps the view testable with a recorder and keeps
the import graph one-way (the engine never imports Textual).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class EngineLike(Protocol):
    """The three calls the screen makes; ``guildwatch.engine.Engine`` implements them."""

    async def run(self) -> None:
        """Watch every guild until :meth:`stop`; network trouble goes into the store, not up."""

    def retry(self, guild_id: str | None = None) -> None:
        """Reconnect now (reset backoff, cancel the wait): one guild, or all when None."""

    async def stop(self) -> None:
        """Stop watching and close connections; :meth:`run` returns soon after."""
