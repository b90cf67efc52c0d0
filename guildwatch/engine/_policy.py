"""What to do after a failure: docs/protocol.md "What each answer means to the client" and
"Reconnection policy", as one pure object.

No I/O and no clock reads: the watcher passes in how long a connection lived and when the last
poll went out, and the random source for jitter is injected so tests pin it. It is asked once
per failure or poll, never per event. Every decision the watcher acts on comes from here:
fatal or transient, the attempt counter, ``max_retries``, the stable-connection reset, the
backoff with its floors and its one clamp, the slow retry, and the poll cadence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from guildwatch.engine._settings import EngineSettings
from guildwatch.errors import (
    ConfigError,
    GuildwatchError,
    PayloadError,
    ServerRejected,
    WrongContentType,
)
from guildwatch.store import Problem

MAX_WAIT = 3600.0
"""A server's ``retry:`` or ``Retry-After`` is honoured up to an hour; beyond that it is more
likely a bug than a plan, and the user can always retry by hand."""


@dataclass(frozen=True, slots=True)
class Retry:
    """Transient: reconnect after ``delay`` seconds; meanwhile the guild is ``disconnected``."""

    delay: float
    attempt: int
    """The attempt counter after this failure (1 for the first failure in a row)."""
    problem: Problem
    poll: bool
    """Poll while waiting (not before the first reconnect of a stream that had been open)."""


@dataclass(frozen=True, slots=True)
class Stop:
    """Fatal, or given up: the guild is in ``error`` with ``problem``.

    The stream is still tried again after ``delay`` seconds (the slow cadence) so a monitor
    recovers by itself; ``None`` waits for a manual retry.
    """

    delay: float | None
    attempt: int
    problem: Problem
    forbid_polling: bool
    """No poll of this guild until a manual retry (401/403/404, configuration)."""

    @property
    def poll(self) -> bool:
        return not self.forbid_polling


@dataclass(frozen=True, slots=True)
class PollAgain:
    """The server answered (a valid status, or a bad body): poll again after ``delay``."""

    delay: float
    attempt: int
    """The poll-only attempt counter: 0 after a valid status, unchanged after a bad body."""


Decision = Retry | Stop
PollDecision = PollAgain | Retry | Stop
"""A failed poll is a :class:`Retry` (poll again after its delay); in poll-only mode it is
also the connection's state, exactly as after a failed stream."""


def _problem(exc: GuildwatchError) -> Problem:
    return Problem(exc.kind, exc.user_message)


def is_fatal(failure: GuildwatchError) -> bool:
    """Answers a fast reconnect cannot fix: 204, 401, 403, 404, a 200 that is not an event
    stream, a bad configuration. Everything else (other statuses, network errors, resets,
    clean ends, watchdog silence, an event too large) is transient."""
    if isinstance(failure, WrongContentType | ConfigError):
        return True
    return isinstance(failure, ServerRejected) and failure.kind in (
        "auth",
        "forbidden",
        "not_found",
        "server_stop",
    )


def forbids_polling(failure: GuildwatchError) -> bool:
    """Answers that polling would only repeat (401/403/404, configuration); a 204 or a wrong
    content type stops the stream, not the polls."""
    if isinstance(failure, ConfigError):
        return True
    return isinstance(failure, ServerRejected) and failure.kind in (
        "auth",
        "forbidden",
        "not_found",
    )


