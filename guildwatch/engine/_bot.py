"""The bot watcher: the bot-level status (``/api/v1/bot/status`` and its stream) into the store.

The same supervisor as a guild's (:class:`GuildWatcher`: stream, reconnect policy, polling
fallback, watchdog), with the bot's URLs, its validator (``parse_bot_status``) and an adapter
that writes the store's bot entry instead of a guild. The endpoints are optional: a 404 means
"this server reports no bot status", recorded as ``availability = "absent"``; the policy then
retries at the slow cadence only, as for any fatal answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import httpx

from guildwatch.engine._payload import parse_bot_status
from guildwatch.engine._settings import EngineSettings
from guildwatch.engine._watcher import GuildWatcher
from guildwatch.store import (
    _UNSET,
    BOT_KEY,
    Clock,
    ConnectionState,
    Problem,
    Source,
    StatusStore,
    _Unset,
)


def bot_urls(api_url: str) -> tuple[str, str]:
    """The bot's stream and status URLs."""
    base = f"{api_url.rstrip('/')}/api/v1/bot/status"
    return f"{base}/stream", base


class BotSink:
    """A :class:`~guildwatch.engine._watcher.StatusSink` writing ``store.update_bot``."""

    def __init__(self, store: StatusStore) -> None:
        self._store = store

    @property
    def clock(self) -> Clock:
        """The store's clock."""
        return self._store.clock

    def set_connection(
        self,
        guild_id: str,
        connection: ConnectionState,
        *,
        error: Problem | _Unset | None = _UNSET,
        attempt: int | None = None,
        next_retry_at: datetime | None = None,
    ) -> None:
        """Record the bot stream's connection state; a 404 says the server has no bot status."""
        changes: dict[str, Any] = {"connection": connection, "next_retry_at": next_retry_at}
        if error is not _UNSET:
            changes["error"] = error
            if isinstance(error, Problem) and error.kind == "not_found":
                changes["availability"] = "absent"
        if attempt is not None:
            changes["attempt"] = attempt
        self._store.update_bot(**changes)

    def apply_statuses(
        self, guild_id: str, statuses: Sequence[tuple[Any, Problem | None]], *, source: Source
    ) -> None:
        """Keep the latest of one read (the bot entry has no history)."""
        if statuses:
            status, warning = statuses[-1]
            self._store.update_bot(status=status, warning=warning, source=source)

    def apply_status(
        self, guild_id: str, status: Any, *, source: Source, warning: Problem | None = None
    ) -> None:
        """One validated bot status."""
        self._store.update_bot(status=status, warning=warning, source=source)

    def set_warning(self, guild_id: str, warning: Problem | None) -> None:
        """Flag a rejected payload without touching the status."""
        self._store.update_bot(warning=warning)


def bot_watcher(
    *,
    settings: EngineSettings,
    store: StatusStore,
    stream_client: httpx.AsyncClient,
    poll_client: httpx.AsyncClient,
    rand: Callable[[], float],
    poll_slots: asyncio.Semaphore | None = None,
) -> GuildWatcher:
    """A watcher of the bot as a whole, writing ``store.bot``."""
    return GuildWatcher(
        BOT_KEY,
        settings=settings,
        store=store,
        stream_client=stream_client,
        poll_client=poll_client,
        rand=rand,
        sink=BotSink(store),
        urls=bot_urls(settings.api_url),
        parse=parse_bot_status,
        poll_slots=poll_slots,
    )
