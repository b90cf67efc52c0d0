"""The per-guild supervisor tying stream, backoff, poller and watchdog to the store.

Everything the network does becomes store state; nothing is raised. A cancelled watcher
writes nothing, so shutting down never shows a false outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial

import httpx

from guildwatch.engine._backoff import Backoff
from guildwatch.engine._payload import parse_status
from guildwatch.engine._poll import Poller, fetch_status, stops_polling
from guildwatch.engine._settings import EngineSettings
from guildwatch.engine._sse import SSEEvent
from guildwatch.engine._stream import StreamConnection, guild_url
from guildwatch.errors import (
    ConfigError,
    ConnectionFailed,
    GuildwatchError,
    PayloadError,
    ServerRejected,
    WrongContentType,
)
from guildwatch.store import BotStatus, Problem, StatusStore

log = logging.getLogger("guildwatch.engine")


def _is_fatal(exc: GuildwatchError) -> bool:
    """Answers that retrying cannot fix: wait for a manual retry instead of looping."""
    if isinstance(exc, WrongContentType | ConfigError):
        return True
    return isinstance(exc, ServerRejected) and exc.is_fatal


def _problem(exc: GuildwatchError) -> Problem:
    return Problem(exc.kind, exc.user_message)


class GuildWatcher:
    """Watches one guild: the stream with reconnects, or polling alone.

    Args:
        guild_id: The guild to watch (already in the store).
        settings: Engine settings.
        store: Where every outcome goes.
        stream_client: Client for the SSE stream.
        poll_client: Client for polls (separate, so polls cannot starve the stream's pool).
        rand: Random source in [0, 1) for jitter.
    """

    def __init__(
        self,
        guild_id: str,
        *,
        settings: EngineSettings,
        store: StatusStore,
        stream_client: httpx.AsyncClient,
        poll_client: httpx.AsyncClient,
        rand: Callable[[], float],
    ) -> None:
        self.guild_id = guild_id
        self._settings = settings
        self._store = store
        self._stream_client = stream_client
        self._poll_client = poll_client
        self._rand = rand
        self._backoff = Backoff(
            base=settings.backoff_base,
            cap=settings.backoff_cap,
            jitter=settings.backoff_jitter,
            rand=rand,
        )
        self._stream_url = guild_url(settings.api_url, guild_id, "status/stream")
        self._poll_url = guild_url(settings.api_url, guild_id, "status")
        self._attempt = 0
        self._last_event_id = ""
        self._retry_floor = 0.0
        """From the server's ``retry:`` (seconds); kept across connections, as in 9.2.3."""
        self._connected = False
        self._waiting = False
        self._wake = asyncio.Event()
        self._poller: Poller | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._stopped_polls: list[asyncio.Task[None]] = []
        self._polling_forbidden = False
        self._given_up = False
        """In ``error`` (gave up, or a fatal answer): retrying at the slow cadence."""
        self._last_poll: float | None = None
        """When this guild's last poll went out (monotonic), across outages."""

    # -- control -------------------------------------------------------------------------

    def retry(self) -> None:
        """Reset the attempt counter and reconnect (or poll) now, ending any wait.

        A guild that is connecting or connected has nothing to retry and is left alone, so a
        retry can never cut a working connection or skip a later backoff.
        """
        if self._poller is not None:
            self._poller.poke()
        if not self._waiting:
            return
        self._attempt = 0
        self._polling_forbidden = False
        self._given_up = False
        self._wake.set()

    async def run(self) -> None:
        """Watch until cancelled."""
        try:
            if not self._settings.stream:
                await self._poll_only()
            else:
                if self._settings.start_jitter > 0:
                    await asyncio.sleep(self._rand() * self._settings.start_jitter)
                await self._stream_forever()
        finally:
            await self._stop_polling()

    # -- stream --------------------------------------------------------------------------

    async def _stream_forever(self) -> None:
        while True:
            if not self._given_up:  # a slow retry keeps saying why it gave up until it works
                self._store.set_connection(self.guild_id, "connecting", attempt=self._attempt)
            log.info(
                "%s: connecting (attempt %d), Last-Event-ID %r",
                self.guild_id,
                self._attempt + 1,
                self._last_event_id or None,
            )
            connected_at: float | None = None

            def opened() -> None:
                nonlocal connected_at
                connected_at = time.monotonic()
                self._on_connected()

            failure = await self._stream_once(opened)
            self._connected = False
            if connected_at is not None:
                uptime = time.monotonic() - connected_at
                if uptime >= self._settings.min_uptime_for_reset:
                    self._attempt = 0
            await self._after_failure(failure, dropped=connected_at is not None)
            # Its traceback holds the dead connection's frames: drop it before the next one
            # runs, or every guild keeps ~30 frames alive for as long as it stays connected.
            del failure

    async def _stream_once(self, opened: Callable[[], None]) -> GuildwatchError:
        connection = StreamConnection(
            self._stream_client,
            self._stream_url,
            token=self._settings.token,
            settings=self._settings,
            clock=self._store.clock,
            last_event_id=self._last_event_id,
        )
        try:
            async for events in connection.events(opened):
                self._last_event_id = connection.last_event_id
                self._on_events(events)
            return ConnectionFailed("The server ended the stream.")
        except GuildwatchError as exc:
            return exc
        finally:
            # 9.2.6: the id and retry: of a block count even when no event fired.
            self._last_event_id = connection.last_event_id
            if connection.retry_ms is not None:
                self._retry_floor = connection.retry_ms / 1000

    def _on_connected(self) -> None:
        self._connected = True
        self._given_up = False
        log.info("%s: connected", self.guild_id)
        self._store.set_connection(self.guild_id, "connected", attempt=self._attempt)
        if self._poll_task is not None:
            # Cancelled now so no poll result lands after this; reaped after the connection.
            self._poll_task.cancel()
            self._stopped_polls.append(self._poll_task)
            # A finished task keeps its CancelledError and traceback: let it go once it ended.
            self._poll_task.add_done_callback(self._forget_stopped_poll)
            self._poll_task = self._poller = None

    def _forget_stopped_poll(self, task: asyncio.Task[None]) -> None:
        with contextlib.suppress(ValueError):  # already taken by _after_failure/_stop_polling
            self._stopped_polls.remove(task)

    def _on_events(self, events: list[SSEEvent]) -> None:
        """Validate the events of one read and store the valid ones in one write."""
        now = self._store.clock()
        tolerance = self._settings.clock_skew_tolerance
        valid: list[tuple[BotStatus, Problem | None]] = []
        for data, event_type, _ in events:
            if event_type != "message":
                continue  # other event types are ignored (docs/protocol.md: forward-compatible)
            try:
                valid.append(parse_status(data, now=now, skew_tolerance=tolerance))
            except PayloadError as exc:
                # In order: what came before the bad event is stored before its warning.
                self._store.apply_statuses(self.guild_id, valid, source="stream")
                valid = []
                log.warning("%s: rejected event: %s", self.guild_id, exc.user_message)
                self._store.set_warning(self.guild_id, _problem(exc))
        self._store.apply_statuses(self.guild_id, valid, source="stream")

    async def _after_failure(self, failure: GuildwatchError, *, dropped: bool = False) -> None:
        """Record the failure, then wait: for a manual retry, or for the backoff delay.

        ``dropped``: the stream had been open. Its first reconnect then goes out before any
        poll: a server restart drops every guild at once, and polling at once as well would
        send two requests per guild in the same instant, one of them pointless.
        """
        stopped, self._stopped_polls = self._stopped_polls, []
        if stopped:
            await asyncio.wait(stopped)
        log.warning("%s: stream failed: %s", self.guild_id, failure.user_message)
        if _is_fatal(failure):
            self._polling_forbidden = self._polling_forbidden or stops_polling(failure)
            self._store.set_connection(
                self.guild_id, "error", error=_problem(failure), attempt=self._attempt
            )
            self._given_up = True
            self._start_polling()
            await self._wait(self._settings.slow_retry)
            return
        self._attempt += 1
        if self._attempt > self._settings.max_retries:
            # The detail names what failed; the status already says "Connection lost".
            attempts = "attempt" if self._attempt == 1 else "attempts"
            problem = Problem(
                failure.kind,
                f"{failure.user_message} (gave up after {self._attempt} {attempts}; "
                f"retrying every {self._settings.slow_retry:g} s)",
            )
            self._store.set_connection(self.guild_id, "error", error=problem, attempt=self._attempt)
            self._given_up = True
            self._start_polling()
            # A monitor must recover on its own: keep trying, slowly, until a retry or success.
            await self._wait(self._settings.slow_retry)
            return
        floor = self._retry_floor
        if isinstance(failure, ServerRejected) and failure.retry_after is not None:
            floor = max(floor, failure.retry_after)
        delay = self._backoff.delay(self._attempt, floor=floor)
        self._given_up = False
        log.info("%s: reconnecting in %.2f s (attempt %d)", self.guild_id, delay, self._attempt)
        self._store.set_connection(
            self.guild_id,
            "disconnected",
            error=_problem(failure),
            attempt=self._attempt,
            next_retry_at=self._store.clock() + timedelta(seconds=delay),
        )
        if not (dropped and self._attempt == 1):
            self._start_polling()
        await self._wait(delay)

    async def _wait(self, delay: float | None) -> None:
        """Wait ``delay`` seconds (None: until a manual retry); a retry ends it early."""
        self._wake.clear()
        self._waiting = True
        try:
            async with asyncio.timeout(delay):
                await self._wake.wait()
            log.info("%s: manual retry", self.guild_id)
        except TimeoutError:
            pass
        finally:
            self._waiting = False

    # -- polling -------------------------------------------------------------------------

    def _make_poller(
        self,
        on_status: Callable[[BotStatus, Problem | None], None],
        on_failure: Callable[[GuildwatchError, float | None], None],
    ) -> Poller:
        fetch = partial(
            fetch_status,
            self._poll_client,
            self._poll_url,
            token=self._settings.token,
            settings=self._settings,
            clock=self._store.clock,
        )

        async def timed_fetch() -> tuple[BotStatus, Problem | None]:
            self._last_poll = time.monotonic()
            return await fetch()

        # A stream that flaps must not bring a poll at each drop: keep the previous poll's pace.
        first_delay = 0.0
        if self._last_poll is not None:
            since = time.monotonic() - self._last_poll
            first_delay = max(0.0, self._settings.poll_interval - since)
        return Poller(
            timed_fetch,
            interval=self._settings.poll_interval,
            on_status=on_status,
            on_failure=on_failure,
            first_delay=first_delay,
        )

    def _start_polling(self) -> None:
        running = self._poll_task is not None and not self._poll_task.done()
        if self._polling_forbidden or running:
            return
        self._poller = self._make_poller(self._on_polled, self._on_poll_failure)
        self._poll_task = asyncio.create_task(
            self._poller.run(), name=f"guildwatch-poll-{self.guild_id}"
        )

    async def _stop_polling(self) -> None:
        task, self._poll_task, self._poller = self._poll_task, None, None
        tasks, self._stopped_polls = self._stopped_polls, []
        if task is not None:
            task.cancel()
            tasks.append(task)
        if tasks:
            await asyncio.wait(tasks)  # unlike awaiting them, never swallows our own cancel

    def _on_polled(self, status: BotStatus, warning: Problem | None) -> None:
        if not self._connected:  # the stream is fresher: a late poll must not overwrite it
            self._store.apply_status(self.guild_id, status, source="poll", warning=warning)

    def _on_poll_failure(self, exc: GuildwatchError, next_poll_in: float | None) -> None:
        # A bad body, or an answer that stops polling (401/403/404), is worth showing; a
        # transient poll failure is not: the stream's own error already says the server is down.
        if isinstance(exc, PayloadError) or next_poll_in is None:
            self._store.set_warning(self.guild_id, _problem(exc))
        if next_poll_in is None:
            self._polling_forbidden = True

    # -- poll only -----------------------------------------------------------------------

    async def _poll_only(self) -> None:
        """``stream=False``: the poller's outcomes are the connection state."""

        def on_status(status: BotStatus, warning: Problem | None) -> None:
            self._attempt = 0
            self._store.set_connection(self.guild_id, "connected", attempt=0)
            self._store.apply_status(self.guild_id, status, source="poll", warning=warning)

        def on_failure(exc: GuildwatchError, next_poll_in: float | None) -> None:
            if isinstance(exc, PayloadError):
                self._store.set_warning(self.guild_id, _problem(exc))
                return
            if next_poll_in is None:
                self._store.set_connection(self.guild_id, "error", error=_problem(exc))
                return
            self._attempt += 1
            self._store.set_connection(
                self.guild_id,
                "disconnected",
                error=_problem(exc),
                attempt=self._attempt,
                next_retry_at=self._store.clock() + timedelta(seconds=next_poll_in),
            )

        while True:
            self._store.set_connection(self.guild_id, "connecting", attempt=self._attempt)
            self._poller = self._make_poller(on_status, on_failure)
            await self._poller.run()  # returns only when an answer forbids polling
            self._poller = None
            await self._wait(None)
