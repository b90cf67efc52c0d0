"""The reconnect policy, table-driven and without any network.

One row per answer of docs/protocol.md's table "What each answer means to the client". Each
failure is made the way the engine makes it: ``check_status`` on an ``httpx.Response`` built in
memory, ``translate_errors`` around the httpx exception, the SSE parser for an oversized event.
Randomness is pinned through the injected source; times are passed in, never read.
"""

from __future__ import annotations

import errno
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import pytest

from guildwatch.engine._policy import (
    MAX_WAIT,
    PollAgain,
    ReconnectPolicy,
    Retry,
    Stop,
)
from guildwatch.engine._settings import EngineSettings
from guildwatch.engine._sse import EventParser
from guildwatch.engine._stream import check_status, translate_errors
from guildwatch.errors import (
    ConnectionFailed,
    EventTooLarge,
    GuildwatchError,
    PayloadError,
    WrongContentType,
)
from guildwatch.store import Problem

URL = "http://127.0.0.1:9/api/v1/guilds/1/status/stream"
NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)
SETTINGS = EngineSettings(
    api_url="http://127.0.0.1:9",
    token="tok",
    backoff_base=1.0,
    backoff_cap=30.0,
    backoff_jitter=0.5,
    max_retries=3,
    min_uptime_for_reset=60.0,
    poll_interval=60.0,
    slow_retry=300.0,
)


def policy(rand: float = 0.0, **overrides: Any) -> ReconnectPolicy:
    settings = replace(SETTINGS, **overrides) if overrides else SETTINGS
    return ReconnectPolicy(settings, lambda: rand)


def answered(code: int, headers: dict[str, str] | None = None) -> GuildwatchError:
    """The error ``check_status`` raises for this answer."""
    response = httpx.Response(code, headers=headers, request=httpx.Request("GET", URL))
    try:
        check_status(response, now=NOW)
    except GuildwatchError as exc:
        return exc
    raise AssertionError(f"HTTP {code} raised nothing")


def translated(exc: Exception) -> GuildwatchError:
    """The error ``translate_errors`` turns an httpx exception into."""
    try:
        with translate_errors(URL, SETTINGS):
            raise exc
    except GuildwatchError as translation:
        return translation
    raise AssertionError("not translated")


def reset() -> GuildwatchError:
    try:
        raise httpx.ReadError("reset") from ConnectionResetError(errno.ECONNRESET, "reset")
    except httpx.ReadError as exc:
        return translated(exc)


def too_large() -> GuildwatchError:
    try:
        EventParser(64).feed(b"data: " + b"x" * 100)
    except EventTooLarge as exc:
        return exc
    raise AssertionError("no EventTooLarge")


@dataclass(frozen=True)
class Row:
    answer: str
    failure: Callable[[], GuildwatchError]
    fatal: bool
    forbids_polling: bool = False
    wait: float = 1.0
    """The first reconnect's delay with no jitter (the backoff base, or the server's floor)."""


