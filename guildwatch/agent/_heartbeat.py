"""The sender: a bot's heartbeats to a guildwatch server, which never raises into the bot.

One beat is one bot-level ``POST /api/v1/bot/heartbeat`` (all shards and every guild in one
request), or, against a server that answers it with 404 (one from before that endpoint), one
``POST /api/v1/guilds/{guild}/heartbeat`` per guild, a few at a time. The 404 is remembered, so
an older server costs one probe, not one per beat; the probe is repeated rarely
(``reprobe_after``) so that an upgraded server is noticed.

A failed beat (server down, slow, refusing) is counted and logged once per outage (again only
when the reason changes, and once when it recovers); the next beat goes on schedule. The token
is kept out of ``repr``, log records and the messages this module builds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, Self

import httpx

from guildwatch import __version__
from guildwatch.agent._vitals import (
    GUILD_ID_RE,
    MAX_GUILDS_PER_REQUEST,
    MAX_VERSION_CHARS,
    STATES,
    State,
    Vitals,
    bot_body,
    clean_message,
    guild_body,
)

log = logging.getLogger("guildwatch.agent")

VitalsSource = Callable[[], Vitals | Awaitable[Vitals]]
"""What the sender calls before each beat: a function (or coroutine function) of no arguments."""

Endpoint = Literal["auto", "bot", "guilds"]

REDACTED = "[token redacted]"
MAX_REASON_CHARS = 300
"""A server's error message is quoted up to this length (it may be an HTML page)."""


def redact(text: str, token: str) -> str:
    """``text`` without ``token`` in it."""
    return text.replace(token, REDACTED) if token else text


def check_token(token: str) -> str:
    """The token, stripped; ``ValueError`` (naming no value) if a header cannot carry it."""
    value = token.strip() if isinstance(token, str) else ""
    if not value or any(not ("\x21" <= char <= "\x7e") for char in value):
        raise ValueError("the bot token must be one non-empty line of printable ASCII")
    return value


def check_api(api: str) -> str:
    """The base URL without a trailing slash; ``ValueError`` unless it is http(s)."""
    url = httpx.URL(api)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"the api must be an http:// or https:// URL, not {api!r}")
    if url.userinfo:
        raise ValueError("the api URL must not hold credentials; the token goes in a header")
    return str(url).rstrip("/")


@dataclass(frozen=True, slots=True)
class Answer:
    """What one POST came to."""

    ok: bool
    status: int | None
    """The HTTP status, or None when no answer came (down, slow, refused connection)."""
    reason: str
    """For people: ``"200"``, ``"401 Unauthorized: missing or invalid bot token"``,
    ``"cannot connect (ConnectError)"``; never the token."""
    body: Any = field(default=None, repr=False)


def _reason_from(response: httpx.Response, token: str) -> str:
    phrase = response.reason_phrase or ""
    detail = ""
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        data = response.json()
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            detail = data["message"]
    if not detail and response.status_code >= 400:
        detail = response.text.strip().splitlines()[0] if response.text.strip() else ""
    if 300 <= response.status_code < 400:
        detail = "redirect not followed, so the bot token goes nowhere but the api"
    text = f"{response.status_code} {phrase}".strip() + (f": {detail}" if detail else "")
    return redact(text[:MAX_REASON_CHARS], token)


def _network_reason(exc: BaseException, token: str) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return "no answer in time (timeout)"
    text = str(exc).strip()
    what = "cannot connect" if isinstance(exc, httpx.ConnectError) else "request failed"
    return redact(f"{what} ({type(exc).__name__}{': ' + text if text else ''})", token)


