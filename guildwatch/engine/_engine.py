"""The engine: the guilds over one shared stream, or one :class:`GuildWatcher` task per guild,
plus the HTTP clients they share.

With ``multiplex`` (several guilds, ``auto``; or ``on``) one :class:`SharedWatcher` carries
every guild over the server's shared stream; a guild it does not carry, or every guild when the
server has no shared stream, gets its own watcher, created only then. Each per-guild watcher
runs as its own task, so one guild's trouble never delays another's. Stopping works
by cancelling tasks, never by closing a response from another task, which the reading task
would see as a network failure (docs/upstream-defects.md, httpx).
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import Callable, Coroutine
from typing import Any

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
from guildwatch.engine._shared import POLL_CONCURRENCY, SharedWatcher
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
        self._client = client
        self._tls: ssl.SSLContext | None = None
        self._stream_clients: list[httpx.AsyncClient] = []
        """Per-guild streams' clients, up to 100 guilds each, made as guilds need them."""
        self._shared_client: httpx.AsyncClient | None = None
        self._bot_client: httpx.AsyncClient | None = None
        self._poll_slots = asyncio.Semaphore(POLL_CONCURRENCY)
        if client is None:
            # One TLS context for every client: httpx loads the CA bundle (~50 ms) per client
            # otherwise. Same defaults as httpx's own (certifi, or SSL_CERT_FILE/DIR).
            if tls is None:
                tls = httpx.create_ssl_context()
            self._tls = tls
            # Streams never queue behind polls (docs/upstream-defects.md, httpx): own clients.
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
        self._fallen_back = 0
        """Guilds watched by their own watcher: the next one's index among the clients."""
        self._no_shared_stream = False
        """The server answered 404/405/501 on the shared stream: per-guild streams for the
        rest of the run."""
        self._shared: SharedWatcher | None = None
        self._bug: asyncio.Future[None] | None = None
        self._watchers: dict[str, GuildWatcher] = {}
        self._bot_watcher: GuildWatcher | None = None
        self._bot_wanted = False
        self._running = False
        self._tasks: list[asyncio.Task[None]] = []

    async def run(self) -> None:
        """Watch every guild in ``store.guild_ids`` until cancelled or stopped.

        Never raises for network or server trouble: it all becomes store state.
        """
        guild_ids = self._store.guild_ids
        self._bug = asyncio.get_running_loop().create_future()
        if self._uses_shared_stream(len(guild_ids)):
            self._start_shared(guild_ids)
        else:
            self._prepare_streams(len(guild_ids))
            for guild_id in guild_ids:
                self._start_guild_watcher(guild_id)
        self._running = True
        if self._settings.watch_bot or self._bot_wanted:
            self._start_bot_watcher()
        try:
            if self._tasks:
                # Watchers run until cancelled; one that raises is a bug, not network
                # trouble: let the app's worker see it. Watchers come and go (guilds the
                # shared stream hands over), so a future collects the first bug, or the stop.
                await self._bug
        finally:
            await self._cancel_tasks()

    def _uses_shared_stream(self, guilds: int) -> bool:
        settings = self._settings
        if not settings.stream or self._no_shared_stream or guilds == 0:
            return False
        return settings.multiplex == "on" or (settings.multiplex == "auto" and guilds > 1)

    def _start_shared(self, guild_ids: tuple[str, ...]) -> None:
        client = self._client
        if client is None:
            # Its own client: on HTTP/2 a client's connection carries at most 100 streams,
            # and guilds handed over fill the per-guild clients.
            client = self._shared_client = _make_client(
                self._settings, stream_limits(http2=self._settings.http2), tls=self._tls
            )
        self._shared = SharedWatcher(
            guild_ids,
            settings=self._settings,
            store=self._store,
            stream_client=client,
            poll_client=self._poll_client,
            rand=self._rand,
            hand_over=self._hand_over,
            fall_back=self._fall_back,
            poll_slots=self._poll_slots,
        )
        self._spawn(self._shared.run(), "guildwatch-shared")

    def _hand_over(self, guild_id: str) -> None:
        """A guild the shared stream does not carry: its own watcher, for the rest of the run."""
        self._prepare_streams(self._fallen_back + 1)
        self._start_guild_watcher(guild_id)

    def _fall_back(self, guild_ids: list[str]) -> None:
        """The server has no shared stream: every guild gets its own watcher, for good."""
        self._no_shared_stream = True
        self._shared = None
        self._prepare_streams(self._fallen_back + len(guild_ids))
        for guild_id in guild_ids:
            self._start_guild_watcher(guild_id)

    def _prepare_streams(self, guilds: int) -> None:
        """Room for ``guilds`` per-guild streams: open files, and their clients."""
        if not self._owns_clients:
            return
        raise_open_files_limit(stream_sockets(guilds, http2=self._settings.http2))
        limits = stream_limits(http2=self._settings.http2)
        while len(self._stream_clients) < stream_shards(guilds):
            self._stream_clients.append(_make_client(self._settings, limits, tls=self._tls))

    def _start_guild_watcher(self, guild_id: str) -> None:
        watcher = GuildWatcher(
            guild_id,
            settings=self._settings,
            store=self._store,
            stream_client=self._stream_client_for(self._fallen_back),
            poll_client=self._poll_client,
            rand=self._rand,
            poll_slots=self._poll_slots,
        )
        self._fallen_back += 1
        self._watchers[guild_id] = watcher
        self._spawn(watcher.run(), f"guildwatch-guild-{guild_id}")

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or (bug := task.exception()) is None:
            return
        if self._bug is not None and not self._bug.done():
            self._bug.set_exception(bug)

    @property
    def _stream_client(self) -> httpx.AsyncClient:
        """The first stream client (up to 100 guilds); engine tests inspect its pool."""
        if not self._stream_clients:
            self._prepare_streams(1)
        return self._stream_clients[0]

    def _stream_client_for(self, index: int) -> httpx.AsyncClient:
        # At most STREAMS_PER_CLIENT streams per client (see ``_limits``): HTTP/2 queues any
        # stream past 100 on one connection forever, and an HTTP/1.1 pool's every request
        # scans all its connections.
        if not self._stream_clients:
            self._prepare_streams(1)
        shard = index // STREAMS_PER_CLIENT
        return self._stream_clients[shard % len(self._stream_clients)]

    def retry(self, guild_id: str | None = None) -> None:
        """Manual retry: reset the attempt counter and reconnect at once.

        Args:
            guild_id: The guild to retry; None retries every guild in ``error`` or
                ``disconnected``. Unknown ids are ignored.
        """
        shared = self._shared
        if guild_id is not None:
            watcher = self._watchers.get(guild_id)
            if watcher is not None:
                watcher.retry()
            elif shared is not None and shared.carries(guild_id):
                shared.retry(guild_id)
            return
        if shared is not None and any(
            self._store.get(gid).connection in ("error", "disconnected") for gid in shared.carried
        ):
            shared.retry()
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
        client = self._client
        if client is None:
            # Its own client, never a guild's: on HTTP/2 it would be the 101st stream of a
            # connection that carries 100, and wait for a free one forever.
            client = self._bot_client = _make_client(
                self._settings, stream_limits(http2=self._settings.http2), tls=self._tls
            )
        self._bot_watcher = bot_watcher(
            settings=self._settings,
            store=self._store,
            stream_client=client,
            poll_client=self._poll_client,
            rand=self._rand,
            poll_slots=self._poll_slots,
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
            for own in (self._shared_client, self._bot_client):
                if own is not None:
                    await own.aclose()
            await self._poll_client.aclose()

    async def _cancel_tasks(self) -> None:
        while self._tasks:  # a watcher may have started another while the first ones ended
            tasks, self._tasks = self._tasks, []
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
        if self._bug is not None and not self._bug.done():
            self._bug.set_result(None)  # stopped: run() returns


def _make_client(
    settings: EngineSettings,
    limits: httpx.Limits,
    *,
    tls: ssl.SSLContext | None,
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
        verify=True if tls is None else tls,
        # trust_env (the default) honours HTTP(S)_PROXY/NO_PROXY and SSL_CERT_FILE, so the
        # engine works behind the proxies docs/protocol.md expects; the token stays in a header.
    )
