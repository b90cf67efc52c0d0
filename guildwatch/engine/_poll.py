"""The polling fallback: ``GET .../status`` while the stream is down (docs/protocol.md).

When each poll goes out, and whether polling stops (401/403/404: repeating those cannot
succeed and would hammer the server), is the reconnect policy's call; this module does the
requests. The same validation as the stream applies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from guildwatch.engine._payload import parse_status
from guildwatch.engine._policy import PollDecision, Stop
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
    EventTooLarge,
    GuildwatchError,
    WatchdogTimeout,
    WrongContentType,
)
from guildwatch.store import BotStatus, Clock, Problem

log = logging.getLogger("guildwatch.engine")

Fetched = tuple[BotStatus, Problem | None]

Parse = Callable[..., tuple[Any, Problem | None]]
"""A payload validator called as ``parse(text, now=..., skew_tolerance=...)``: the guild
status's (``parse_status``) or the bot's (``parse_bot_status``)."""


async def fetch_status(
    client: httpx.AsyncClient,
    url: str,
    *,
    settings: EngineSettings,
    clock: Clock,
    parse: Parse = parse_status,
) -> Fetched:
    """One poll: fetch, check and validate the current status (with ``parse``).

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
                    headers=request_headers(settings.token, accept="application/json"),
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
    return parse(
        body.decode("utf-8", "replace"),
        now=clock(),
        skew_tolerance=settings.clock_skew_tolerance,
    )


class Poller:
    """Runs polls on the policy's schedule and reports each outcome with its decision.

    Args:
        fetch: One poll (usually :func:`fetch_status` bound to a guild).
        decide: The policy's answer to a poll's outcome (None: a valid status).
        report: Called with each outcome (the status and its warning, or the error) and the
            decision; after a ``Stop`` the poller returns.
        first_delay: Seconds before the first poll (the previous poll's interval not yet over).
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Fetched]],
        *,
        decide: Callable[[GuildwatchError | None], PollDecision],
        report: Callable[[Fetched | GuildwatchError, PollDecision], None],
        first_delay: float = 0.0,
    ) -> None:
        self._fetch = fetch
        self._decide = decide
        self._report = report
        self._first_delay = first_delay
        self._poke = asyncio.Event()

    def poke(self) -> None:
        """Poll now instead of at the end of the current wait (manual retry)."""
        self._poke.set()

    async def run(self) -> None:
        """Poll until cancelled, or until the policy stops polling (then return)."""
        if self._first_delay > 0:
            await self._sleep(self._first_delay)
        while True:
            outcome: Fetched | GuildwatchError
            try:
                outcome = await self._fetch()
            except GuildwatchError as exc:
                outcome = exc
            failure = outcome if isinstance(outcome, GuildwatchError) else None
            decision = self._decide(failure)
            if failure is not None:
                if isinstance(decision, Stop):
                    log.warning("polling stopped: %s", failure.user_message)
                else:
                    log.warning(
                        "poll failed (next in %.1f s): %s", decision.delay, failure.user_message
                    )
            self._report(outcome, decision)
            if isinstance(decision, Stop):
                return
            await self._sleep(decision.delay)

    async def _sleep(self, seconds: float) -> None:
        """Wait ``seconds``; a poke (manual retry) ends it early."""
        self._poke.clear()
        try:
            async with asyncio.timeout(seconds):
                await self._poke.wait()
        except TimeoutError:
            pass
