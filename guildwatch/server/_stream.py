"""``GET /api/v1/guilds/{guild}/status/stream``: the status as Server-Sent Events.

``GET /api/v1/bot/status/stream`` is the same endpoint over the store's bot channel
(:data:`BOT_KEY`): same ids, replay, heartbeat comments and limits.

A raw ASGI endpoint rather than a request->response function, so that the per-token stream count
and the subscription are released in one ``finally`` whatever ends the response (end of stream,
client gone, send timeout, shutdown), including a response that never got to start its body.

Framing (docs/protocol.md, WHATWG HTML 9.2): ``Content-Type: text/event-stream`` exactly (no charset
parameter, lower case, no BOM), ``\\n`` line ends, default-type events (no ``event:``) with a
decimal ``id:`` and one ``data:`` line of compact JSON, ``retry:`` with the first event, and a
``: heartbeat`` comment every ``heartbeat_interval`` seconds (sse-starlette's ``ping``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Literal

from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import SendTimeoutError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Message, Receive, Scope, Send

from guildwatch.server._faults import MALFORMED_DATA
from guildwatch.server._http import (
    AppState,
    check_client,
    error_response,
    fault_response,
    unavailable_response,
)
from guildwatch.server._metrics import ServerMetrics
from guildwatch.server._model import BOT_KEY, Event, Subscriber
from guildwatch.server._store import StoreUnavailable

logger = logging.getLogger(__name__)

SEP = "\n"

STREAM_HEADERS = {
    # Set explicitly: starlette would append "; charset=utf-8" to a text/ media type.
    "Content-Type": "text/event-stream",
    # no-transform: keeps other proxies from buffering or compressing (docs/upstream-defects.md).
    "Cache-Control": "no-cache, no-transform",
}


def encode_event(data: str, event_id: int, retry: int | None = None) -> bytes:
    """One event's bytes: ``id:``, one ``data:`` line, optional ``retry:``, blank line.

    ``data`` is ``json.dumps`` output (or a fixed malformed stand-in), which never holds a raw
    line break, so one ``data:`` line carries it whole.
    """
    retry_line = f"retry: {retry}\n" if retry is not None else ""
    return f"id: {event_id}\ndata: {data}\n{retry_line}\n".encode()


@functools.lru_cache(maxsize=4096)
def _shared_frame(event: Event) -> bytes:
    # Encoded once, sent to every stream of the guild (fan-out is the hot path).
    return encode_event(event.data, event.id)


_DROPPED: ContextVar[bool] = ContextVar("guildwatch_stream_dropped", default=False)
"""Set in a request's task when its stream was dropped on a send timeout."""

_UNFINISHED = "ASGI callable returned without completing response."


class _QuietDroppedStreams(logging.Filter):
    """Drop uvicorn's error for a response that never finished, for dropped streams only.

    A stream dropped on a send timeout cannot send its last chunk (the socket takes nothing),
    so uvicorn logs an error and closes the connection, which is what was wanted; the stream
    has already said why in one line. The record is logged in the request's own task, so the
    context variable tells this request from any other that really failed.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_DROPPED.get() and record.getMessage() == _UNFINISHED)


_QUIET = _QuietDroppedStreams()


def quiet_dropped_streams() -> None:
    """Install the filter on uvicorn's logger (idempotent)."""
    logging.getLogger("uvicorn.error").addFilter(_QUIET)


def mark_dropped() -> None:
    """This request's stream was dropped on purpose (see :class:`_QuietDroppedStreams`)."""
    _DROPPED.set(True)


