"""The reconnect delay schedule (docs/protocol.md "Reconnection policy"), pure and deterministic.

Randomness is injected so tests can pin it; the engine passes ``random.random``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

MAX_FLOOR = 3600.0
"""A server's ``retry:`` or ``Retry-After`` is honoured up to an hour; beyond that it is more
likely a bug than a plan, and the user can always retry by hand."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with additive jitter and a server-given floor.

    Delay for failure ``n`` (1-based): ``base * 2 ** (n - 1)`` capped at ``cap``, raised to the
    floor, then up to ``jitter`` of it added at random. Jitter only adds, so the floor is never
    undercut, and guilds that all hit the cap still spread out instead of reconnecting in step.
    """

    base: float
    cap: float
    jitter: float
    rand: Callable[[], float]
    """Returns a float in [0, 1)."""

    def delay(self, attempt: int, *, floor: float = 0.0) -> float:
        """Seconds to wait before reconnect number ``attempt`` (1 for the first failure)."""
        exponent = min(max(attempt - 1, 0), 62)  # 2**62 * base is past any cap; no overflow
        scheduled = min(self.cap, self.base * 2.0**exponent)
        scheduled = max(scheduled, min(floor, MAX_FLOOR))
        return scheduled * (1.0 + self.jitter * self.rand())
