"""What a bot says about itself, and how that becomes the heartbeat bodies of docs/protocol.md.

Latencies are kept in seconds, as discord.py and hikari report them, and turned into the wire's
milliseconds here. Anything a library reports that JSON cannot carry (NaN before the first
heartbeat ACK, infinity, a negative clock glitch) is sent as ``null``: a heartbeat must never
be invalid JSON because the gateway is still connecting.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal

State = Literal["up", "degraded", "starting", "maintenance"]
STATES: tuple[State, ...] = ("up", "degraded", "starting", "maintenance")

MAX_MESSAGE_CHARS = 200
"""The protocol's limit; a longer message is truncated (ending in an ellipsis), not refused,
so that a chatty status line never costs the bot its heartbeat."""

MAX_VERSION_CHARS = 256
MAX_SHARDS = 10_000
"""Shards in one bot-level heartbeat (docs/protocol.md)."""
MAX_GUILDS_PER_REQUEST = 100_000
"""Guilds in one bot-level heartbeat; a bigger bot is sent in several requests."""

GUILD_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,100}")
"""Guild ids the protocol allows (a Discord snowflake or a similar short id)."""


class VitalsError(ValueError):
    """Vitals that no valid heartbeat can carry (a negative shard id, an unknown state...)."""


def latency_ms(seconds: float | None) -> float | None:
    """Seconds to the wire's milliseconds; ``None`` for what JSON or the protocol cannot carry.

    NaN, infinity, negative values and values whose milliseconds overflow to infinity are all
    "not reported". The result is rounded to 0.1 ms: finer digits are jitter, not information.
    """
    if seconds is None or isinstance(seconds, bool):
        return None
    try:
        value = float(seconds) * 1000.0
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return round(value, 1)


def rfc3339(moment: datetime) -> str:
    """``2026-11-22T13:58:12Z``; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # isoformat, not strftime("%Y"): the latter does not pad years below 1000 to four digits.
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def clean_message(message: str | None) -> str | None:
    """At most :data:`MAX_MESSAGE_CHARS` characters of valid Unicode, or ``None``.

    Lone surrogates (which Python strings allow and UTF-8 does not) become U+FFFD, so that the
    body encodes; control characters and escapes are left to JSON, which escapes them.
    """
    if message is None:
        return None
    text = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in message)
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "\u2026"
    return text


