"""``GET /api/v1/guilds/status/stream``: every guild the token may see on one stream.

docs/protocol.md, "every guild on one stream": ``event: status`` frames (the guild's status
object plus ``"guild"``, ids across guilds), ``event: ready`` after the first part, ``event:
gone`` for a guild the stream does not (or no longer) carry. The stream machinery is
:class:`StreamEndpoint`'s: token check, per-token stream count (the shared stream is one
stream), heartbeat comments, ``retry:`` with the first frame, send timeout, faults.

Fan-out cost: a status frame is built from the event's JSON without parsing it again (the
``"guild"`` field is spliced in front) and cached per event, so many shared streams encode a
100,000-guild round once; frames go out joined into chunks of about :data:`CHUNK_BYTES`, so a
first part of 100,000 statuses is a few hundred sends, not 100,000.

Memory: the inbox is the one buffer (:class:`SharedSubscriber`, bounded by a whole round plus
``queue_size``); the stream takes at most :data:`TAKE` events from it at a time, and uvicorn
waits for its transport to drain below its high-water mark (64 KiB) before each send, so what
is in flight is one chunk plus that. A reader that stops reading is dropped with one log
line, by the inbox's bound or, if no events come, by ``send_timeout``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import AsyncIterator, Iterable

from sse_starlette import EventSourceResponse
from sse_starlette.sse import SendTimeoutError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from guildwatch.server._auth import Grant
from guildwatch.server._config import GUILD_ID_RE
from guildwatch.server._faults import MALFORMED_DATA, SHARED, Fault, FaultBoard
from guildwatch.server._http import check_client, error_response
from guildwatch.server._model import Event, Gone, GuildFilter, SharedStart, SharedSubscriber
from guildwatch.server._stream import (
    SEP,
    STREAM_HEADERS,
    StreamEndpoint,
    heartbeat_comment,
    mark_dropped,
)

logger = logging.getLogger(__name__)

MAX_GUILDS = 1000
"""``?guild=`` ids accepted at most (more is a 400: a subset that big belongs in "all")."""

CHUNK_BYTES = 64 * 1024
"""Frames are joined into body chunks of about this size (one send each)."""

TAKE = 1024
"""Events taken from the inbox per round (about 200 KiB of frames)."""


def with_guild(guild_id: str, data: str) -> str:
    """The status JSON with ``"guild"`` first, spliced in without parsing.

    Guild ids are ``[A-Za-z0-9._-]``: nothing in them needs JSON escaping.
    """
    if data == "{}":
        return f'{{"guild":"{guild_id}"}}'
    return f'{{"guild":"{guild_id}",{data[1:]}'


def status_frame(event_id: int, data: str, retry: int | None = None) -> bytes:
    """``event: status``, ``id:``, one ``data:`` line (``data`` carries the guild already)."""
    retry_line = f"retry: {retry}\n" if retry is not None else ""
    return f"event: status\nid: {event_id}\ndata: {data}\n{retry_line}\n".encode()


@functools.lru_cache(maxsize=65536)
def _cached_status_frame(event: Event) -> bytes:
    # Live events, encoded once for every shared stream: the streams take a burst from their
    # inboxes in turns of TAKE events, so they stay well within this many of each other.
    return status_frame(event.id, with_guild(event.guild_id, event.data))


def _named_frame(name: str, data: object, retry: int | None) -> bytes:
    retry_line = f"retry: {retry}\n" if retry is not None else ""
    payload = json.dumps(data, separators=(",", ":"))
    return f"event: {name}\ndata: {payload}\n{retry_line}\n".encode()


def gone_frame(gone: Gone, retry: int | None = None) -> bytes:
    """``event: gone`` (no ``id:``): the stream does not (or no longer) carry the guild."""
    data = {"guild": gone.guild_id, "reason": gone.reason, "message": gone.message}
    return _named_frame("gone", data, retry)


def ready_frame(guilds: int, retry: int | None = None, *, resumed: bool = False) -> bytes:
    """``event: ready`` (no ``id:``): the first part, a replay or the current statuses, is
    complete."""
    return _named_frame("ready", {"guilds": guilds, "resumed": resumed}, retry)


def fault_gone(guild_id: str, fault: Fault) -> Gone | None:
    """What a guild's ``status`` fault means for the shared stream (403/404 only)."""
    if fault.status == 403:
        return Gone(guild_id, "forbidden", f"this token may not see guild {guild_id}")
    if fault.status == 404:
        return Gone(guild_id, "not_found", f"unknown guild {guild_id}")
    return None


def _all_guilds(guild_id: str) -> bool:
    return True


def parse_guild_query(values: list[str]) -> list[str] | Response:
    """The ``?guild=`` ids (duplicates once, in order), or the 400 for a bad query."""
    if len(values) > MAX_GUILDS:
        return error_response(
            400, "bad_request", f"at most {MAX_GUILDS} guild ids per request, got {len(values)}"
        )
    for value in values:
        if not GUILD_ID_RE.fullmatch(value):
            return error_response(
                400, "bad_request", "malformed guild id (allowed: [A-Za-z0-9._-]{1,100})"
            )
    return list(dict.fromkeys(values))


