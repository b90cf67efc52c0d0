"""Validation of one status payload (docs/protocol.md "Endpoints"), shared by stream and poller.

A payload is accepted whole or rejected whole: the caller keeps showing the last valid status
when this raises, so a bad event can never half-apply. The bot vitals ("Bot vitals (optional
fields)") follow the same rule; a payload without them costs five dictionary look-ups more.
"""

from __future__ import annotations

import json
import json.scanner
import math
import re
from datetime import UTC, datetime
from functools import lru_cache

from dateutil.parser import isoparse

from guildwatch.engine._settings import DEFAULT_SKEW_TOLERANCE
from guildwatch.errors import PayloadError
from guildwatch.store import BotOverview, BotStatus, Problem, Shard, ShardVitals, utc_now


def _reject_constant(name: str) -> object:
    # Python's json accepts NaN and Infinity; JSON (RFC 8259) does not.
    raise ValueError(f"{name} is not JSON")


_MAX_TIMESTAMP_CHARS = 64
"""RFC 3339 needs ~35; the bound also keeps the parse cache small."""

MAX_MESSAGE_CHARS = 200
"""docs/protocol.md: a longer ``message`` makes the payload invalid."""

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
        PayloadError: Not JSON (``NaN`` and ``Infinity`` included), not an object,
            ``healthy`` missing or not a boolean, ``lastHeartbeat`` not null or an RFC 3339
            timestamp, ``version`` not null or a string, or a vital of the wrong type or
            range (a negative or non-finite latency, a shard with ``id >= count``, a message
            over 200 characters).
    """
    try:
        # _decode_json, inlined: this runs once per event.
        try:
            document, end = _SCAN(data, 0)
        except StopIteration:
            document = end = None
        if end != len(data):
            document = _DECODER.decode(data)
    except (ValueError, RecursionError) as exc:
        raise PayloadError("The server sent a status that is not valid JSON.") from exc
    return parse_status_document(document, now=now, skew_tolerance=skew_tolerance)


def parse_status_document(
    document: object,
    *,
    now: datetime | None = None,
    skew_tolerance: float = DEFAULT_SKEW_TOLERANCE,
) -> tuple[BotStatus, Problem | None]:
    """:func:`parse_status` over an already-decoded payload (the whole-payload rule holds).

    For a caller that decoded the JSON itself, e.g. the shared stream reads each event's
    ``guild`` first: the event is decoded once, not once per look.

    Raises:
        PayloadError: As :func:`parse_status`, but for the JSON syntax itself.
    """
    if not isinstance(document, dict):
        raise PayloadError("The server sent a status that is not a JSON object.")
    healthy = document.get("healthy")
    if not isinstance(healthy, bool):
        raise PayloadError('The server sent a status without a true/false "healthy" field.')
    version = document.get("version")
    if version is not None and not isinstance(version, str):
        raise PayloadError('The server sent a status whose "version" is not text.')
    last_heartbeat = _parse_heartbeat(document.get("lastHeartbeat"))
    vitals = None
    if not _VITAL_KEYS.isdisjoint(document):  # one C call when none is sent (the usual case)
        get = document.get
        latency, shard, state = get("latencyMs"), get("shard"), get("state")
        message, started = get("message"), get("startedAt")
        if not (
            latency is None
            and shard is None
            and state is None
            and message is None
            and started is None
        ):
            vitals = _vitals(latency, shard, state, message, started)
    warning = None
    now = now if now is not None else utc_now()
    if (
        last_heartbeat is not None
        # a heartbeat in the past (the usual case) needs no subtraction
        and (last_heartbeat > now or skew_tolerance < 0)
        and (last_heartbeat - now).total_seconds() > skew_tolerance
    ):
        ahead = int((last_heartbeat - now).total_seconds())
        warning = Problem(
            "clock_skew",
            f"The bot's last heartbeat is {ahead} s in the future: a clock is wrong.",
        )
    if vitals is None:
        # Built as a plain tuple: the named tuple's own __new__ is Python code.
        return _new_tuple(BotStatus, (healthy, last_heartbeat, version, *_NO_VITALS)), warning
    return BotStatus(healthy, last_heartbeat, version, *vitals), warning


_last_heartbeat: tuple[str, datetime] = ("", datetime.min.replace(tzinfo=UTC))
"""The last valid timestamp parsed and its value ("" never is one)."""

_new_tuple = tuple.__new__
_NO_VITALS = (None, None, None, None, None)

_VITAL_KEYS = frozenset(("latencyMs", "shard", "state", "message", "startedAt"))

_Vitals = tuple[float | None, Shard | None, str | None, str | None, datetime | None]


def _vitals(
    latency: object, shard: object, state: object, message: object, started: object
) -> _Vitals:
    if state is not None and not isinstance(state, str):
        raise PayloadError('The server sent a status whose "state" is not text.')
    if message is not None:
        if not isinstance(message, str):
            raise PayloadError('The server sent a status whose "message" is not text.')
        if len(message) > MAX_MESSAGE_CHARS:
            raise PayloadError(
                f'The server sent a status whose "message" is longer than {MAX_MESSAGE_CHARS}'
                " characters."
            )
    return (
        _parse_latency(latency),
        _parse_shard(shard),
        state,
        message,
        _parse_heartbeat(started, "startedAt"),
    )


def _parse_latency(value: object) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise PayloadError('The server sent a status whose "latencyMs" is not a number.')
    try:
        latency = float(value)
    except OverflowError:
        latency = math.inf  # an integer beyond any float: not finite either
    # 1e400 decodes to infinity without any literal, so the check is on the value.
    if not math.isfinite(latency) or latency < 0:
        raise PayloadError(
            'The server sent a status whose "latencyMs" is not a finite number >= 0.'
        )
    return latency


def _parse_shard(value: object) -> Shard | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PayloadError('The server sent a status whose "shard" is not an object.')
    shard_id, count = value.get("id"), value.get("count")
    connected = value.get("connected", True)
    if type(shard_id) is not int or type(count) is not int:  # bool is not a shard number
        raise PayloadError('The server sent a status whose "shard" id or count is not whole.')
    if shard_id < 0 or count < 1 or shard_id >= count:
        raise PayloadError(
            'The server sent a status whose "shard" is impossible (id must be >= 0 and '
            "below count)."
        )
    if not isinstance(connected, bool):
        raise PayloadError('The server sent a status whose "shard.connected" is not true/false.')
    return Shard(shard_id, count, connected)


def _parse_heartbeat(value: object, field: str = "lastHeartbeat") -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f'The server sent a status whose "{field}" is not text.')
    if len(value) > _MAX_TIMESTAMP_CHARS:
        raise PayloadError(f'The server sent a status whose "{field}" is far too long.')
    # A new heartbeat time in nearly every event: the cache below would miss each time, and
    # a miss through lru_cache costs more than the parse. The Z shape needs no offset work.
    global _last_heartbeat
    seen, parsed = _last_heartbeat
    if value == seen:
        return parsed  # a bot's heartbeat time repeats across its guilds' events
    if _PLAIN_UTC(value) is not None:
        try:
            parsed = datetime.fromisoformat(value)  # aware, tzinfo is UTC: as the cache gives
        except ValueError:
            parsed = _parse_timestamp(value, field)  # e.g. hour 24: isoparse decides
    else:
        parsed = _parse_timestamp(value, field)
    _last_heartbeat = value, parsed
    return parsed


_PLAIN_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)
"""The common shapes, for which the C ``fromisoformat`` gives what ``isoparse`` gives."""

_PLAIN_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z", re.ASCII).fullmatch
"""The commonest of them: UTC with ``Z``, which ``fromisoformat`` returns with ``tzinfo=UTC``."""


@lru_cache(maxsize=64)
def _parse_timestamp(value: str, field: str = "lastHeartbeat") -> datetime:
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
            f'The server sent a status whose "{field}" is not a valid timestamp.'
        ) from exc


def _whole(value: object, field: str, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if type(value) is not int or value < 0:  # bool is not a count
        raise PayloadError(f'The server sent a bot status whose "{field}" is not a whole number.')
    return value


def _parse_shard_vitals(value: object) -> ShardVitals:
    if not isinstance(value, dict):
        raise PayloadError("The server sent a bot status with a shard that is not an object.")
    shard_id = _whole(value.get("id"), "shards[].id")
    assert shard_id is not None
    connected = value.get("connected", True)
    if not isinstance(connected, bool):
        raise PayloadError(
            'The server sent a bot status whose "shards[].connected" is not true/false.'
        )
    return ShardVitals(
        shard_id,
        connected,
        _parse_latency(value.get("latencyMs")),
        _whole(value.get("guilds"), "shards[].guilds", allow_none=True),
        _parse_heartbeat(value.get("lastAck"), "lastAck"),
    )


def parse_bot_status(
    data: str,
    *,
    now: datetime | None = None,
    skew_tolerance: float = DEFAULT_SKEW_TOLERANCE,
) -> tuple[BotOverview, Problem | None]:
    """Validate one ``bot/status`` object (docs/protocol.md) into a :class:`BotOverview`.

    The whole-payload rule of :func:`parse_status` holds: the guild status's fields are
    checked by it, then the bot's own (``guildCount``, ``shardCount``, ``shards``), and any
    wrong type rejects the whole object.

    Raises:
        PayloadError: As :func:`parse_status`, or a count that is not a whole number >= 0,
            ``shards`` that is not a list of shard objects, or a shard's field of a wrong type.
    """
    try:
        document = _decode_json(data)
    except (ValueError, RecursionError) as exc:
        raise PayloadError("The server sent a status that is not valid JSON.") from exc
    status, warning = parse_status_document(document, now=now, skew_tolerance=skew_tolerance)
    assert isinstance(document, dict)  # parse_status_document checked it
    guild_count = _whole(document.get("guildCount", 0), "guildCount")
    shard_count = _whole(document.get("shardCount", 0), "shardCount")
    shards = document.get("shards", [])
    if shards is None:
        shards = []
    if not isinstance(shards, list):
        raise PayloadError('The server sent a bot status whose "shards" is not a list.')
    overview = BotOverview(
        status.healthy,
        status.last_heartbeat,
        status.version,
        status.started_at,
        status.state,
        status.message,
        guild_count or 0,
        shard_count or 0,
        tuple(_parse_shard_vitals(shard) for shard in shards),
    )
    return overview, warning