async def post(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], token: str, seconds: float
) -> Answer:
    """POST one heartbeat body; every outcome is an :class:`Answer`, nothing raises.

    ``seconds`` bounds the whole request, including a server that trickles its answer.
    """
    content = json.dumps(body, allow_nan=False, separators=(",", ":")).encode()
    try:
        async with asyncio.timeout(seconds):
            response = await client.post(
                url,
                content=content,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
    except (TimeoutError, httpx.HTTPError, OSError) as exc:
        return Answer(False, None, _network_reason(exc, token))
    if 200 <= response.status_code < 300:
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            return Answer(True, response.status_code, str(response.status_code), response.json())
        return Answer(True, response.status_code, str(response.status_code))
    return Answer(False, response.status_code, _reason_from(response, token))


def make_client(timeout: float) -> httpx.AsyncClient:
    """The HTTP client the sender and the command use: no redirects (the token stays put)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        headers={"User-Agent": f"guildwatch-agent/{__version__}"},
    )


def _chunks(vitals: Vitals) -> Iterator[list[tuple[str, int]] | None]:
    if len(vitals.guilds) <= MAX_GUILDS_PER_REQUEST:
        yield None
        return
    items = iter(vitals.guilds.items())
    while chunk := list(itertools.islice(items, MAX_GUILDS_PER_REQUEST)):
        yield chunk


class Heartbeat:
    """Posts the bot's heartbeat every ``interval`` seconds; never raises into the bot.

    Use ``start()`` / ``await stop()``, ``async with Heartbeat(...)``, or ``await run()`` as a
    task of your own. :meth:`beat` sends one beat now.

    Args:
        api: The server's base URL, e.g. ``https://status.example.org``.
        token: The bot token the server accepts for heartbeats (not the Discord token).
        version: The bot's version, shown as ``v1.2.3``.
        vitals: Called before each beat for what to report (see the library adapters);
            ``None`` reports a plain "alive" with no guilds.
        interval: Seconds between beats; keep it well below the server's offline timeout.
        timeout: Seconds one request may take, answer included.
        endpoint: ``"auto"`` (bot-level, per-guild after a 404), ``"bot"`` or ``"guilds"``.
        started_at: When the bot started; default: when this object was made.
        concurrency: Per-guild requests in flight at once.
        reprobe_after: Seconds after a 404 before the bot-level endpoint is tried again.
    """

    def __init__(
        self,
        api: str,
        token: str,
        *,
        version: str | None = None,
        vitals: VitalsSource | None = None,
        interval: float = 30.0,
        timeout: float = 5.0,
        endpoint: Endpoint = "auto",
        started_at: datetime | None = None,
        concurrency: int = 8,
        reprobe_after: float = 3600.0,
    ) -> None:
        self.api = check_api(api)
        self._token = check_token(token)
        if version is not None and len(version) > MAX_VERSION_CHARS:
            raise ValueError(f"version longer than {MAX_VERSION_CHARS} characters")
        if not interval > 0 or not timeout > 0 or concurrency < 1:
            raise ValueError("interval and timeout must be > 0 and concurrency >= 1")
        if endpoint not in ("auto", "bot", "guilds"):
            raise ValueError(f"endpoint must be auto, bot or guilds, not {endpoint!r}")
        self.version = version
        self.interval = float(interval)
        self.timeout = float(timeout)
        self.endpoint: Endpoint = endpoint
        self.started_at = started_at or datetime.now(UTC)
        self.concurrency = concurrency
        self.reprobe_after = reprobe_after
        self._vitals = vitals
        self._said: tuple[State, str | None] | None = None
        self.beats = 0
        """Beats the server accepted."""
        self.failures = 0
        """Beats that failed, in all."""
        self.consecutive_failures = 0
        self.last_error: str | None = None
        self._outage: str | None = None
        self._bot_missing_at: float | None = None
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return (
            f"Heartbeat(api={self.api!r}, version={self.version!r}, interval={self.interval}, "
            f"beats={self.beats}, failures={self.failures}, using={self.using!r})"
        )

    @property
    def running(self) -> bool:
        """True while the loop started by :meth:`start` is beating."""
        return self._task is not None and not self._task.done()

    @property
    def using(self) -> Literal["bot", "guilds"]:
        """The endpoint the next beat goes to."""
        if self.endpoint != "auto":
            return self.endpoint
        missing = self._bot_missing_at
        if missing is None or time.monotonic() - missing >= self.reprobe_after:
            return "bot"
        return "guilds"

    # -- one beat --------------------------------------------------------------------------

    async def beat(self) -> bool:
        """Send one beat now; True if the server took it. Never raises (but cancellation)."""
        try:
            vitals = await self._read_vitals()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The bot's own code (or a library) broke; that must not break the bot's loop.
            self._failed(f"reading the vitals failed ({type(exc).__name__}: {exc})", "vitals")
            return False
        try:
            async with asyncio.timeout(max(self.timeout, self.interval)):
                answer = await self._send(vitals)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            answer = Answer(False, None, "no answer in time (timeout)")
        except Exception as exc:
            answer = Answer(False, None, f"unexpected error ({type(exc).__name__}: {exc})")
        if answer.ok:
            self._succeeded()
        else:
            self._failed(answer.reason, str(answer.status) if answer.status else answer.reason)
        return answer.ok

    async def _read_vitals(self) -> Vitals:
        if self._vitals is None:
            vitals = Vitals()
        else:
            produced = self._vitals()
            vitals = await produced if inspect.isawaitable(produced) else produced
        if not isinstance(vitals, Vitals):
            raise TypeError(f"the vitals callable returned {type(vitals).__name__}, not Vitals")
        changes: dict[str, Any] = {}
        if vitals.started_at is None:
            changes["started_at"] = self.started_at
        if self._said is not None:
            changes["state"], changes["message"] = self._said
        return dataclasses.replace(vitals, **changes) if changes else vitals

    def say(self, state: State | None = None, message: str | None = None) -> None:
        """Override the state and message of the next beats, e.g. ``say("maintenance",
        "deploying v1.3")``; ``say()`` hands the word back to the vitals source.

        Raises:
            ValueError: ``state`` is not one of the protocol's words.
        """
        if state is None:
            self._said = None
            return
        if state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
        self._said = (state, clean_message(message))

    async def _send(self, vitals: Vitals) -> Answer:
        client = self._client_now()
        if self.using == "bot":
            answer = await self._send_bot(client, vitals)
            if self.endpoint == "bot" or answer.status not in (404, 405):
                return answer
            self._bot_missing_at = time.monotonic()
            log.info(
                "guildwatch server %s has no bot-level heartbeat (%s): sending one heartbeat "
                "per guild instead",
                self.api,
                answer.status,
            )
        return await self._send_guilds(client, vitals)

    async def _send_bot(self, client: httpx.AsyncClient, vitals: Vitals) -> Answer:
        url = f"{self.api}/api/v1/bot/heartbeat"
        answer = Answer(False, None, "nothing sent")
        for chunk in _chunks(vitals):
            answer = await post(
                client, url, bot_body(vitals, self.version, chunk), self._token, self.timeout
            )
            if not answer.ok:
                return answer
        if self._bot_missing_at is not None:
            self._bot_missing_at = None
        return answer

    async def _send_guilds(self, client: httpx.AsyncClient, vitals: Vitals) -> Answer:
        guilds = [guild for guild in vitals.guilds if GUILD_ID_RE.fullmatch(guild)]
        if not guilds:
            # Nothing reached the server: a failure, so that an operator on an older server
            # learns why the bot does not show up (it reports no guilds, e.g. not ready yet).
            return Answer(False, None, "per-guild heartbeats, but the bot reports no guilds yet")
        gate = asyncio.Semaphore(self.concurrency)

        async def one(guild: str) -> Answer:
            async with gate:
                url = f"{self.api}/api/v1/guilds/{guild}/heartbeat"
                body = guild_body(vitals, self.version, guild)
                return await post(client, url, body, self._token, self.timeout)

        answers = await asyncio.gather(*(one(guild) for guild in guilds))
        failed = [answer for answer in answers if not answer.ok]
        if not failed:
            return Answer(True, 200, f"{len(guilds)} guild heartbeats")
        first = failed[0]
        reason = first.reason
        if len(guilds) > 1:
            reason = f"{len(failed)} of {len(guilds)} guild heartbeats failed, e.g. {reason}"
        return Answer(False, first.status, reason)

    def _client_now(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = make_client(self.timeout)
        return self._client

    def _failed(self, reason: str, kind: str) -> None:
        reason = redact(reason, self._token)
        self.failures += 1
        self.consecutive_failures += 1
        self.last_error = reason
        if self._outage != kind:
            # Once per outage (and when its reason changes): a bot that beats every 30 s
            # against a dead server must not write 2,880 warnings a day.
            self._outage = kind
            log.warning(
                "guildwatch heartbeat to %s failed: %s; beats go on every %g s, counted "
                "(logged again when the reason changes or it recovers)",
                self.api,
                reason,
                self.interval,
            )
        else:
            log.debug("guildwatch heartbeat to %s failed again: %s", self.api, reason)

    def _succeeded(self) -> None:
        self.beats += 1
        if self._outage is not None:
            log.info(
                "guildwatch heartbeat to %s works again after %d failed beats",
                self.api,
                self.consecutive_failures,
            )
        self._outage = None
        self.consecutive_failures = 0
        self.last_error = None

    # -- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """Beat now and every ``interval`` seconds until cancelled (or :meth:`stop`)."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        try:
            while True:
                await self.beat()
                due += self.interval
                now = loop.time()
                if due < now:
                    # A beat overran (a slow server): skip the missed slots, do not burst.
                    due = now + self.interval - (now - due) % self.interval
                await asyncio.sleep(due - now)
        finally:
            await self.aclose()

    def start(self) -> asyncio.Task[None]:
        """Run in a task of the current event loop (idempotent); returns the task."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self.run(), name="guildwatch-heartbeat"
            )
        return self._task

    async def stop(self) -> None:
        """Stop beating and close the connection pool (idempotent)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            # wait() rather than await: our own caller's cancellation must still propagate.
            await asyncio.wait({task})
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client; a later beat opens a new one."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
