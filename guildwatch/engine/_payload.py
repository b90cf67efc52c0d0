"""Validation of one status payload (docs/protocol.md "Endpoints"), shared by stream and poller.

A payload is accepted whole or rejected whole: the caller keeps showing the last valid status
when this raises, so a bad event can never half-apply.
"""

from __future__ import annotations

import json
import json.scanner
import re
from datetime import UTC, datetime
from functools import lru_cache

from dateutil.parser import isoparse

from guildwatch.engine._settings import DEFAULT_SKEW_TOLERANCE
from guildwatch.errors import PayloadError
from guildwatch.store import BotStatus, Problem, utc_now


def _reject_constant(name: str) -> object:
    # Python's json accepts NaN and Infinity; JSON (RFC 8259) does not.
    raise ValueError(f"{name} is not JSON")


_MAX_TIMESTAMP_CHARS = 64
"""RFC 3339 needs ~35; the bound also keeps the parse cache small."""

_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
"""Built once: ``json.loads`` with any option builds a new decoder per call."""


_SCAN = json.scanner.make_scanner(_DECODER)  # type: ignore[arg-type]  # typeshed: wrong context type
"""The decoder's own scanner (C), the same options: what ``decode`` calls after the whitespace."""


def _decode_json(data: str) -> object:
    """``_DECODER.decode(data)``, twice as fast for the common case (``bench/throughput.py``).

    The scanner alone parses a document with no surrounding whitespace; anything else (a
    leading space, trailing text, an empty string) goes through the full ``decode``, which
    accepts the whitespace or raises what it raises.
    """
    try:
        document, end = _SCAN(data, 0)
    except StopIteration:
        return _DECODER.decode(data)
    return document if end == len(data) else _DECODER.decode(data)


def parse_status(
    data: str,
    *,
    now: datetime | None = None,
    skew_tolerance: float = DEFAULT_SKEW_TOLERANCE,
) -> tuple[BotStatus, Problem | None]:
    """Validate one JSON payload into a :class:`BotStatus`.

    Unknown fields are ignored (forward compatibility); ``lastHeartbeat`` without an offset is
    UTC. A heartbeat further in the future than ``skew_tolerance`` is kept as sent but comes
    with a ``clock_skew`` warning, so the screen never presents it as "just now".

    Args:
        data: The event's ``data`` or the polled body, as text.
        now: The current time (the store's clock); defaults to the wall clock.
        skew_tolerance: Seconds of future tolerated before warning.

    Returns:
        The status and an optional warning.

    Raises:
        PayloadError: Not JSON, not an object, ``healthy`` missing or not a boolean,
            ``lastHeartbeat`` not null or an RFC 3339 timestamp, ``version`` not null or a
            string.
    """
    try:
        document = _decode_json(data)
    except (ValueError, RecursionError) as exc:
        raise PayloadError("The server sent a status that is not valid JSON.") from exc
    if not isinstance(document, dict):
        raise PayloadError("The server sent a status that is not a JSON object.")
    healthy = document.get("healthy")
    if not isinstance(healthy, bool):
        raise PayloadError('The server sent a status without a true/false "healthy" field.')
    version = document.get("version")
    if version is not None and not isinstance(version, str):
        raise PayloadError('The server sent a status whose "version" is not text.')
    last_heartbeat = _parse_heartbeat(document.get("lastHeartbeat"))
    warning = None
    now = now if now is not None else utc_now()
    if last_heartbeat is not None and (last_heartbeat - now).total_seconds() > skew_tolerance:
        ahead = int((last_heartbeat - now).total_seconds())
        warning = Problem(
            "clock_skew",
            f"The bot's last heartbeat is {ahead} s in the future: a clock is wrong.",
        )
    return BotStatus(healthy, last_heartbeat, version), warning  # positional: the hot path


def _parse_heartbeat(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError('The server sent a status whose "lastHeartbeat" is not text.')
    if len(value) > _MAX_TIMESTAMP_CHARS:
        raise PayloadError('The server sent a status whose "lastHeartbeat" is far too long.')
    return _parse_timestamp(value)


_PLAIN_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)
"""The common shapes, for which the C ``fromisoformat`` gives what ``isoparse`` gives."""


@lru_cache(maxsize=64)
def _parse_timestamp(value: str) -> datetime:
    # Cached: a bot's heartbeat time repeats across many events. isoparse is the costliest
    # step of validation (bench/throughput.py), so the plain shapes go through the C parser
    # first; anything it refuses (hour 24, other ISO forms) still gets isoparse's verdict.
    parsed = None
    if _PLAIN_RFC3339.fullmatch(value):
        try:  # noqa: SIM105 (contextlib.suppress costs a third of this function)
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass  # e.g. hour 24: isoparse decides below
    try:
        if parsed is None:
            parsed = isoparse(value)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)  # docs/protocol.md: no offset means UTC
        return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise PayloadError(
            'The server sent a status whose "lastHeartbeat" is not a valid timestamp.'
        ) from exc