def _check_shard_id(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise VitalsError(f"{what} must be an int, not {type(value).__name__}")
    if value < 0:
        raise VitalsError(f"{what} must be >= 0, not {value}")
    return value


@dataclass(frozen=True, slots=True)
class ShardVitals:
    """One gateway shard as the bot sees it."""

    id: int
    connected: bool = True
    latency: float | None = None
    """Seconds to the last heartbeat ACK; NaN or None when there is none yet."""

    def __post_init__(self) -> None:
        _check_shard_id(self.id, "shard id")


def _guild_map(guilds: Mapping[str, int] | Mapping[int, int]) -> Mapping[str, int]:
    result: dict[str, int] = {}
    for guild, shard in guilds.items():
        key = str(guild)
        if isinstance(guild, bool) or not GUILD_ID_RE.fullmatch(key):
            raise VitalsError(f"not a guild id: {key[:40]!r}")
        result[key] = _check_shard_id(shard, f"shard of guild {key}")
    return MappingProxyType(result)


@dataclass(frozen=True, slots=True)
class Vitals:
    """The bot's word at one moment: gateway latency, shards, where each guild lives, its state.

    Everything is optional; ``Vitals()`` is a plain "alive". Construction checks what a valid
    heartbeat needs (raising :class:`VitalsError`), so a bad value is found where it is made.
    """

    latency: float | None = None
    """Overall gateway latency in seconds (``Client.latency``); NaN means not known yet."""
    shards: tuple[ShardVitals, ...] = ()
    shard_count: int | None = None
    """How many shards the bot runs in all (it may run only some of them in this process)."""
    guilds: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Guild id -> id of the shard that holds it."""
    state: State = "up"
    message: str | None = None
    started_at: datetime | None = None
    _table: Mapping[int, ShardVitals] = field(
        init=False, repr=False, compare=False, default_factory=lambda: MappingProxyType({})
    )

    _count: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        shards = tuple(self.shards)
        if not all(isinstance(shard, ShardVitals) for shard in shards):
            raise VitalsError("shards must be ShardVitals")
        object.__setattr__(self, "shards", shards)
        object.__setattr__(self, "guilds", _guild_map(self.guilds))
        object.__setattr__(self, "message", clean_message(self.message))
        # Built once: every per-guild body looks its shard up here.
        table = {shard.id: shard for shard in shards}
        for shard_id in self.guilds.values():
            if shard_id not in table:
                table[shard_id] = ShardVitals(shard_id, connected=False)
        object.__setattr__(self, "_table", MappingProxyType(table))
        if self.state not in STATES:
            raise VitalsError(f"state must be one of {', '.join(STATES)}, not {self.state!r}")
        ids = [shard.id for shard in shards]
        if len(set(ids)) != len(ids):
            raise VitalsError("a shard id is listed twice")
        if self.shard_count is not None:
            count = _check_shard_id(self.shard_count, "shard count")
            if count < 1:
                raise VitalsError("shard count must be >= 1")
            too_big = [i for i in (*ids, *self.guilds.values()) if i >= count]
            if too_big:
                raise VitalsError(f"shard {too_big[0]} is not below the shard count {count}")
        highest = max(table, default=-1)
        object.__setattr__(
            self, "_count", self.shard_count if self.shard_count is not None else highest + 1
        )
        if len(table) > MAX_SHARDS:
            # The listed shards plus those the guilds name; shardCount itself may be larger
            # (a process that runs a slice of a big cluster).
            raise VitalsError(f"more than {MAX_SHARDS} shards")

    @property
    def count(self) -> int:
        """The shard count the wire carries: the given one, else what the ids imply."""
        return self._count

    def shard_table(self) -> Mapping[int, ShardVitals]:
        """Listed shards, plus every shard a guild names that is not listed: not connected
        as far as this process knows (the bot-level endpoint needs every guild's shard)."""
        return self._table


def _dumps_guard(body: dict[str, Any]) -> dict[str, Any]:
    # The converters never produce NaN or infinity; this makes sure of it, loudly.
    json.dumps(body, allow_nan=False)
    return body


def bot_body(
    vitals: Vitals, version: str | None, guilds: Iterable[tuple[str, int]] | None = None
) -> dict[str, Any]:
    """The body of ``POST /api/v1/bot/heartbeat``.

    Args:
        vitals: What to report.
        version: The bot's version, or None.
        guilds: The (guild, shard) pairs to carry, default all of ``vitals.guilds``; the
            sender passes slices of at most :data:`MAX_GUILDS_PER_REQUEST`.
    """
    table = _shard_table_sorted(vitals)
    body: dict[str, Any] = {
        "version": _version(version),
        "startedAt": rfc3339(vitals.started_at) if vitals.started_at else None,
        "state": vitals.state,
        "message": vitals.message,
        "shards": [
            {"id": s.id, "connected": s.connected, "latencyMs": latency_ms(s.latency)}
            for s in table
        ],
        "guilds": dict(vitals.guilds.items() if guilds is None else guilds),
    }
    if table or vitals.shard_count is not None:
        body["shardCount"] = vitals.count
    return _dumps_guard(body)


def _shard_table_sorted(vitals: Vitals) -> list[ShardVitals]:
    return sorted(vitals.shard_table().values(), key=lambda shard: shard.id)


def guild_body(vitals: Vitals, version: str | None, guild: str) -> dict[str, Any]:
    """The body of ``POST /api/v1/guilds/{guild}/heartbeat`` for one guild.

    The guild's shard gives ``latencyMs`` and ``shard``; a guild the vitals do not place on a
    shard gets the overall latency and no shard. As the bot-level endpoint does on the server,
    a guild on a disconnected shard reads ``degraded`` unless the bot said maintenance or
    starting.
    """
    shard_id = vitals.guilds.get(guild)
    state: State = vitals.state
    shard: dict[str, Any] | None = None
    latency = vitals.latency
    if shard_id is not None:
        info = vitals.shard_table()[shard_id]
        latency = info.latency
        shard = {"id": info.id, "count": vitals.count, "connected": info.connected}
        if not info.connected and state not in ("maintenance", "starting"):
            state = "degraded"
    return _dumps_guard(
        {
            "version": _version(version),
            "latencyMs": latency_ms(latency),
            "shard": shard,
            "state": state,
            "message": vitals.message,
            "startedAt": rfc3339(vitals.started_at) if vitals.started_at else None,
        }
    )


def _version(version: str | None) -> str | None:
    if version is not None and len(version) > MAX_VERSION_CHARS:
        raise VitalsError(f"version longer than {MAX_VERSION_CHARS} characters")
    return version
