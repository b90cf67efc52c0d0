"""The shared stream: every carried guild over one ``GET .../guilds/status/stream``.

docs/protocol.md, "every guild on one stream": one connection, one reconnect policy and one
backoff for the whole group; each ``event: status`` names its guild and is validated as that
guild's payload alone. A guild the stream does not carry (no status before ``ready`` on a fresh
connection, or a ``gone``) is handed to the engine, which watches it on its own from then on.
A server without the endpoint (404, 405, 501) hands every guild over: per-guild streams.

Per carried guild this keeps one dictionary slot, and nothing else while the stream is up: no
task, no connection, no watcher. While it is down, each guild is polled on the policy's
cadence (a :class:`Poller` per guild, at most :data:`POLL_CONCURRENCY` requests at a time).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlencode

import httpx

from guildwatch.engine._payload import _decode_json, parse_status_document
from guildwatch.engine._policy import Decision, PollAgain, PollDecision, ReconnectPolicy, Stop
from guildwatch.engine._poll import Fetched, Poller, fetch_status
from guildwatch.engine._settings import EngineSettings
from guildwatch.engine._sse import SSEEvent
from guildwatch.engine._stream import StreamConnection, guild_url, redact
from guildwatch.errors import GuildwatchError, PayloadError, ServerRejected
from guildwatch.store import Problem, StatusStore

log = logging.getLogger("guildwatch.engine")

QUERY_MAX_GUILDS = 50
"""Up to this many watched guilds are asked for by ``?guild=``; more ask for every guild the
token sees (the rest are ignored), as the protocol advises: a URL stays short."""

POLL_CONCURRENCY = 10
"""Polls in flight at once, across every watcher of an engine: the poll client's connection
count, so a poll waits on a semaphore, not in httpcore's pool, whose every request rescans its
whole queue (thousands of queued polls saturated the loop) and where the wait would count
toward the pool timeout."""

NO_SHARED_STREAM = frozenset((404, 405, 501))
"""The answers that mean "this server has no shared stream" (docs/protocol.md)."""


def shared_url(api_url: str, guild_ids: Sequence[str]) -> str:
    """The shared stream's URL: ``?guild=`` repeated for a few guilds, none for many."""
    url = f"{api_url.rstrip('/')}/api/v1/guilds/status/stream"
    if len(guild_ids) > QUERY_MAX_GUILDS:
        return url
    return f"{url}?{urlencode([('guild', guild_id) for guild_id in guild_ids])}"


def _problem(exc: GuildwatchError) -> Problem:
    return Problem(exc.kind, exc.user_message)


