"""Fault injection, per guild, for tests (only with ``--faults``).

A fault is set with ``POST /api/v1/_faults/{guild}`` (bot token) and a JSON body; ``{}`` heals.
Several keys combine. What each one does to that guild's streams:

``{"drop_after": N}``
    every stream ends cleanly (end of body) after N events; open streams that already sent N
    end at once, so ``{"drop_after": 0}`` drops them now and new ones right after the headers.
``{"stall": true}``
    open streams go silent (no events, no ``: heartbeat``), new requests get no bytes at all,
    not even headers; the socket stays open. Healing ends the stalled streams, because events
    were swallowed while stalled.
``{"malformed": true}`` (or ``"json"``), ``{"malformed": "type"}``
    every event sent from now on carries invalid JSON, or a valid object with a wrong type.
``{"status": 503, "retry_after": 2}``
    stream and status requests are answered with that status (204 or 400-599) and
    ``Retry-After``; open streams end at once so that clients meet it on reconnect.
``{"content_type": "text/html"}``
    streams are answered 200 with that content type and an HTML body, like a captive portal.

On the shared stream (``GET /api/v1/guilds/status/stream``) a guild's ``status`` fault of 403
or 404 makes every open shared stream send ``event: gone`` for it (``forbidden`` or
``not_found``) and stop carrying it; a new shared stream does not carry it (``?guild=`` asking
for it gets the ``gone``). Other statuses leave the shared stream alone. A guild's
``malformed`` applies to its events on the shared stream too (``"guild"`` still first).

The reserved id :data:`SHARED` (``_shared``, which no test guild uses) targets the shared
stream itself: ``status`` answers it (e.g. 404, 405 or 501: "no shared stream here"; 503 with
``retry_after``) and ends the open ones, ``stall``, ``drop_after`` (counting status events),
``content_type`` and ``malformed`` (every guild's events) as above.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import asdict, dataclass
from typing import Literal

Malformed = Literal["json", "type"]

MALFORMED_DATA: dict[Malformed, str] = {
    "json": '{"healthy": tru',
    "type": '{"healthy":"yes","lastHeartbeat":null,"version":null}',
}
"""What a malformed event carries: broken JSON, or a wrong type (docs/protocol.md: reject whole)."""

SHARED = "_shared"
"""The fault id of the shared stream itself (a valid guild id, reserved for this)."""

_KEYS = {"drop_after", "stall", "malformed", "status", "retry_after", "content_type"}


@dataclass(frozen=True, slots=True)
class Fault:
    """The faults active for one guild; the default value means healthy."""

    drop_after: int | None = None
    stall: bool = False
    malformed: Malformed | None = None
    status: int | None = None
    retry_after: int | None = None
    content_type: str | None = None

    def as_json(self) -> dict[str, object]:
        """The active keys only, for the endpoint's answer."""
        return {key: value for key, value in asdict(self).items() if value not in (None, False)}


class FaultError(ValueError):
    """A fault body that does not make sense; answered with 422 and this message."""


def _int(body: dict[str, object], key: str, low: int, high: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FaultError(f"{key} must be an integer from {low} to {high}")
    return value


def parse_fault(body: object) -> Fault:
    """Validate a fault body.

    Raises:
        FaultError: Unknown keys or wrong types.
    """
    if not isinstance(body, dict):
        raise FaultError("the body must be a JSON object")
    unknown = sorted(set(body) - _KEYS)
    if unknown:
        raise FaultError(f"unknown fault keys: {', '.join(unknown)}")
    stall = body.get("stall", False)
    if not isinstance(stall, bool):
        raise FaultError("stall must be true or false")
    malformed_value = body.get("malformed")
    malformed: Malformed | None
    if malformed_value is None or malformed_value is False:
        malformed = None
    elif malformed_value is True or malformed_value == "json":
        malformed = "json"
    elif malformed_value == "type":
        malformed = "type"
    else:
        raise FaultError('malformed must be true, "json" or "type"')
    status = _int(body, "status", 204, 599)
    if status is not None and 204 < status < 400:
        raise FaultError("status must be 204 or from 400 to 599")
    content_type = body.get("content_type")
    if content_type is not None and (
        not isinstance(content_type, str) or not content_type.isprintable() or not content_type
    ):
        raise FaultError("content_type must be a non-empty printable string")
    return Fault(
        drop_after=_int(body, "drop_after", 0, 1_000_000),
        stall=stall,
        malformed=malformed,
        status=status,
        retry_after=_int(body, "retry_after", 0, 86_400),
        content_type=content_type,
    )


class FaultBoard:
    """The active fault per guild, plus a way to wait for the next change (stalls)."""

    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}
        self._changed = asyncio.Event()

    def get(self, guild_id: str) -> Fault:
        """The guild's fault; a healthy default when none is set."""
        return self._faults.get(guild_id, _HEALTHY)

    def items(self) -> list[tuple[str, Fault]]:
        """Every guild with an active fault."""
        return list(self._faults.items())

    def set(self, guild_id: str, fault: Fault) -> Fault:
        """Replace the guild's fault and wake waiters; returns the previous one."""
        previous = self.get(guild_id)
        if fault == _HEALTHY:
            self._faults.pop(guild_id, None)
        else:
            self._faults[guild_id] = fault
        self.wake()
        return previous

    def wake(self) -> None:
        """Wake everyone waiting in :meth:`changed` (a fault changed, or the server stops)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def changed(self) -> None:
        """Wait until the next :meth:`set` or :meth:`wake`."""
        await self._changed.wait()


_HEALTHY = Fault()


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds, rounded up (a client must wait at least that long)."""
    return str(max(0, math.ceil(seconds)))
