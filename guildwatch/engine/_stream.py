"""HTTP glue: requests, status codes, and the one place where httpx errors become ours.

Every httpx exception is translated here, in
:func:`translate_errors`, into the :mod:`guildwatch.errors` class that says what the engine does
next, chained with ``from`` so ``--debug`` still shows the cause. Status codes follow
docs/protocol.md's table in :func:`check_status`.

We open the stream with ``client.stream`` rather than ``httpx_sse.aconnect_sse``: that helper
forces ``Cache-Control: no-store`` (the protocol asks for ``no-cache``) and mutates the headers
dict it is given; and we read bytes, not ``EventSource.aiter_sse``, whose decoding is wrong in
the ways listed in ``_sse.py`` (and slower than our parser).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from datetime import datetime
from urllib.parse import quote

import httpx

from guildwatch.engine._settings import EngineSettings
from guildwatch.engine._sse import EventParser, SSEEvent
from guildwatch.errors import (
    ConfigError,
    ConnectionFailed,
    ErrorKind,
    GuildwatchError,
    ServerRejected,
    WatchdogTimeout,
    WrongContentType,
)

log = logging.getLogger("guildwatch.engine")

EVENT_STREAM = "text/event-stream"
# How long "connected" waits for the first read after the headers. The server writes the
# headers and its first events (the current status, or a resume's replay) back to back but
# apart; said alone, "connected" would pair the new connection with the status learned before
# the outage, and a bot that went offline meanwhile would read Online for a moment. A resume
# with nothing to replay sends nothing: then "connected" comes after this grace.
FIRST_READ_GRACE = 0.25


def guild_url(api_url: str, guild_id: str, suffix: str) -> str:
    """``{api}/api/v1/guilds/{guild}/{suffix}``, the guild id percent-encoded."""
    return f"{api_url.rstrip('/')}/api/v1/guilds/{quote(guild_id, safe='')}/{suffix}"


def redact(url: str | httpx.URL) -> str:
    """The URL without user info or query, fit for messages and logs."""
    try:
        return str(httpx.URL(url).copy_with(username=None, password=None, query=None))
    except httpx.InvalidURL:
        return "(invalid URL)"


def request_headers(token: str, *, accept: str, last_event_id: str = "") -> dict[str, str]:
    """A fresh headers dict for one request (never reused: callers may mutate it).

    ``Last-Event-ID`` is sent only when there is an id and it can travel in a header: an id
    with control characters would make h11 refuse every request, so it is dropped and the
    connection starts fresh instead (the server then sends the current status).
    """
    headers = {"Authorization": f"Bearer {token}", "Accept": accept}
    if accept == EVENT_STREAM:
        headers["Cache-Control"] = "no-cache"
        # Compressed SSE buffers events, and a decompressed chunk has no size bound.
        headers["Accept-Encoding"] = "identity"
    if last_event_id and last_event_id.isprintable() and last_event_id.isascii():
        headers["Last-Event-ID"] = last_event_id
    return headers


def timeouts(settings: EngineSettings) -> httpx.Timeout:
    """Connect timeout, and a read timeout that is the heartbeat watchdog.

    httpx's read timeout restarts on every received chunk, so it measures silence: a slow but
    flowing stream never trips it, and heartbeat comments reset it. Never ``None``: a half-open
    connection would then hang forever (docs/upstream-defects.md, httpx).
    """
    return httpx.Timeout(
        connect=settings.connect_timeout,
        read=settings.heartbeat_timeout,
        write=settings.connect_timeout,
        pool=settings.connect_timeout,
    )


def _reason(exc: BaseException) -> str:
    """What failed underneath, in the OS's words ("Connection refused"), else the class name.

    Only ``strerror`` is used, never ``str(exc)``: that can carry a URL with credentials.
    """
    seen: BaseException | None = exc
    for _ in range(8):  # causes nest a few levels (httpx -> httpcore -> OSError)
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.errno:
            return os.strerror(seen.errno)  # asyncio's strerror names the address instead
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__


@contextmanager
def translate_errors(url: str, settings: EngineSettings) -> Iterator[None]:
    """Turn httpx errors raised inside the block into guildwatch errors for ``url``."""
    where = redact(url)
    try:
        yield
    except httpx.ConnectTimeout as exc:
        raise ConnectionFailed(
            f"Could not connect to {where} within {settings.connect_timeout:g} s.", kind="timeout"
        ) from exc
    except httpx.ReadTimeout as exc:
        raise WatchdogTimeout(
            f"No data from {where} for {settings.heartbeat_timeout:g} s; "
            "the connection was presumed dead."
        ) from exc
    except httpx.TimeoutException as exc:
        raise ConnectionFailed(f"Timed out talking to {where}.", kind="timeout") from exc
    except httpx.TooManyRedirects as exc:
        raise ConnectionFailed(
            f"Too many redirects (over {settings.max_redirects}) from {where}.", kind="redirect"
        ) from exc
    except httpx.UnsupportedProtocol as exc:
        raise ConnectionFailed(
            f"{where} or a redirect from it uses an unsupported URL scheme.", kind="redirect"
        ) from exc
    except httpx.HTTPError as exc:
        raise ConnectionFailed(f"Connection to {where} failed: {_reason(exc)}.") from exc
    except httpx.InvalidURL as exc:
        raise ConfigError(f"The server URL {where} is not valid.") from exc


def check_status(response: httpx.Response, *, now: datetime) -> None:
    """Raise the docs/protocol.md meaning of a non-200 answer; return quietly on 200."""
    code = response.status_code
    if code == 200:
        return
    where = redact(response.url)
    if code == 204:
        raise ServerRejected(
            f"{where} answered 204: the server asks clients not to reconnect.",
            status_code=code,
            kind="server_stop",
        )
    if code == 401:
        raise ServerRejected(
            f"{where} refused the token (401); check the token.", status_code=code, kind="auth"
        )
    if code == 403:
        raise ServerRejected(
            f"{where} answered 403: this token may not watch this guild.",
            status_code=code,
            kind="forbidden",
        )
    if code == 404:
        raise ServerRejected(
            f"{where} answered 404: unknown guild or not a guildwatch server.",
            status_code=code,
            kind="not_found",
        )
    retry_after = None
    if code in (429, 503):
        retry_after = parse_retry_after(response.headers.get("retry-after"), now=now)
    kind: ErrorKind = "redirect" if 300 <= code < 400 else "http"
    raise ServerRejected(
        f"{where} answered HTTP {code}.", status_code=code, kind=kind, retry_after=retry_after
    )


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds from a ``Retry-After`` header (delay-seconds or HTTP-date), or None."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)  # however large: the reconnect policy clamps every wait once
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)


def media_type(response: httpx.Response) -> str:
    """The response's media type, lower case, without parameters."""
    content_type: str = response.headers.get("content-type", "")
    return content_type.partition(";")[0].strip().lower()


