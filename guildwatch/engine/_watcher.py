"""The per-guild supervisor tying stream, poller and watchdog to the store.

It does the I/O and keeps the guild's state; what to do after each failure or poll is the
reconnect policy's decision (``_policy.py``). Everything the network does becomes store state;
nothing is raised. A cancelled watcher writes nothing, so shutting down never shows a false
outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

import httpx

from guildwatch.engine._payload import parse_status
from guildwatch.engine._policy import Decision, PollAgain, PollDecision, ReconnectPolicy, Stop
from guildwatch.engine._poll import Fetched, Parse, Poller, fetch_status
from guildwatch.engine._settings import EngineSettings
from guildwatch.engine._sse import SSEEvent
from guildwatch.engine._stream import StreamConnection, guild_url
from guildwatch.errors import GuildwatchError, PayloadError
from guildwatch.store import (
    _UNSET,
    Clock,
    ConnectionState,
    Problem,
    Source,
    StatusStore,
    _Unset,
)

log = logging.getLogger("guildwatch.engine")


def _problem(exc: GuildwatchError) -> Problem:
    return Problem(exc.kind, exc.user_message)


class StatusSink(Protocol):
    """Where a watcher's outcomes go: the store's guild writes (``StatusStore`` is one), or
    an adapter that writes the bot entry instead (``_bot.BotSink``)."""

    @property
    def clock(self) -> Clock:
        """The store's clock."""

    def set_connection(
        self,
        guild_id: str,
        connection: ConnectionState,
        *,
        error: Problem | _Unset | None = _UNSET,
        attempt: int | None = None,
        next_retry_at: datetime | None = None,
    ) -> None:
        """As :meth:`StatusStore.set_connection`."""

    def apply_statuses(
        self, guild_id: str, statuses: Sequence[tuple[Any, Problem | None]], *, source: Source
    ) -> None:
        """As :meth:`StatusStore.apply_statuses`."""

    def apply_status(
        self, guild_id: str, status: Any, *, source: Source, warning: Problem | None = None
    ) -> None:
        """As :meth:`StatusStore.apply_status`."""

    def set_warning(self, guild_id: str, warning: Problem | None) -> None:
        """As :meth:`StatusStore.set_warning`."""