HTTP_DATE = (NOW + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")

ANSWERS = [
    Row("200 text/html", lambda: WrongContentType("200 but text/html"), fatal=True),
    Row("200 without content type", lambda: WrongContentType("200 but none"), fatal=True),
    Row("204", lambda: answered(204), fatal=True),
    Row("redirect loop", lambda: translated(httpx.TooManyRedirects("loop")), fatal=False),
    Row("redirect to ftp:", lambda: translated(httpx.UnsupportedProtocol("ftp")), fatal=False),
    *(
        Row(f"{code} not followed", partial(answered, code), fatal=False)
        for code in (301, 302, 303, 304, 307, 308)
    ),
    Row("401", lambda: answered(401), fatal=True, forbids_polling=True),
    Row("403", lambda: answered(403), fatal=True, forbids_polling=True),
    Row("404", lambda: answered(404), fatal=True, forbids_polling=True),
    Row("429 Retry-After 5", lambda: answered(429, {"Retry-After": "5"}), fatal=False, wait=5.0),
    Row("503 Retry-After 7", lambda: answered(503, {"Retry-After": "7"}), fatal=False, wait=7.0),
    Row("503 Retry-After date", lambda: answered(503, {"Retry-After": HTTP_DATE}), False, wait=90),
    Row("429 without Retry-After", lambda: answered(429), fatal=False),
    *(
        Row(f"other {code}", partial(answered, code), fatal=False)
        for code in (400, 405, 418, 500, 502, 504)
    ),
    Row("network error", lambda: translated(httpx.ConnectError("refused")), fatal=False),
    Row("connect timeout", lambda: translated(httpx.ConnectTimeout("slow")), fatal=False),
    Row("reset", reset, fatal=False),
    Row("clean end", lambda: ConnectionFailed("The server ended the stream."), fatal=False),
    Row("watchdog silence", lambda: translated(httpx.ReadTimeout("quiet")), fatal=False),
    Row("event too large", too_large, fatal=False),
    Row("invalid URL", lambda: translated(httpx.InvalidURL("bad")), True, forbids_polling=True),
]


@pytest.mark.parametrize("row", ANSWERS, ids=[row.answer for row in ANSWERS])
def test_each_answer_on_the_stream(row: Row) -> None:
    failure = row.failure()
    decision = policy().after_stream_failure(failure, attempt=0, uptime=None)
    problem = Problem(failure.kind, failure.user_message)
    if row.fatal:
        # No fast loop: in error, tried again only at the slow cadence; the counter is kept.
        assert decision == Stop(
            delay=300.0, attempt=0, problem=problem, forbid_polling=row.forbids_polling
        )
        assert decision.poll is not row.forbids_polling
    else:
        assert decision == Retry(delay=row.wait, attempt=1, problem=problem, poll=True)


@pytest.mark.parametrize("row", ANSWERS, ids=[row.answer for row in ANSWERS])
def test_each_answer_on_a_poll(row: Row) -> None:
    failure = row.failure()
    decision = policy().after_poll(failure, attempt=2)
    problem = Problem(failure.kind, failure.user_message)
    if row.forbids_polling:
        assert decision == Stop(delay=None, attempt=2, problem=problem, forbid_polling=True)
    else:
        # Polls keep their interval (a Retry-After only stretches it); a 204 or an HTML page
        # stops the stream, not the polls.
        wait = max(60.0, row.wait)
        assert decision == Retry(delay=wait, attempt=3, problem=problem, poll=True)


def test_the_table_names_every_kind_of_answer() -> None:
    kinds = {row.failure().kind for row in ANSWERS}
    assert kinds == {
        "content_type",
        "server_stop",
        "redirect",
        "auth",
        "forbidden",
        "not_found",
        "http",
        "network",
        "timeout",
        "too_large",
        "config",
    }


# -- 200 event stream: the attempt counter and the stable-connection reset ----------------


@pytest.mark.parametrize(
    ("attempt", "uptime", "after"),
    [
        (0, None, 1),  # never opened
        (2, None, 3),
        (2, 0.1, 3),  # accepted and dropped at once: still a run of failures
        (2, 59.9, 3),
        (2, 60.0, 1),  # lived min_uptime_for_reset: the run is over
        (2, 3600.0, 1),
    ],
)
def test_the_attempt_counter_resets_only_after_a_stable_connection(
    attempt: int, uptime: float | None, after: int
) -> None:
    clean_end = ConnectionFailed("The server ended the stream.")
    decision = policy().after_stream_failure(clean_end, attempt=attempt, uptime=uptime)
    assert isinstance(decision, Retry)
    assert decision.attempt == after
    assert decision.delay == 2.0 ** (after - 1)


def test_a_flapping_server_reaches_max_retries_despite_connecting() -> None:
    clean_end = ConnectionFailed("The server ended the stream.")
    decision = policy().after_stream_failure(clean_end, attempt=3, uptime=59.0)
    assert isinstance(decision, Stop)
    assert decision.attempt == 4


def test_a_stable_connection_resets_before_a_fatal_answer_too() -> None:
    decision = policy().after_stream_failure(answered(401), attempt=3, uptime=61.0)
    assert isinstance(decision, Stop)
    assert decision.attempt == 0


@pytest.mark.parametrize(("uptime", "attempt", "poll"), [(1.0, 0, False), (1.0, 1, True)])
def test_a_dropped_stream_reconnects_once_before_polling(
    uptime: float, attempt: int, poll: bool
) -> None:
    # A server restart drops every guild at once: no poll beside the first reconnect.
    decision = policy().after_stream_failure(reset(), attempt=attempt, uptime=uptime)
    assert isinstance(decision, Retry)
    assert decision.poll is poll


def test_a_stream_that_never_opened_polls_from_the_first_failure() -> None:
    decision = policy().after_stream_failure(reset(), attempt=0, uptime=None)
    assert isinstance(decision, Retry)
    assert decision.poll


# -- max_retries and the slow retry --------------------------------------------------------


def test_max_retries_then_connection_lost_with_slow_retries() -> None:
    decide = policy().after_stream_failure
    failure = answered(500)
    attempt = 0
    delays = []
    for _ in range(3):
        decision = decide(failure, attempt=attempt, uptime=None)
        assert isinstance(decision, Retry)
        delays.append(decision.delay)
        attempt = decision.attempt
    assert delays == [1.0, 2.0, 4.0]
    gave_up = decide(failure, attempt=attempt, uptime=None)
    assert gave_up == Stop(
        delay=300.0,
        attempt=4,
        problem=Problem(
            "http",
            f"{failure.user_message} (gave up after 4 attempts; retrying every 300 s)",
        ),
        forbid_polling=False,
    )
    # Giving up is not stopping: each slow retry that fails keeps the slow cadence.
    again = decide(failure, attempt=gave_up.attempt, uptime=None)
    assert isinstance(again, Stop)
    assert (again.delay, again.attempt, again.poll) == (300.0, 5, True)
    assert "gave up after 5 attempts" in again.problem.message


def test_max_retries_zero_gives_up_at_the_first_failure() -> None:
    decision = policy(max_retries=0, slow_retry=12.5).after_stream_failure(
        reset(), attempt=0, uptime=None
    )
    assert isinstance(decision, Stop)
    assert decision.delay == 12.5
    assert decision.problem.message.endswith("(gave up after 1 attempt; retrying every 12.5 s)")


def test_a_fatal_answer_retries_at_the_slow_cadence_without_counting() -> None:
    decide = policy(slow_retry=42.0).after_stream_failure
    for attempt in (0, 1, 7):
        decision = decide(answered(403), attempt=attempt, uptime=None)
        assert decision == Stop(
            delay=42.0,
            attempt=attempt,
            problem=decision.problem,
            forbid_polling=True,
        )


# -- backoff: schedule, floors, jitter, the clamp ------------------------------------------


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    assert [policy().backoff(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert policy().backoff(10_000) == 30.0


def test_jitter_only_adds_up_to_its_fraction() -> None:
    assert policy(rand=0.999).backoff(1) == pytest.approx(1.4995)
    assert policy(rand=0.5).backoff(3) == pytest.approx(5.0)
    assert policy(rand=0.999).backoff(20) == pytest.approx(44.985)


@pytest.mark.parametrize("rand", [0.0, 0.25, 0.5, 0.999])
@pytest.mark.parametrize("source", ["retry:", "Retry-After", "both"])
def test_server_floors_are_never_undercut_and_jitter_only_adds(rand: float, source: str) -> None:
    retry_floor = 8.0 if source in ("retry:", "both") else 0.0
    header = {"Retry-After": "5"} if source in ("Retry-After", "both") else None
    decision = policy(rand).after_stream_failure(
        answered(503, header), attempt=0, uptime=None, retry_floor=retry_floor
    )
    assert isinstance(decision, Retry)
    floor = max(retry_floor, 5.0 if header else 0.0)
    assert decision.delay == pytest.approx(floor * (1 + 0.5 * rand))
    assert floor <= decision.delay <= floor * 1.5


def test_a_floor_below_the_schedule_changes_nothing() -> None:
    decision = policy(max_retries=10).after_stream_failure(
        answered(503, {"Retry-After": "5"}), attempt=4, uptime=None, retry_floor=2.0
    )
    assert isinstance(decision, Retry)
    assert decision.delay == 16.0  # attempt 5: base * 2**4


@pytest.mark.parametrize("huge", [1e12, math.inf])
def test_a_server_floor_is_clamped_once_to_an_hour(huge: float) -> None:
    decide = policy(rand=0.5).after_stream_failure
    by_retry = decide(reset(), attempt=0, uptime=None, retry_floor=huge)
    assert isinstance(by_retry, Retry)
    assert by_retry.delay == MAX_WAIT * 1.25  # the clamp, then jitter on top
    assert policy().backoff(1, floor=huge) == MAX_WAIT


def test_a_huge_retry_after_header_is_clamped_by_the_policy_alone() -> None:
    failure = answered(503, {"Retry-After": "9" * 400})  # parses to inf, unclamped
    stream = policy().after_stream_failure(failure, attempt=0, uptime=None)
    assert isinstance(stream, Retry)
    assert stream.delay == MAX_WAIT
    polled = policy().after_poll(failure)
    assert isinstance(polled, Retry)
    assert polled.delay == MAX_WAIT


# -- polling: cadence and outcomes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("since_last_poll", "delay"),
    [(None, 0.0), (0.0, 60.0), (10.0, 50.0), (59.5, 0.5), (60.0, 0.0), (3600.0, 0.0)],
)
def test_an_outage_polls_at_once_only_if_no_poll_ran_within_the_interval(
    since_last_poll: float | None, delay: float
) -> None:
    assert policy().first_poll_delay(since_last_poll) == pytest.approx(delay)


def test_polls_stay_an_interval_apart_across_outages_that_follow_each_other() -> None:
    """A stream flapping every 0.2 s for 6 s, poll_interval 6 s: at most 2 polls.

    Each outage starts a poller whose first poll waits ``first_poll_delay``; the outage
    ends (the stream is back) 0.1 s later, cancelling a poll not yet sent.
    """
    flapping = policy(poll_interval=6.0)
    polls: list[float] = []
    for outage in itertools.count():
        start = outage * 0.2
        if start >= 6.0:
            break
        since = None if not polls else start - polls[-1]
        due = start + flapping.first_poll_delay(since)
        if due < start + 0.1:  # sent before the stream came back
            polls.append(due)
    assert 1 <= len(polls) <= 2, polls
    assert all(b - a >= 6.0 for a, b in itertools.pairwise(polls))


def test_a_poll_that_answers_polls_again_after_the_interval_and_resets_attempts() -> None:
    assert policy().after_poll(None, attempt=4) == PollAgain(delay=60.0, attempt=0)


def test_a_bad_body_is_not_an_outage() -> None:
    decision = policy().after_poll(PayloadError("not a status"), attempt=2)
    assert decision == PollAgain(delay=60.0, attempt=2)


@pytest.mark.parametrize(("retry_after", "delay"), [("5", 60.0), ("120", 120.0)])
def test_retry_after_only_stretches_the_poll_interval(retry_after: str, delay: float) -> None:
    decision = policy().after_poll(answered(429, {"Retry-After": retry_after}))
    assert isinstance(decision, Retry)
    assert (decision.delay, decision.attempt) == (delay, 1)


# -- the start ----------------------------------------------------------------------------


def test_start_delay_spreads_over_start_jitter() -> None:
    assert policy(rand=0.5, start_jitter=10.0).start_delay() == 5.0
    assert policy(rand=0.5).start_delay() == 0.0


def test_jitter_comes_from_the_injected_source() -> None:
    draws = iter([0.1, 0.9])
    decide = ReconnectPolicy(SETTINGS, lambda: next(draws)).after_stream_failure
    first = decide(reset(), attempt=0, uptime=None)
    second = decide(reset(), attempt=0, uptime=None)
    assert isinstance(first, Retry)
    assert isinstance(second, Retry)
    assert first.delay == pytest.approx(1.05)
    assert second.delay == pytest.approx(1.45)