class StreamConnection:
    """One attempt at the SSE stream: connect, check, then yield events until it ends.

    Args:
        client: The client to use (its pool is shared across attempts).
        url: The stream URL.
        settings: The bearer token (only ever sent in ``Authorization``, which httpx strips
            on a cross-origin redirect), timeouts, caps and redirect bound.
        clock: The store's clock, for ``Retry-After`` dates.
        last_event_id: Resume from this id ("" for a fresh start).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        settings: EngineSettings,
        clock: Callable[[], datetime],
        last_event_id: str = "",
    ) -> None:
        self._client = client
        self._url = url
        self._settings = settings
        self._clock = clock
        self._resume_from = last_event_id
        self._parser = EventParser(settings.max_event_bytes, last_event_id=last_event_id)

    @property
    def last_event_id(self) -> str:
        """The last event id seen so far (what to resume from next time)."""
        return self._parser.last_event_id

    @property
    def retry_ms(self) -> int | None:
        """The server's latest valid ``retry:``, if it sent one on this connection."""
        return self._parser.retry_ms

    async def follow(
        self,
        on_open: Callable[[], None],
        on_events: Callable[[list[SSEEvent]], None],
        *,
        ended: str,
    ) -> tuple[GuildwatchError, float | None]:
        """Run :meth:`events` to its end, each read handed to ``on_events``: why it ended
        (``ended`` for a clean end of the body) and how long it was open (None: never).

        Every end is the returned failure, nothing is raised; ``last_event_id`` and
        ``retry_ms`` stay readable afterwards (9.2.6: they count even when no event fired).
        """
        opened_at: float | None = None

        def opened() -> None:
            nonlocal opened_at
            opened_at = time.monotonic()
            on_open()

        failure: GuildwatchError
        try:
            async for events in self.events(opened):
                on_events(events)
            failure = ConnectionFailed(ended)
        except GuildwatchError as exc:
            failure = exc
        return failure, None if opened_at is None else time.monotonic() - opened_at

    async def events(self, on_open: Callable[[], None]) -> AsyncIterator[list[SSEEvent]]:
        """Connect and yield the events of each read (never an empty list); returns on a clean
        end of the body. Per read, not per event: a burst costs one store write, not hundreds.

        ``on_open`` is called once the answer is a 200 event stream. An incomplete event at
        the end is discarded (the parser never returns it).

        Raises:
            GuildwatchError: Every failure, already translated.
        """
        settings = self._settings
        headers = request_headers(
            settings.token, accept=EVENT_STREAM, last_event_id=self._resume_from
        )
        # A total deadline for the answer's headers: the read timeout alone would let a
        # server drip its headers a byte at a time forever.
        headers_deadline = settings.connect_timeout + settings.heartbeat_timeout
        async with AsyncExitStack() as stack:
            with translate_errors(self._url, settings):
                try:
                    async with asyncio.timeout(headers_deadline):
                        response = await stack.enter_async_context(
                            self._client.stream(
                                "GET",
                                self._url,
                                headers=headers,
                                timeout=timeouts(settings),
                                follow_redirects=True,
                            )
                        )
                except TimeoutError as exc:
                    raise WatchdogTimeout(
                        f"{redact(self._url)} sent no complete answer within "
                        f"{headers_deadline:g} s."
                    ) from exc
            log.info("%s: HTTP %d", redact(response.url), response.status_code)
            check_status(response, now=self._clock())
            if media_type(response) != EVENT_STREAM:
                raise WrongContentType(
                    f"{redact(response.url)} answered 200 but not with an event stream "
                    f"(Content-Type {media_type(response) or 'missing'!r}); "
                    "a proxy or login page may be in the way."
                )
            with translate_errors(self._url, settings):
                chunks = response.aiter_bytes()
                # A task, not a timeout around the read: cancelling a read mid-way would cost
                # the connection. Awaited below whether or not the grace ran out.
                first_read = asyncio.ensure_future(anext(chunks, b""))
                try:
                    await asyncio.wait((first_read,), timeout=FIRST_READ_GRACE)
                    opened = not first_read.done()
                    if opened:
                        on_open()
                    first = await first_read  # a failure of the first read raises here
                finally:
                    if not first_read.done():
                        first_read.cancel()
                events = self._parser.feed(first) if first else []
                if not opened:
                    on_open()  # the same step as the first events: one wake-up sees both
                if events:
                    yield events
                if not first:
                    return  # the body ended at once
                async for chunk in chunks:
                    if events := self._parser.feed(chunk):
                        yield events