def clamp(seconds: float) -> float:
    """The one limit on a server-given wait (``retry:``, ``Retry-After``)."""
    return min(seconds, MAX_WAIT)


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """The reconnect and poll decisions for one guild's settings.

    Args:
        settings: ``backoff_*``, ``max_retries``, ``min_uptime_for_reset``, ``slow_retry``,
            ``poll_interval`` and ``start_jitter`` are read; nothing else.
        rand: Returns a float in [0, 1), for jitter.
    """

    settings: EngineSettings
    rand: Callable[[], float]

    def start_delay(self) -> float:
        """Seconds before a guild's first connection (many guilds spread their start)."""
        jitter = self.settings.start_jitter
        return self.rand() * jitter if jitter > 0 else 0.0

    def backoff(self, attempt: int, *, floor: float = 0.0) -> float:
        """Seconds before reconnect number ``attempt`` (1 for the first failure).

        ``backoff_base * 2 ** (attempt - 1)`` capped at ``backoff_cap``, raised to the floor
        (clamped), then up to ``backoff_jitter`` of it added at random. Jitter only adds, so
        the floor is never undercut, and guilds that all hit the cap still spread out.
        """
        settings = self.settings
        exponent = min(max(attempt - 1, 0), 62)  # 2**62 * base is past any cap; no overflow
        scheduled = min(settings.backoff_cap, settings.backoff_base * 2.0**exponent)
        scheduled = max(scheduled, clamp(floor))
        return scheduled * (1.0 + settings.backoff_jitter * self.rand())

    def after_stream_failure(
        self,
        failure: GuildwatchError,
        *,
        attempt: int,
        uptime: float | None,
        retry_floor: float = 0.0,
    ) -> Decision:
        """What to do after the stream failed.

        Args:
            failure: Why it failed (a clean end of the body is a ``ConnectionFailed``).
            attempt: The attempt counter before this failure.
            uptime: How long the connection was open (seconds), None if it never opened.
            retry_floor: The server's last ``retry:`` in seconds (0 if it sent none); a
                ``Retry-After`` travels on the failure itself.
        """
        settings = self.settings
        dropped = uptime is not None
        if uptime is not None and uptime >= settings.min_uptime_for_reset:
            attempt = 0  # a stable connection ends the run of failures
        if is_fatal(failure):
            return Stop(
                delay=settings.slow_retry,
                attempt=attempt,
                problem=_problem(failure),
                forbid_polling=forbids_polling(failure),
            )
        attempt += 1
        if attempt > settings.max_retries:
            # The detail names what failed; the status already says "Connection lost".
            attempts = "attempt" if attempt == 1 else "attempts"
            problem = Problem(
                failure.kind,
                f"{failure.user_message} (gave up after {attempt} {attempts}; "
                f"retrying every {settings.slow_retry:g} s)",
            )
            return Stop(
                delay=settings.slow_retry, attempt=attempt, problem=problem, forbid_polling=False
            )
        floor = retry_floor
        if isinstance(failure, ServerRejected) and failure.retry_after is not None:
            floor = max(floor, failure.retry_after)
        return Retry(
            delay=self.backoff(attempt, floor=floor),
            attempt=attempt,
            problem=_problem(failure),
            # A server restart drops every guild at once: polling then as well would send two
            # requests per guild in the same instant. Poll once the reconnect failed too.
            poll=not (dropped and attempt == 1),
        )

    def first_poll_delay(self, since_last_poll: float | None) -> float:
        """Seconds before an outage's first poll: at once, unless a poll ran less than
        ``poll_interval`` ago (a flapping stream keeps the pace of the previous outage).

        Args:
            since_last_poll: Seconds since this guild's last poll went out, None if never.
        """
        if since_last_poll is None:
            return 0.0
        return max(0.0, self.settings.poll_interval - since_last_poll)

    def after_poll(self, failure: GuildwatchError | None, *, attempt: int = 0) -> PollDecision:
        """What to do after a poll: when to poll next (the failure counted or not), or stop.

        Args:
            failure: Why the poll failed, None if it brought a valid status.
            attempt: The poll-only attempt counter before this poll.
        """
        interval = self.settings.poll_interval
        if failure is None:
            return PollAgain(delay=interval, attempt=0)
        if forbids_polling(failure):
            return Stop(delay=None, attempt=attempt, problem=_problem(failure), forbid_polling=True)
        if isinstance(failure, PayloadError):  # the server answered: not an outage
            return PollAgain(delay=interval, attempt=attempt)
        wait = interval  # a Retry-After only stretches the interval, never shortens it
        if isinstance(failure, ServerRejected) and failure.retry_after is not None:
            wait = max(wait, clamp(failure.retry_after))
        return Retry(delay=wait, attempt=attempt + 1, problem=_problem(failure), poll=True)