class GuildWatcher:
    """Watches one guild: the stream with reconnects, or polling alone.

    Args:
        guild_id: The guild to watch (already in the store).
        settings: Engine settings.
        store: Where every outcome goes.
        stream_client: Client for the SSE stream.
        poll_client: Client for polls (separate, so polls cannot starve the stream's pool).
        rand: Random source in [0, 1) for jitter.
        sink: Where outcomes go instead of the store's guild (the bot watcher's adapter).
        urls: The stream's and the status's URLs instead of the guild's.
        parse: The payload validator instead of ``parse_status``.
        poll_slots: Limits the polls in flight across the engine's watchers.
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
        sink: StatusSink | None = None,
        urls: tuple[str, str] | None = None,
        parse: Parse = parse_status,
        poll_slots: asyncio.Semaphore | None = None,
    ) -> None:
        self.guild_id = guild_id
        self._settings = settings
        self._store: StatusSink = store if sink is None else sink
        self._stream_client = stream_client
        self._policy = ReconnectPolicy(settings, rand)
        self._parse = parse
        stream_url, status_url = urls or (
            guild_url(settings.api_url, guild_id, "status/stream"),
            guild_url(settings.api_url, guild_id, "status"),
        )
        self._stream_url = stream_url
        self._fetch = partial(
            fetch_status,
            poll_client,
            status_url,
            settings=settings,
            clock=store.clock,
            parse=parse,
        )
        self._poll_slots: contextlib.AbstractAsyncContextManager[Any] = (
            poll_slots or contextlib.nullcontext()
        )
        self._attempt = 0
        self._last_event_id = ""
        self._retry_floor = 0.0
        """From the server's ``retry:`` (seconds); kept across connections, as in 9.2.3."""
        self._connected = False
        self._given_up = False
        """In ``error`` (gave up, or a fatal answer): retrying at the slow cadence."""
        self._polling_forbidden = False
        """A 401/403/404 (stream or poll): no poll until a manual retry."""
        self._waiting = False
        self._wake = asyncio.Event()
        self._poller: Poller | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._stopped_polls: list[asyncio.Task[None]] = []
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
            if self._settings.stream:
                await self._stream_mode()
            else:
                await self._poll_mode()
        finally:
            await self._stop_polling()

    # -- stream mode: connect, and after each failure do what the policy says ------------

    async def _stream_mode(self) -> None:
        if (delay := self._policy.start_delay()) > 0:
            await asyncio.sleep(delay)
        while True:
            if not self._given_up:  # a slow retry keeps saying why it gave up until it works
                self._store.set_connection(self.guild_id, "connecting", attempt=self._attempt)
            log.info(
                "%s: connecting (attempt %d), Last-Event-ID %r",
                self.guild_id,
                self._attempt + 1,
                self._last_event_id or None,
            )
            failure, uptime = await self._stream_once()
            decision = self._policy.after_stream_failure(
                failure, attempt=self._attempt, uptime=uptime, retry_floor=self._retry_floor
            )
            log.warning("%s: stream failed: %s", self.guild_id, failure.user_message)
            # Its traceback holds the dead connection's frames: drop it before the next one
            # runs, or every guild keeps ~30 frames alive for as long as it stays connected.
            del failure
            await self._reap_stopped_polls()
            self._show(decision)
            if decision.poll:
                self._start_polling()
            await self._wait(decision.delay)

    async def _stream_once(self) -> tuple[GuildwatchError, float | None]:
        """One connection, to its end: why it ended, and how long it was open (None: never)."""
        connection = StreamConnection(
            self._stream_client,
            self._stream_url,
            settings=self._settings,
            clock=self._store.clock,
            last_event_id=self._last_event_id,
        )
        try:
            return await connection.follow(
                self._on_connected, self._on_events, ended="The server ended the stream."
            )
        finally:
            self._connected = False
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
        with contextlib.suppress(ValueError):  # already taken by a reap or _stop_polling
            self._stopped_polls.remove(task)

    def _on_events(self, events: list[SSEEvent]) -> None:
        """Validate the events of one read and store the valid ones in one write."""
        now = self._store.clock()
        tolerance = self._settings.clock_skew_tolerance
        parse = self._parse
        try:  # every event valid, the usual case: one comprehension (validation is pure)
            valid = [
                parse(data, now=now, skew_tolerance=tolerance)
                for data, event_type, _ in events
                if event_type == "message"  # others are ignored (forward-compatible)
            ]
        except PayloadError:
            pass
        else:
            self._store.apply_statuses(self.guild_id, valid, source="stream")
            return
        valid = []
        for data, event_type, _ in events:
            if event_type != "message":
                continue  # other event types are ignored (docs/protocol.md: forward-compatible)
            try:
                valid.append(self._parse(data, now=now, skew_tolerance=tolerance))
            except PayloadError as exc:
                # In order: what came before the bad event is stored before its warning.
                self._store.apply_statuses(self.guild_id, valid, source="stream")
                valid = []
                log.warning("%s: rejected event: %s", self.guild_id, exc.user_message)
                self._store.set_warning(self.guild_id, _problem(exc))
        self._store.apply_statuses(self.guild_id, valid, source="stream")

    def _show(self, decision: Decision) -> None:
        """Record the policy's decision after a failure (of the stream, or of a lone poll)."""
        self._attempt = decision.attempt
        if isinstance(decision, Stop):
            self._given_up = True
            self._polling_forbidden = self._polling_forbidden or decision.forbid_polling
            self._store.set_connection(
                self.guild_id, "error", error=decision.problem, attempt=decision.attempt
            )
            return
        self._given_up = False
        log.info(
            "%s: next attempt in %.2f s (attempt %d)",
            self.guild_id,
            decision.delay,
            decision.attempt,
        )
        self._store.set_connection(
            self.guild_id,
            "disconnected",
            error=decision.problem,
            attempt=decision.attempt,
            next_retry_at=self._store.clock() + timedelta(seconds=decision.delay),
        )

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

    # -- polling while the stream is down ------------------------------------------------

    def _start_polling(self) -> None:
        running = self._poll_task is not None and not self._poll_task.done()
        if self._polling_forbidden or running:
            return
        self._poller = self._make_poller(self._policy.after_poll, self._on_polled)
        self._poll_task = asyncio.create_task(
            self._poller.run(), name=f"guildwatch-poll-{self.guild_id}"
        )

    def _on_polled(self, outcome: Fetched | GuildwatchError, decision: PollDecision) -> None:
        if not isinstance(outcome, GuildwatchError):
            if not self._connected:  # the stream is fresher: a late poll must not overwrite it
                status, warning = outcome
                self._store.apply_status(self.guild_id, status, source="poll", warning=warning)
        elif isinstance(decision, Stop):  # 401/403/404: worth showing, and no more polls
            self._polling_forbidden = True
            self._store.set_warning(self.guild_id, decision.problem)
        elif isinstance(decision, PollAgain):  # a bad body is worth showing
            self._store.set_warning(self.guild_id, _problem(outcome))
        # A failed request is not: the stream's own error already says the server is down.

    async def _reap_stopped_polls(self) -> None:
        stopped, self._stopped_polls = self._stopped_polls, []
        if stopped:
            await asyncio.wait(stopped)

    async def _stop_polling(self) -> None:
        task, self._poll_task, self._poller = self._poll_task, None, None
        tasks, self._stopped_polls = self._stopped_polls, []
        if task is not None:
            task.cancel()
            tasks.append(task)
        if tasks:
            await asyncio.wait(tasks)  # unlike awaiting them, never swallows our own cancel

    def _make_poller(
        self,
        decide: Callable[[GuildwatchError | None], PollDecision],
        report: Callable[[Fetched | GuildwatchError, PollDecision], None],
    ) -> Poller:
        async def timed_fetch() -> Fetched:
            async with self._poll_slots:
                self._last_poll = time.monotonic()
                return await self._fetch()

        since = None if self._last_poll is None else time.monotonic() - self._last_poll
        return Poller(
            timed_fetch,
            decide=decide,
            report=report,
            first_delay=self._policy.first_poll_delay(since),
        )

    # -- poll mode (``stream=False``): the poller's outcomes are the connection state -----

    async def _poll_mode(self) -> None:
        while True:
            self._store.set_connection(self.guild_id, "connecting", attempt=self._attempt)
            self._poller = self._make_poller(self._decide_poll, self._on_polled_alone)
            await self._poller.run()  # returns only when an answer forbids polling
            self._poller = None
            await self._wait(None)
            self._last_poll = None  # woken by a manual retry: that poll goes out at once

    def _decide_poll(self, failure: GuildwatchError | None) -> PollDecision:
        return self._policy.after_poll(failure, attempt=self._attempt)

    def _on_polled_alone(self, outcome: Fetched | GuildwatchError, decision: PollDecision) -> None:
        if not isinstance(decision, PollAgain):
            self._show(decision)  # failed or forbidden: the connection state, as for a stream
            return
        self._attempt = decision.attempt
        if isinstance(outcome, GuildwatchError):  # the server answered, with a bad body
            self._store.set_warning(self.guild_id, _problem(outcome))
            return
        status, warning = outcome
        self._store.set_connection(self.guild_id, "connected", attempt=0)
        self._store.apply_status(self.guild_id, status, source="poll", warning=warning)
