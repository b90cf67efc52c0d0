"""Validation of what a bot reports: the vitals of docs/protocol.md ("Bot vitals").

Everything here is pure (no model, no I/O), so the rules are tested alone. A body is checked
whole and either yields a value or raises :class:`VitalsError` with a message for the bot's
operator; the routes turn that into a 422 before anything changes.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeGuard

from guildwatch.server._config import GUILD_ID_RE

MAX_VERSION_CHARS = 256
MAX_MESSAGE_CHARS = 200
MAX_STATE_CHARS = 32
MAX_TIMESTAMP_CHARS = 64
MAX_BOT_GUILDS = 100_000
MAX_BOT_SHARDS = 10_000

KNOWN_STATES = ("up", "degraded", "starting", "maintenance")
"""The words this version knows; others are kept as sent (docs/protocol.md)."""


class VitalsError(ValueError):
    """A body that is not what the protocol allows; the message names the field."""


def _reject_constant(name: str) -> object:
    # json.loads accepts NaN and Infinity by default; they are not JSON (RFC 8259).
    raise VitalsError(f"{name} is not JSON (send null when there is no value)")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def parse_json(body: bytes) -> object:
    """Strict JSON: UTF-8, no ``NaN``/``Infinity`` literals.

    Raises:
        VitalsError: Not UTF-8, not JSON, a non-JSON constant, or a number too long to parse.
    """
    try:
        return _DECODER.decode(body.decode("utf-8"))
    except VitalsError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError):
        # ValueError covers JSONDecodeError and Python's limit on digits in an integer.
        raise VitalsError("body is not valid JSON") from None


@dataclass(frozen=True, slots=True)
class Shard:
    """The shard that holds a guild."""

    id: int
    count: int
    connected: bool = True

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "count": self.count, "connected": self.connected}


@dataclass(frozen=True, slots=True)
class Vitals:
    """One heartbeat's vitals; None means not reported."""

    latency_ms: int | None = None
    """Rounded to whole milliseconds (jitter below that never makes an event)."""
    shard: Shard | None = None
    state: str | None = None
    message: str | None = None
    started_at: datetime | None = None

    def as_json(self) -> dict[str, object]:
        """The reported fields only, in the order of docs/protocol.md (absent = not reported)."""
        out: dict[str, object] = {}
        if self.latency_ms is not None:
            out["latencyMs"] = self.latency_ms
        if self.shard is not None:
            out["shard"] = self.shard.as_json()
        if self.state is not None:
            out["state"] = self.state
        if self.message is not None:
            out["message"] = self.message
        if self.started_at is not None:
            out["startedAt"] = rfc3339(self.started_at)
        return out

    def as_record(self) -> str | None:
        """The vitals as one JSON text for SQLite (None when nothing is reported)."""
        data = self.as_json()
        return json.dumps(data, separators=(",", ":")) if data else None

    @classmethod
    def from_record(cls, text: str | None) -> Vitals | None:
        """Read back :meth:`as_record`; anything unreadable counts as not reported."""
        if not text:
            return None
        try:
            document = parse_json(text.encode())
            if not isinstance(document, dict):
                return None
            return _vitals(document)
        except VitalsError:
            return None


NO_VITALS = Vitals()


def rfc3339(moment: datetime) -> str:
    """``2026-11-22T14:03:00Z``: UTC, whole seconds, ``Z`` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_int(value: object) -> TypeGuard[int]:
    return type(value) is int  # bool is an int subclass, and not a number here


def latency(value: object, field: str = "latencyMs") -> int | None:
    """A latency in whole ms: a finite number >= 0 (as a 64-bit float), or None."""
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise VitalsError(f"{field} must be a number or null")
    try:
        as_float = float(value)
    except OverflowError:
        raise VitalsError(f"{field} must be a finite number") from None
    if not math.isfinite(as_float):
        # 1e400 parses as infinity without any literal.
        raise VitalsError(f"{field} must be a finite number")
    if as_float < 0:
        raise VitalsError(f"{field} must not be negative")
    return value if isinstance(value, int) else round(value)


def _text(value: object, field: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise VitalsError(f"{field} must be a string or null")
    if len(value) > limit:
        raise VitalsError(f"{field} longer than {limit} characters")
    return value


def version(value: object) -> str | None:
    """A version string (at most 256 characters) or None."""
    return _text(value, "version", MAX_VERSION_CHARS)


def state(value: object) -> str | None:
    """Any short state word (unknown ones are the client's to show as degraded)."""
    text = _text(value, "state", MAX_STATE_CHARS)
    if text is not None and not text:
        raise VitalsError("state must not be empty (send null for up)")
    return text


_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(?:\.[0-9]{1,9})?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})?"
)


