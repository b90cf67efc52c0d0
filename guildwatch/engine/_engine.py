"""The engine: one :class:`GuildWatcher` task per guild, plus the HTTP clients they share.

Each guild runs as its own task, so one guild's trouble never delays another's. Stopping works
by cancelling tasks, never by closing a response from another task, which the reading task
would see as a network failure (docs/upstream-defects.md, httpx).
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import Callable

import httpx

from guildwatch.engine._bot import bot_watcher
from guildwatch.engine._limits import (
    STREAMS_PER_CLIENT,
    raise_open_files_limit,
    stream_limits,
    stream_shards,
    stream_sockets,
)
from guildwatch.engine._settings import EngineSettings
from guildwatch.engine._stream import timeouts
from guildwatch.engine._watcher import GuildWatcher
from guildwatch.store import StatusStore


class Engine:
    """Watches every guild in ``store.guild_ids``: stream plus fallback poller, per guild.

    Args:
        settings: Engine settings (URL, token, timings).
        store: Where all outcomes go; its clock stamps every datetime the engine writes.
        client: Use this client for streams and polls instead of creating two; the engine
            then leaves closing it to the caller.
        tls: The TLS context for the engine's own clients (see ``_tls``); default: httpx's.
        rand: Random source in [0, 1) for jitter (tests pin it).
    """

    def __init__(
        self,
        settings: EngineSettings,
        store: StatusStore,
        *,
        client: httpx.AsyncClient | None = None,
        tls: ssl.SSLContext | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self._store = store
        self._rand = rand
        self._owns_clients = client is None
        if client is None:
            # Streams never queue behind polls (docs/upstream-defects.md, httpx): own clients.
            guilds = len(store.guild_ids)
            limits = stream_limits(http2=settings.http2)
            shards = stream_shards(guilds)
            raise_open_files_limit(stream_sockets(guilds, http2=settings.http2))
            # One TLS context for every client: httpx loads the CA bundle (~50 ms) per client
            # otherwise. Same defaults as httpx's own (certifi, or SSL_CERT_FILE/DIR).
            if tls is None:
                tls = httpx.create_ssl_context()
            self._stream_clients = [_make_client(settings, limits, tls=tls) for _ in range(shards)]
            # Polls come a minute apart: an idle keep-alive socket would only sit there.
            self._poll_client = _make_client(
                settings,
                httpx.Limits(max_connections=10, max_keepalive_connections=0),
                tls=tls,
                http2=settings.http2,
            )
        else:
            self._stream_clients = [client]
            self._poll_client = client
        self._watchers: dict[str, GuildWatcher] = {}
        self._bot_watcher: GuildWatcher | None = None
        self._bot_wanted = False
        self._running = False
        self._tasks: list[asyncio.Task[None]] = []

    async def run(self) -> None:
        """Watch every guild in ``store.guild_ids`` until cancelled or stopped.

        Never raises for network or server trouble: it all becomes store state.
        """
        for index, guild_id in enumerate(self._store.guild_ids):
            watcher = GuildWatcher(
                guild_id,
                settings=self._settings,
                store=self._store,
                stream_client=self._stream_client_for(index),
                poll_client=self._poll_client,
                rand=self._rand,
            )
            self._watchers[guild_id] = watcher
            self._tasks.append(
                asyncio.create_task(watcher.run(), name=f"guildwatch-guild-{guild_id}")
            )
        self._running = True
        if self._settings.watch_bot or self._bot_wanted:
            self._start_bot_watcher()
        try:
            if self._tasks:
                done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_EXCEPTION)
                for task in done:
                    if not task.cancelled() and (bug := task.exception()) is not None:
                        raise bug  # a bug, not network trouble: let the app's worker see it
        finally:
            await self._cancel_tasks()

    @property
    def _stream_client(self) -> httpx.AsyncClient:
        """The first stream client (up to 100 guilds); engine tests inspect its pool."""
        return self._stream_clients[0]

    def _stream_client_for(self, index: int) -> httpx.AsyncClient:
        # At most STREAMS_PER_CLIENT streams per client (see ``_limits``): HTTP/2 queues any
        # stream past 100 on one connection forever, and an HTTP/1.1 pool's every request
        # scans all its connections.
        shard = index // STREAMS_PER_CLIENT
        return self._stream_clients[shard % len(self._stream_clients)]

    def retry(self, guild_id: str | None = None) -> None:
        """Manual retry: reset the attempt counter and reconnect at once.

        Args:
            guild_id: The guild to retry; None retries every guild in ``error`` or
                ``disconnected``. Unknown ids are ignored.
        """
        if guild_id is not None:
            watcher = self._watchers.get(guild_id)
            if watcher is not None:
                watcher.retry()
            return
        for gid, watcher in self._watchers.items():
            if self._store.get(gid).connection in ("error", "disconnected"):
                watcher.retry()

    def watch_bot(self) -> None:
        """Start watching the bot as a whole now (the screen's bot view asks on first use):
        one more stream, so a screen that never shows the bot never opens it."""
        self._bot_wanted = True
        if self._running and self._bot_watcher is None:
            self._start_bot_watcher()

    def _start_bot_watcher(self) -> None:
        self._bot_watcher = bot_watcher(
            settings=self._settings,
            store=self._store,
            stream_client=self._stream_client_for(0),
            poll_client=self._poll_client,
            rand=self._rand,
        )
        # Cancelled with the others on stop; a bug in it ends up in the task, never in run().
        self._tasks.append(asyncio.create_task(self._bot_watcher.run(), name="guildwatch-bot"))

    def retry_bot(self) -> None:
        """Manual retry of the bot status stream (the bot view's ``r``)."""
        if self._bot_watcher is not None:
            self._bot_watcher.retry()

    async def stop(self) -> None:
        """Cancel every task and close the engine's own clients; nothing is left behind."""
        await self._cancel_tasks()
        if self._owns_clients:
            for stream_client in self._stream_clients:
                await stream_client.aclose()
            await self._poll_client.aclose()

    async def _cancel_tasks(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)


def _make_client(
    settings: EngineSettings,
    limits: httpx.Limits,
    *,
    tls: ssl.SSLContext,
    http2: bool | None = None,
) -> httpx.AsyncClient:
    use_http2 = settings.http2 if http2 is None else http2
    return httpx.AsyncClient(
        # HTTP/2 on http:// is prior knowledge (h2c): there is no upgrade dance in httpx, so
        # HTTP/1.1 is switched off; on https:// ALPN picks h2 when the server offers it.
        http1=not (use_http2 and settings.api_url.startswith("http://")),
        http2=use_http2,
        follow_redirects=True,
        max_redirects=settings.max_redirects,
        timeout=timeouts(settings),
        limits=limits,
        verify=tls,
        # trust_env (the default) honours HTTP(S)_PROXY/NO_PROXY and SSL_CERT_FILE, so the
        # engine works behind the proxies docs/protocol.md expects; the token stays in a header.
    )
