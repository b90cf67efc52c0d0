"""The polling fallback: ``GET .../status`` while the stream is down (docs/protocol.md).

The first poll goes out at once, then one every ``poll_interval`` (never faster; a
``Retry-After`` only stretches it). The same validation as the stream applies, and the poller
stops for good on 401/403/404: repeating those cannot succeed and would hammer the server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import httpx

from guildwatch.engine._payload import parse_status
from guildwatch.engine._settings import EngineSettings
from guildwatch.engine._stream import (
    check_status,
    media_type,
    redact,
    request_headers,
    timeouts,
    translate_errors,
)
from guildwatch.errors import (
    ConfigError,
    EventTooLarge,
    GuildwatchError,
    ServerRejected,
    WatchdogTimeout,
    WrongContentType,
)
from guildwatch.store import BotStatus, Clock, Problem

log = logging.getLogger("guildwatch.engine")

Fetched = tuple[BotStatus, Problem | None]


def stops_polling(exc: GuildwatchError) -> bool:
    """Whether an answer forbids polling again (until a manual retry): 401/403/404, config."""
    if isinstance(exc, ConfigError):
        return True
    return isinstance(exc, ServerRejected) and exc.kind in ("auth", "forbidden", "not_found")


async def fetch_status(
    client: httpx.AsyncClient,
    url: str,
    *,
    token: str,
    settings: EngineSettings,
    clock: Clock,
) -> Fetched:
    """One poll: fetch, check and validate the current status.

    Raises:
        GuildwatchError: Every failure, translated (a bad body is a ``PayloadError``).
    """
    deadline = settings.connect_timeout + settings.heartbeat_timeout
    body = bytearray()
    with translate_errors(url, settings):
        try:
            async with (
                asyncio.timeout(deadline),
                client.stream(
                    "GET",
                    url,
                    headers=request_headers(token, accept="application/json"),
                    timeout=timeouts(settings),
                    follow_redirects=True,
                ) as response,
            ):
                log.info("poll %s: HTTP %d", redact(response.url), response.status_code)
                check_status(response, now=clock())
                kind = media_type(response)
                if kind != "application/json" and not kind.endswith("+json"):
                    raise WrongContentType(
                        f"{redact(response.url)} answered 200 but not with JSON "
                        f"(Content-Type {kind or 'missing'!r})."
                    )
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > settings.max_event_bytes:
                        raise EventTooLarge(
                            f"{redact(response.url)} sent a status larger than "
                            f"{settings.max_event_bytes} bytes."
                        )
        except TimeoutError as exc:
            raise WatchdogTimeout(f"{redact(url)} did not answer within {deadline:g} s.") from exc
    return parse_status(
        body.decode("utf-8", "replace"),
        now=clock(),
        skew_tolerance=settings.clock_skew_tolerance,
    )


class Poller:
    """Runs polls on a schedule and reports each outcome through callbacks.

    Args:
        fetch: One poll (usually :func:`fetch_status` bound to a guild).
        interval: Seconds between polls.
        on_status: Called with a valid status and its warning.
        on_failure: Called with the error and the seconds until the next poll (None when
            polling stops because of it).
        first_delay: Seconds before the first poll (the previous poll's interval not yet over).
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Fetched]],
        *,
        interval: float,
        on_status: Callable[[BotStatus, Problem | None], None],
        on_failure: Callable[[GuildwatchError, float | None], None],
        first_delay: float = 0.0,
    ) -> None:
        self._first_delay = first_delay
        self._fetch = fetch
        self._interval = interval
        self._on_status = on_status
        self._on_failure = on_failure
        self._poke = asyncio.Event()

    def poke(self) -> None:
        """Poll now instead of at the end of the current wait (manual retry)."""
        self._poke.set()

    async def run(self) -> None:
        """Poll until cancelled, or until an answer forbids polling (then return)."""
        if self._first_delay > 0:
            await self._sleep(self._first_delay)
        while True:
            wait = self._interval
            try:
                status, warning = await self._fetch()
            except GuildwatchError as exc:
                if stops_polling(exc):
                    log.warning("polling stopped: %s", exc.user_message)
                    self._on_failure(exc, None)
                    return
                if isinstance(exc, ServerRejected) and exc.retry_after is not None:
                    wait = max(wait, exc.retry_after)
                log.warning("poll failed (next in %.1f s): %s", wait, exc.user_message)
                self._on_failure(exc, wait)
            else:
                self._on_status(status, warning)
            await self._sleep(wait)

    async def _sleep(self, seconds: float) -> None:
        """Wait ``seconds``; a poke (manual retry) ends it early."""
        self._poke.clear()
        try:
            async with asyncio.timeout(seconds):
                await self._poke.wait()
        except TimeoutError:
            pass