def timestamp(value: object, field: str = "startedAt") -> datetime | None:
    """An RFC 3339 time (no offset means UTC), or None."""
    text = _text(value, field, MAX_TIMESTAMP_CHARS)
    if text is None:
        return None
    try:
        if not _RFC3339.fullmatch(text):
            raise ValueError(text)
        moment = datetime.fromisoformat(text.upper().replace(" ", "T"))
    except ValueError:
        raise VitalsError(
            f"{field} must be an RFC 3339 time such as 2026-11-22T14:03:00Z"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def shard(value: object) -> Shard | None:
    """``{"id": int >= 0, "count": int >= 1, "connected": bool}`` with ``id < count``."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise VitalsError('shard must be an object such as {"id": 0, "count": 1} or null')
    shard_id, count = value.get("id"), value.get("count")
    connected = value.get("connected", True)
    if not _is_int(shard_id) or not _is_int(count):
        raise VitalsError("shard.id and shard.count must be whole numbers")
    if shard_id < 0 or count < 1:
        raise VitalsError("shard.id must be >= 0 and shard.count >= 1")
    if shard_id >= count:
        raise VitalsError("shard.id must be below shard.count")
    if not isinstance(connected, bool):
        raise VitalsError("shard.connected must be true or false")
    return Shard(shard_id, count, connected)


def _vitals(body: dict[str, object]) -> Vitals:
    return Vitals(
        latency_ms=latency(body.get("latencyMs")),
        shard=shard(body.get("shard")),
        state=state(body.get("state")),
        message=_text(body.get("message"), "message", MAX_MESSAGE_CHARS),
        started_at=timestamp(body.get("startedAt")),
    )


def guild_heartbeat(body: object) -> tuple[str | None, Vitals]:
    """The version and vitals of ``POST .../guilds/{guild}/heartbeat``.

    Raises:
        VitalsError: Anything the protocol does not allow; nothing is half-applied.
    """
    if not isinstance(body, dict):
        raise VitalsError('body must be a JSON object such as {"version": "1.2.3"}')
    return version(body.get("version")), _vitals(body)


@dataclass(frozen=True, slots=True)
class ShardReport:
    """One shard as the bot reported it."""

    id: int
    connected: bool
    latency_ms: int | None


@dataclass(frozen=True, slots=True)
class BotReport:
    """A validated ``POST /api/v1/bot/heartbeat`` body."""

    version: str | None
    started_at: datetime | None
    state: str | None
    message: str | None
    shard_count: int
    shards: tuple[ShardReport, ...]
    guilds: dict[str, int]
    """Guild id -> shard id (every shard id is in :attr:`shards`)."""


def bot_heartbeat(body: object) -> BotReport:
    """Validate a bot-level heartbeat whole (docs/protocol.md, "Endpoint written by the bot").

    Raises:
        VitalsError: A wrong type, a shard id at or past ``shardCount``, a duplicate shard, a
            guild on an unlisted shard, a malformed guild id, or too many guilds or shards.
    """
    if not isinstance(body, dict):
        raise VitalsError('body must be a JSON object such as {"version": "1.3.0", "shards": []}')
    raw_shards = body.get("shards", [])
    if raw_shards is None:
        raw_shards = []
    if not isinstance(raw_shards, list):
        raise VitalsError("shards must be a list")
    if len(raw_shards) > MAX_BOT_SHARDS:
        raise VitalsError(f"at most {MAX_BOT_SHARDS} shards in one heartbeat")
    shard_count = body.get("shardCount")
    if shard_count is None:
        shard_count = len(raw_shards)
    elif not _is_int(shard_count) or shard_count < 1:
        raise VitalsError("shardCount must be a whole number >= 1")
    shards: dict[int, ShardReport] = {}
    for number, raw in enumerate(raw_shards):
        if not isinstance(raw, dict):
            raise VitalsError(f"shards[{number}] must be an object")
        shard_id, connected = raw.get("id"), raw.get("connected", True)
        if not _is_int(shard_id) or shard_id < 0:
            raise VitalsError(f"shards[{number}].id must be a whole number >= 0")
        if shard_id >= shard_count:
            raise VitalsError(f"shards[{number}].id must be below shardCount ({shard_count})")
        if shard_id in shards:
            raise VitalsError(f"shard {shard_id} is listed twice")
        if not isinstance(connected, bool):
            raise VitalsError(f"shards[{number}].connected must be true or false")
        shards[shard_id] = ShardReport(
            shard_id, connected, latency(raw.get("latencyMs"), f"shards[{number}].latencyMs")
        )
    guilds = body.get("guilds", {})
    if guilds is None:
        guilds = {}
    if not isinstance(guilds, dict):
        raise VitalsError('guilds must be an object such as {"111111111111111111": 0}')
    if len(guilds) > MAX_BOT_GUILDS:
        raise VitalsError(f"at most {MAX_BOT_GUILDS} guilds in one heartbeat")
    match = GUILD_ID_RE.fullmatch
    for guild_id, shard_id in guilds.items():
        if type(shard_id) is not int or shard_id not in shards:
            raise VitalsError(f"guild {guild_id[:100]!r}: its shard must be a listed shard id")
        if not match(guild_id):
            raise VitalsError(f"guild {guild_id[:100]!r} is not a valid guild id")
    return BotReport(
        version=version(body.get("version")),
        started_at=timestamp(body.get("startedAt")),
        state=state(body.get("state")),
        message=_text(body.get("message"), "message", MAX_MESSAGE_CHARS),
        shard_count=shard_count,
        shards=tuple(sorted(shards.values(), key=lambda s: s.id)),
        guilds=guilds,
    )