def heartbeat_comment() -> ServerSentEvent:
    """The ``: heartbeat`` comment of docs/protocol.md (sse-starlette sends a timestamp)."""
    return ServerSentEvent(comment="heartbeat", sep=SEP)


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class StreamEndpoint:
    """The stream route as an ASGI app over the shared :class:`AppState`.

    Args:
        state: What the routes share.
        metrics: The server's counters (streams open, events sent).
        bot: Stream the bot-level status (any valid client token) instead of a guild's.
    """

    def __init__(
        self, state: AppState, metrics: ServerMetrics | None = None, *, bot: bool = False
    ) -> None:
        self._state = state
        self._metrics = metrics or ServerMetrics()
        self._bot = bot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._serve(scope, receive, send)
        except StoreUnavailable as exc:
            # Raised only before the response starts (checks, stream slot, first events).
            await unavailable_response(exc)(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self._state
        request = Request(scope, receive)
        guild_id: str = BOT_KEY if self._bot else request.path_params["guild"]
        checked = await check_client(state, request, None if self._bot else guild_id)
        if isinstance(checked, Response):
            await checked(scope, receive, send)
            return
        admitted = await self._admit(guild_id, scope, receive, send)
        if admitted == "again":
            await self._serve(scope, receive, send)
            return
        if admitted == "answered" or not await self._acquire(checked.tag, scope, receive, send):
            return
        try:
            await self._stream(scope, receive, send, guild_id, request)
        finally:
            await state.store.release_stream(checked.tag)

    async def _admit(
        self, key: str, scope: Scope, receive: Receive, send: Send
    ) -> Literal["go", "again", "answered"]:
        """Faults, a stall and a stop, before a stream of ``key`` starts: ``go`` on, serve
        ``again`` (a stall healed), or ``answered`` (refused, or the client left)."""
        state = self._state
        refused = fault_response(state, key) or self._portal_page(key)
        if refused is None and state.faults is not None and state.faults.get(key).stall:
            # No bytes at all, not even headers, until healed; then start over.
            if await self._wait_out_stall(key, receive):
                return "again"
            if not state.stopping.is_set():
                return "answered"  # the client left
        if refused is None and state.stopping.is_set():
            refused = error_response(503, "stopping", "server is shutting down")
        if refused is not None:
            await refused(scope, receive, send)
            return "answered"
        return "go"

    async def _acquire(self, tag: str, scope: Scope, receive: Receive, send: Send) -> bool:
        """Count one more stream for the token, or answer 429 (False)."""
        config = self._state.config
        # Counted in the store: with Redis, the limit holds across every replica.
        if await self._state.store.acquire_stream(tag, config.max_streams_per_token):
            return True
        await error_response(
            429,
            "too_many_streams",
            f"at most {config.max_streams_per_token} open streams per token",
            {"Retry-After": str(config.stream_limit_retry_after)},
        )(scope, receive, send)
        return False

    def _portal_page(self, guild_id: str) -> Response | None:
        """A ``content_type`` fault: 200 with a login page, as a captive portal answers."""
        faults = self._state.faults
        content_type = faults.get(guild_id).content_type if faults is not None else None
        if content_type is None:
            return None
        return HTMLResponse(
            "<html><body>Please log in to continue.</body></html>",
            headers={"Content-Type": content_type},
        )

    async def _stream(
        self, scope: Scope, receive: Receive, send: Send, guild_id: str, request: Request
    ) -> None:
        state = self._state
        subscriber, first = await state.store.subscribe(
            guild_id, request.headers.get("last-event-id")
        )
        self._metrics.open_streams[guild_id] += 1
        try:
            response = EventSourceResponse(
                self._events(subscriber, first),
                headers=STREAM_HEADERS,
                ping=state.config.heartbeat_interval,
                ping_message_factory=heartbeat_comment,
                sep=SEP,
                send_timeout=state.config.send_timeout,
            )
            await response(scope, receive, self._gate(guild_id, send))
        except* (SendTimeoutError, OSError):
            # A stuck or vanished client: dropping it is the plan, not an error. except*: when
            # the ping's send times out too, sse-starlette's task group raises both at once.
            mark_dropped()
            if subscriber.closed_reason != "overflow":
                logger.info("stream for guild %s dropped: client not reading", guild_id)
        finally:
            state.store.unsubscribe(subscriber)
            self._metrics.open_streams[guild_id] -= 1
            if subscriber.closed_reason == "overflow":
                # One line per dropped client (a send timeout after it says nothing more).
                logger.warning(
                    "stream for guild %s dropped: client more than %d events behind",
                    guild_id,
                    subscriber.max_pending,
                )

    def _drop_limit_reached(self, subscriber: Subscriber) -> bool:
        faults = self._state.faults
        if faults is None:
            return False
        limit = faults.get(subscriber.guild_id).drop_after
        return limit is not None and subscriber.sent >= limit

    def _frame(self, event: Event, retry: int | None) -> bytes:
        faults = self._state.faults
        malformed = faults.get(event.guild_id).malformed if faults is not None else None
        if malformed is not None:
            return encode_event(MALFORMED_DATA[malformed], event.id, retry)
        if retry is not None:
            return encode_event(event.data, event.id, retry)
        return _shared_frame(event)

    async def _events(self, subscriber: Subscriber, first: list[Event]) -> AsyncIterator[bytes]:
        retry: int | None = self._state.config.retry_ms
        sent = self._metrics.events_sent
        batch = first
        last_id = 0
        while True:
            for event in batch:
                if event.id <= last_id:
                    continue  # a shared store may hand an event over twice: send it once
                last_id = event.id
                if self._drop_limit_reached(subscriber):
                    return
                yield self._frame(event, retry)
                retry = None
                subscriber.sent += 1
                sent[event.guild_id] += 1
            if self._drop_limit_reached(subscriber):
                return
            batch = await subscriber.next_batch()
            if not batch:
                return

    def _gate(self, guild_id: str, send: Send) -> Send:
        """Swallow body bytes (events and heartbeats) while the guild is stalled."""
        faults = self._state.faults
        if faults is None:
            return send

        async def gated(message: Message) -> None:
            stalled = faults.get(guild_id).stall
            if stalled and message["type"] == "http.response.body" and message.get("more_body"):
                return
            await send(message)

        return gated

    async def _wait_out_stall(self, guild_id: str, receive: Receive) -> bool:
        """Wait while the guild is stalled; False if the client left or the server stops."""
        faults = self._state.faults
        assert faults is not None
        disconnected = asyncio.ensure_future(_until_disconnect(receive))
        try:
            while faults.get(guild_id).stall and not self._state.stopping.is_set():
                changed = asyncio.ensure_future(faults.changed())
                await asyncio.wait({disconnected, changed}, return_when=asyncio.FIRST_COMPLETED)
                changed.cancel()
                if disconnected.done():
                    return False
            return not self._state.stopping.is_set()
        finally:
            disconnected.cancel()