class SharedWatcher:
    """Watches many guilds over the one shared stream, with polling while it is down.

    Args:
        guild_ids: The guilds to carry (all in the store).
        settings: Engine settings.
        store: Where every outcome goes.
        stream_client: Client for the shared stream.
        poll_client: Client for the polls while the stream is down.
        rand: Random source in [0, 1) for jitter.
        hand_over: Called with a guild the stream does not carry (no status before
            ``ready``, or ``gone``): the engine watches it on its own from then on.
        fall_back: Called once with every carried guild when the server has no shared
            stream; :meth:`run` then returns.
        poll_slots: Limits the polls in flight (shared with the engine's other watchers).
    """

    def __init__(
        self,
        guild_ids: Iterable[str],
        *,
        settings: EngineSettings,
        store: StatusStore,
        stream_client: httpx.AsyncClient,
        poll_client: httpx.AsyncClient,
        rand: Callable[[], float],
        hand_over: Callable[[str], None],
        fall_back: Callable[[list[str]], None],
        poll_slots: asyncio.Semaphore | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._stream_client = stream_client
        self._poll_client = poll_client
        self._policy = ReconnectPolicy(settings, rand)
        self._hand_over = hand_over
        self._fall_back = fall_back
        self._carried: dict[str, None] = dict.fromkeys(guild_ids)
        """The guilds this stream watches, in the store's order (a dict: ordered, O(1) del)."""
        self._url = shared_url(settings.api_url, list(self._carried))
        self._attempt = 0
        self._last_event_id = ""
        self._retry_floor = 0.0
        self._connected = False
        self._given_up = False
        self._polling_forbidden = False
        """A fatal answer on the stream (401, ...): no poll of any guild until a manual retry."""
        self._ready_once = False
        """A ``ready`` was seen: until then every connection starts fresh (no Last-Event-ID),
        so that the first ``ready`` can tell which watched guilds the stream does not carry."""
        self._seen: set[str] | None = None
        """Guilds with a status or a gone on this connection, until its ``ready``."""
        self._sent_id: int | None = None
        """This connection's ``Last-Event-ID`` as a number (None: none sent, or not a number)."""
        self._replayed = False
        """No event of the first part so far proves it current statuses (see _on_ready)."""
        self._warned_no_guild = False
        self._waiting = False
        self._wake = asyncio.Event()
        self._pollers: dict[str, tuple[Poller, asyncio.Task[None]]] = {}
        self._stopped_polls: set[asyncio.Task[None]] = set()
        self._last_poll: dict[str, float] = {}
        """When each guild's last poll went out (monotonic), across outages."""
        self._poll_forbidden: set[str] = set()
        """Guilds whose poll got a 401/403/404: no more polls of them until a manual retry."""
        self._poll_slots = poll_slots or asyncio.Semaphore(POLL_CONCURRENCY)

    @property
    def carried(self) -> frozenset[str]:
        """The guilds this stream watches now."""
        return frozenset(self._carried)

    def carries(self, guild_id: str) -> bool:
        """Whether ``guild_id`` is watched by this stream (not handed over)."""
        return guild_id in self._carried

    # -- control -------------------------------------------------------------------------

    def retry(self, guild_id: str | None = None) -> None:
        """Manual retry: reconnect now if the stream is waiting (attempt counter reset), and
        poll at once (the guild, or every carried guild) if polls run.

        A stream that is connecting or connected is left alone, as for a per-guild stream.
        """
        guilds = list(self._carried) if guild_id is None else [guild_id]
        for gid in guilds:
            self._poll_forbidden.discard(gid)
            if (entry := self._pollers.get(gid)) is not None:
                entry[0].poke()
        if not self._waiting:
            return
        self._attempt = 0
        self._polling_forbidden = False
        self._given_up = False
        self._wake.set()

    async def run(self) -> None:
        """Watch until cancelled, or until the server proved to have no shared stream."""
        try:
            await self._stream_mode()
        finally:
            await self._stop_polling()

    # -- the stream ----------------------------------------------------------------------

    async def _stream_mode(self) -> None:
        while self._carried:
            if not self._given_up:
                self._store.set_connections(self._carried, "connecting", attempt=self._attempt)
            log.info(
                "shared stream: connecting for %d guilds (attempt %d), Last-Event-ID %r",
                len(self._carried),
                self._attempt + 1,
                self._resume_id() or None,
            )
            failure, uptime = await self._stream_once()
            if (
                uptime is None
                and isinstance(failure, ServerRejected)
                and failure.status_code in NO_SHARED_STREAM
            ):
                log.warning(
                    "%s answered %d: no shared stream on this server; one stream per guild "
                    "from now on",
                    redact(self._url),
                    failure.status_code,
                )
                del failure
                await self._stop_polling()
                guilds, self._carried = list(self._carried), {}
                self._fall_back(guilds)
                return
            decision = self._policy.after_stream_failure(
                failure, attempt=self._attempt, uptime=uptime, retry_floor=self._retry_floor
            )
            log.warning("shared stream failed: %s", failure.user_message)
            del failure  # its traceback holds the dead connection's frames
            await self._reap_stopped_polls()
            self._show(decision)
            if decision.poll:
                self._start_polling()
            await self._wait(decision.delay)

    def _resume_id(self) -> str:
        return self._last_event_id if self._ready_once else ""

    async def _stream_once(self) -> tuple[GuildwatchError, float | None]:
        """One connection, to its end: why it ended, and how long it was open (None: never)."""
        resume = self._resume_id()
        connection = StreamConnection(
            self._stream_client,
            self._url,
            settings=self._settings,
            clock=self._store.clock,
            last_event_id=resume,
        )
        self._warned_no_guild = False
        self._seen = set()
        self._sent_id = int(resume) if resume.isdigit() else None
        self._replayed = bool(resume)
        try:
            return await connection.follow(
                self._on_connected, self._on_events, ended="The server ended the shared stream."
            )
        finally:
            self._connected = False
            self._seen = None
            self._last_event_id = connection.last_event_id
            if connection.retry_ms is not None:
                self._retry_floor = connection.retry_ms / 1000

    def _on_connected(self) -> None:
        self._connected = True
        self._given_up = False
        log.info("shared stream: connected")
        self._store.set_connections(self._carried, "connected", attempt=self._attempt)
        self._cancel_polls()  # the stream is back: no poll result lands after this

    def _cancel_polls(self) -> None:
        """Cancel every poll now; the tasks are reaped after the connection ends."""
        for _, task in self._pollers.values():
            task.cancel()
            self._stopped_polls.add(task)
            task.add_done_callback(self._stopped_polls.discard)
        self._pollers.clear()

    def _on_events(self, events: list[SSEEvent]) -> None:
        """Validate one read's events; store each guild's valid ones in one write."""
        store = self._store
        now = store.clock()
        tolerance = self._settings.clock_skew_tolerance
        carried = self._carried
        seen = self._seen
        pending: dict[str, list[tuple[Any, Problem | None]]] = {}
        for data, event_type, event_id in events:
            if event_type == "status":
                document = _decode_or_none(data)  # once: for the guild, then to validate
                guild_id = _guild_in(document)
                if guild_id is None or guild_id not in carried:
                    if guild_id is None and not self._warned_no_guild:
                        self._warned_no_guild = True  # once per connection, not per event
                        log.warning("shared stream: events without a guild id are ignored")
                    continue  # a guild this client does not watch (the stream carries all)
                if seen is not None:
                    seen.add(guild_id)
                    if (
                        self._replayed
                        and self._sent_id is not None
                        and _at_most(event_id, self._sent_id)
                    ):
                        self._replayed = False  # a replay never repeats an id: current statuses
                try:
                    status = parse_status_document(document, now=now, skew_tolerance=tolerance)
                except PayloadError as exc:
                    # In order: what came before the bad event is stored before its warning.
                    if (earlier := pending.pop(guild_id, None)) is not None:
                        store.apply_statuses(guild_id, earlier, source="stream")
                    log.warning("%s: rejected event: %s", guild_id, exc.user_message)
                    store.set_warning(guild_id, _problem(exc))
                    continue
                pending.setdefault(guild_id, []).append(status)
            elif event_type == "gone":
                guild_id = _guild_of(data)
                if guild_id is None or guild_id not in carried:
                    continue
                if (earlier := pending.pop(guild_id, None)) is not None:
                    store.apply_statuses(guild_id, earlier, source="stream")
                log.info("%s: not carried by the shared stream (gone): own stream", guild_id)
                self._release(guild_id)
            elif event_type == "ready":
                for guild_id, statuses in pending.items():
                    store.apply_statuses(guild_id, statuses, source="stream")
                pending = {}
                self._on_ready(data)
            # Any other event type is ignored (docs/protocol.md: forward-compatible).
        for guild_id, statuses in pending.items():
            store.apply_statuses(guild_id, statuses, source="stream")

    def _on_ready(self, data: str) -> None:
        seen, self._seen = self._seen, None
        self._ready_once = True
        resumed = _resumed_flag(data)
        replayed = self._replayed if resumed is None else resumed
        if seen is None or replayed:
            return  # a replay: only the later events came, so silence says nothing
        # Current statuses (a fresh connection, or an id the server did not know): a watched
        # guild without a status or a gone is not carried.
        missing = [guild_id for guild_id in self._carried if guild_id not in seen]
        log.info(
            "shared stream: ready, %d guilds carried, %d handed to their own streams",
            len(self._carried) - len(missing),
            len(missing),
        )
        for guild_id in missing:
            self._release(guild_id)

    def _release(self, guild_id: str) -> None:
        """Stop carrying ``guild_id`` and hand it to the engine for its own stream."""
        del self._carried[guild_id]
        if self._seen is not None:
            self._seen.discard(guild_id)
        self._last_poll.pop(guild_id, None)
        self._poll_forbidden.discard(guild_id)
        if (entry := self._pollers.pop(guild_id, None)) is not None:
            entry[1].cancel()
            self._stopped_polls.add(entry[1])
            entry[1].add_done_callback(self._stopped_polls.discard)
        self._hand_over(guild_id)

    def _show(self, decision: Decision) -> None:
        """Record the policy's decision on every carried guild (one attempt counter)."""
        self._attempt = decision.attempt
        if isinstance(decision, Stop):
            self._given_up = True
            self._polling_forbidden = self._polling_forbidden or decision.forbid_polling
            if decision.forbid_polling:  # never a poll after a fatal answer
                self._cancel_polls()
            self._store.set_connections(
                self._carried, "error", error=decision.problem, attempt=decision.attempt
            )
            return
        self._given_up = False
        log.info(
            "shared stream: next attempt in %.2f s (attempt %d)", decision.delay, decision.attempt
        )
        self._store.set_connections(
            self._carried,
            "disconnected",
            error=decision.problem,
            attempt=decision.attempt,
            next_retry_at=self._store.clock() + timedelta(seconds=decision.delay),
        )

    async def _wait(self, delay: float | None) -> None:
        self._wake.clear()
        self._waiting = True
        try:
            async with asyncio.timeout(delay):
                await self._wake.wait()
            log.info("shared stream: manual retry")
        except TimeoutError:
            pass
        finally:
            self._waiting = False

    # -- polling while the stream is down ------------------------------------------------

    def _start_polling(self) -> None:
        if self._polling_forbidden:
            return
        now = time.monotonic()
        for guild_id in self._carried:
            if guild_id in self._poll_forbidden:
                continue
            running = self._pollers.get(guild_id)
            if running is not None and not running[1].done():
                continue
            last = self._last_poll.get(guild_id)
            poller = Poller(
                partial(self._fetch, guild_id),
                decide=self._policy.after_poll,
                report=partial(self._on_polled, guild_id),
                first_delay=self._policy.first_poll_delay(None if last is None else now - last),
            )
            task = asyncio.create_task(poller.run(), name=f"guildwatch-poll-{guild_id}")
            self._pollers[guild_id] = (poller, task)

    async def _fetch(self, guild_id: str) -> Fetched:
        async with self._poll_slots:
            self._last_poll[guild_id] = time.monotonic()
            return await fetch_status(
                self._poll_client,
                guild_url(self._settings.api_url, guild_id, "status"),
                settings=self._settings,
                clock=self._store.clock,
            )

    def _on_polled(
        self, guild_id: str, outcome: Fetched | GuildwatchError, decision: PollDecision
    ) -> None:
        if guild_id not in self._carried:
            return
        store = self._store
        if not isinstance(outcome, GuildwatchError):
            if not self._connected:  # the stream is fresher: a late poll must not overwrite it
                status, warning = outcome
                store.apply_status(guild_id, status, source="poll", warning=warning)
        elif isinstance(decision, Stop):  # 401/403/404: worth showing, and no more polls
            self._poll_forbidden.add(guild_id)
            store.set_warning(guild_id, decision.problem)
        elif isinstance(decision, PollAgain):  # a bad body is worth showing
            store.set_warning(guild_id, _problem(outcome))
        # A failed request is not: the stream's own error already says the server is down.

    async def _reap_stopped_polls(self) -> None:
        if self._stopped_polls:
            await asyncio.wait(list(self._stopped_polls))

    async def _stop_polling(self) -> None:
        tasks = [task for _, task in self._pollers.values()]
        self._pollers.clear()
        for task in tasks:
            task.cancel()
        tasks.extend(self._stopped_polls)
        if tasks:
            await asyncio.wait(tasks)  # unlike awaiting them, never swallows our own cancel


def _at_most(event_id: str, bound: int) -> bool:
    return event_id.isdigit() and int(event_id) <= bound


def _resumed_flag(data: str) -> bool | None:
    """``ready``'s ``resumed`` (docs/protocol.md), or None from a server that predates it."""
    document = _decode_or_none(data)
    flag = document.get("resumed") if isinstance(document, dict) else None
    return flag if isinstance(flag, bool) else None


def _decode_or_none(data: str) -> object:
    """A shared event's data decoded, or None if it is not JSON (it then has no guild)."""
    try:
        return _decode_json(data)
    except (ValueError, RecursionError):
        return None


def _guild_in(document: object) -> str | None:
    """The ``guild`` field of a decoded shared event, or None if it has none."""
    if isinstance(document, dict):
        guild_id = document.get("guild")
        if isinstance(guild_id, str):
            return guild_id
    return None


def _guild_of(data: str) -> str | None:
    """The ``guild`` field of a shared event's data, or None if it has none (or no JSON)."""
    return _guild_in(_decode_or_none(data))