class SharedStreamEndpoint(StreamEndpoint):
    """``GET /api/v1/guilds/status/stream`` as an ASGI app (see the module docstring)."""

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self._state
        request = Request(scope, receive)
        checked = await check_client(state, request, None)
        if isinstance(checked, Response):
            await checked(scope, receive, send)
            return
        wanted = parse_guild_query(request.query_params.getlist("guild"))
        if isinstance(wanted, Response):
            await wanted(scope, receive, send)
            return
        admitted = await self._admit(SHARED, scope, receive, send)
        if admitted == "again":
            await self._serve(scope, receive, send)
            return
        # One stream towards the per-token limit, however many guilds it carries.
        if admitted == "answered" or not await self._acquire(checked.tag, scope, receive, send):
            return
        try:
            await self._shared_stream(scope, receive, send, checked, wanted or None, request)
        finally:
            await state.store.release_stream(checked.tag)

    async def _carried(
        self, grant: Grant, wanted: list[str] | None
    ) -> tuple[GuildFilter, list[Gone]]:
        """Which guilds the stream carries, and the ``gone`` notices of its first part."""
        faults = self._state.faults
        removed: dict[str, Gone] = {}
        for guild_id, fault in faults.items() if faults is not None else ():
            gone = fault_gone(guild_id, fault)
            if gone is not None:
                removed[guild_id] = gone
        if wanted is None:
            # Also guilds that appear later: the grant decides, not a list taken now.
            if grant.guilds is None and not removed:
                return _all_guilds, []
            return (lambda guild_id: grant.allows(guild_id) and guild_id not in removed), []
        known = await self._state.store.known_guilds([g for g in wanted if grant.allows(g)])
        carried: set[str] = set()
        first_gone: list[Gone] = []
        for guild_id in wanted:
            # The order of the per-guild checks: a restricted token cannot probe which exist.
            if not grant.allows(guild_id):
                message = f"this token may not see guild {guild_id}"
                first_gone.append(Gone(guild_id, "forbidden", message))
            elif guild_id in removed:
                first_gone.append(removed[guild_id])
            elif guild_id not in known:
                first_gone.append(Gone(guild_id, "not_found", f"unknown guild {guild_id}"))
            else:
                carried.add(guild_id)
        return frozenset(carried).__contains__, first_gone

    async def _shared_stream(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        grant: Grant,
        wanted: list[str] | None,
        request: Request,
    ) -> None:
        state = self._state
        carries, first_gone = await self._carried(grant, wanted)
        start = await state.store.subscribe_all(carries, request.headers.get("last-event-id"))
        subscriber = start.subscriber
        state.shared_streams.add(subscriber)
        timed_out = False
        try:
            response = EventSourceResponse(
                self._shared_events(subscriber, first_gone, start),
                headers=STREAM_HEADERS,
                ping=state.config.heartbeat_interval,
                ping_message_factory=heartbeat_comment,
                sep=SEP,
                send_timeout=state.config.send_timeout,
            )
            await response(scope, receive, self._gate(SHARED, send))
        except* (SendTimeoutError, OSError):
            # except*: when the ping times out too, sse-starlette's task group raises both.
            timed_out = True
            mark_dropped()
        finally:
            state.store.unsubscribe(subscriber)
            state.shared_streams.discard(subscriber)
            # One line per dropped client, whichever came first.
            if subscriber.closed_reason == "overflow":
                self._metrics.shared_dropped += 1
                logger.warning(
                    "shared stream dropped: client more than %d events behind",
                    subscriber.max_pending,
                )
            elif timed_out:
                self._metrics.shared_dropped += 1
                logger.info("shared stream dropped: client not reading")

    def _status_frame(self, event: Event, retry: int | None, *, live: bool) -> bytes:
        faults = self._state.faults
        if faults is not None:
            malformed = faults.get(event.guild_id).malformed or faults.get(SHARED).malformed
            if malformed is not None:
                data = with_guild(event.guild_id, MALFORMED_DATA[malformed])
                return status_frame(event.id, data, retry)
        if retry is not None or not live:
            # A first part is this connection's alone, and 100,000 old events would only
            # push the live ones out of the cache (plain encoding costs about 1 us each).
            return status_frame(event.id, with_guild(event.guild_id, event.data), retry)
        return _cached_status_frame(event)

    async def _shared_events(
        self,
        subscriber: SharedSubscriber,
        first_gone: list[Gone],
        start: SharedStart,
    ) -> AsyncIterator[bytes]:
        faults = self._state.faults
        metrics = self._metrics
        retry: int | None = self._state.config.retry_ms
        parts: list[bytes] = []
        size = 0
        counted = 0
        last_id = 0
        ready = False
        gone: Iterable[Gone] = first_gone
        events: list[Event] = start.first
        while True:
            for notice in gone:
                parts.append(gone_frame(notice, retry))
                retry = None
            for event in events:
                if event.id <= last_id or event.guild_id in subscriber.dropped:
                    continue  # sent already (a store may hand it over twice), or gone
                if _drop_limit_reached(faults, subscriber):
                    break
                last_id = event.id
                frame = self._status_frame(event, retry, live=ready)
                retry = None
                parts.append(frame)
                size += len(frame)
                subscriber.sent += 1
                counted += 1
                if size >= CHUNK_BYTES:
                    yield b"".join(parts)
                    parts.clear()
                    size = 0
                    metrics.shared_events_sent += counted
                    counted = 0
                    if subscriber.closed_reason is not None:
                        return  # overflow, fault or shutdown: not the rest of the batch
            if _drop_limit_reached(faults, subscriber):
                if parts:
                    yield b"".join(parts)
                metrics.shared_events_sent += counted
                return
            if not ready:
                parts.append(ready_frame(start.carried, retry, resumed=start.resumed))
                retry = None
                ready = True
            if parts:
                yield b"".join(parts)
                parts.clear()
                size = 0
                metrics.shared_events_sent += counted
                counted = 0
            gone, events = await subscriber.take(TAKE)
            if not gone and not events:
                return
            await asyncio.sleep(0)  # let the loop breathe between rounds of a long burst


def _drop_limit_reached(faults: FaultBoard | None, subscriber: SharedSubscriber) -> bool:
    if faults is None:
        return False
    limit = faults.get(SHARED).drop_after
    return limit is not None and subscriber.sent >= limit
