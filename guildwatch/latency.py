"""A guild's gateway latency over time: the bounded buffer, the judgement and the numbers.

Pure Python (no Textual, no I/O), one :class:`LatencyHistory` per guild in the store. It feeds
three things that must agree: the "slow gateway" judgement that turns a row Degraded, the
latency shown in a row, and the detail view's sparkline and min / median / p95.

- **Judgement over a window.** Degraded by latency means the *median* of the last
  :data:`WINDOW_SECONDS` (and at least the last :data:`MIN_SAMPLES` samples) is over the
  threshold. One spike moves a median by one place, so it never flips the row; a latency that
  wobbles around the threshold does not flip it back and forth either, because the way back
  needs the median at or under :data:`RECOVER_FRACTION` of the threshold (hysteresis).
- **Bounded memory.** The hour is kept at one sample per :data:`SAMPLE_SPACING` seconds (the
  worst of that slice, so a spike still shows on the sparkline): at most
  :data:`HOUR_SAMPLES` floats pairs per guild, whatever the heartbeat rate. The window for the
  judgement keeps raw samples, at most :data:`RECENT_SAMPLES`.
- **A shown value with a dead band.** The row's "Online · 42 ms" moves only when the latency
  moved by :data:`SHOWN_STEP_FRACTION` (at least :data:`SHOWN_STEP_MS`): a latency that
  jitters by a few ms every heartbeat would otherwise repaint the row every second.
"""

from __future__ import annotations

import math
import statistics
from array import array
from collections.abc import Iterator
from typing import NamedTuple

WINDOW_SECONDS = 30.0
"""The judgement looks at this much recent latency."""
MIN_SAMPLES = 3
"""...and at least this many samples, so one slow heartbeat alone never judges."""
RECOVER_FRACTION = 0.8
"""Once Degraded, the median must fall to this fraction of the threshold to be Online again."""
RECENT_SAMPLES = 64
"""Raw samples kept for the window: more than 30 s of 2 Hz heartbeats."""

HOUR_SECONDS = 3600.0
SAMPLE_SPACING = 5.0
"""The hour's resolution in seconds: samples closer than this share one slot (the worst)."""
HOUR_SAMPLES = int(HOUR_SECONDS / SAMPLE_SPACING)
"""The hour buffer's fixed maximum: 720 slots."""

SHOWN_STEP_MS = 10.0
SHOWN_STEP_FRACTION = 0.1
"""The shown latency follows once the real one moved by 10 % of it, and by at least 10 ms."""


class LatencyStats(NamedTuple):
    """Min, median and 95th percentile of the latencies of the last hour, in ms."""

    minimum: float
    median: float
    p95: float
    samples: int


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of non-empty ``values`` (``fraction`` in 0..1)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


class _Ring:
    """A bounded ring of (time, latency) pairs in two ``array('d')``.

    A deque of tuples costs ~120 bytes a sample (the tuple and two float objects): 85 KiB for
    a full hour of one guild. Unboxed doubles cost 16 bytes a sample; the arrays grow only up
    to ``capacity``, so a guild whose bot reports no latency costs two empty arrays.
    """

    __slots__ = ("_at", "_capacity", "_len", "_ms", "_start")

    def __init__(self, capacity: int) -> None:
        self._at = array("d")
        self._ms = array("d")
        self._capacity = capacity
        self._start = 0
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def _index(self, position: int) -> int:
        return (self._start + position) % len(self._at)

    def append(self, at: float, ms: float) -> None:
        """Add at the end; a ring at its capacity drops its oldest pair."""
        size = len(self._at)
        if self._len == size:
            if size < self._capacity:
                if self._start:
                    self._linearize()
                self._at.append(at)
                self._ms.append(ms)
                self._len += 1
                return
            self._start = self._index(1)
            self._len -= 1
        end = self._index(self._len)
        self._at[end], self._ms[end] = at, ms
        self._len += 1

    def _linearize(self) -> None:
        order = [self._index(position) for position in range(self._len)]
        self._at = array("d", (self._at[index] for index in order))
        self._ms = array("d", (self._ms[index] for index in order))
        self._start = 0

    def first_at(self) -> float:
        return self._at[self._start]

    def last(self) -> tuple[float, float]:
        end = self._index(self._len - 1)
        return self._at[end], self._ms[end]

    def replace_last_ms(self, ms: float) -> None:
        self._ms[self._index(self._len - 1)] = ms

    def popleft(self) -> None:
        self._start = self._index(1)
        self._len -= 1

    def __iter__(self) -> Iterator[tuple[float, float]]:
        at, ms = self._at, self._ms
        for position in range(self._len):
            index = self._index(position)
            yield at[index], ms[index]


class LatencyHistory:
    """One guild's latency samples, the judgement over them and the value a row shows.

    Times are seconds on any monotonic-enough scale (the store passes its clock's POSIX
    time); a time that goes backwards is treated as "now" (it never reorders the buffer).
    """

    __slots__ = ("_hour", "_recent", "shown", "slow")

    def __init__(self) -> None:
        self._recent = _Ring(RECENT_SAMPLES)
        self._hour = _Ring(HOUR_SAMPLES)
        self.slow = False
        """The judgement: the window's median is over the threshold (with hysteresis)."""
        self.shown: float | None = None
        """The latency a row shows (moves only past the dead band)."""

    def add(self, at: float, latency_ms: float, warn_ms: float) -> None:
        """Record one sample and judge again."""
        if self._recent and at < self._recent.last()[0]:
            at = self._recent.last()[0]
        self._recent.append(at, latency_ms)
        if self._hour and at - self._hour.last()[0] < SAMPLE_SPACING:
            self._hour.replace_last_ms(max(self._hour.last()[1], latency_ms))
        else:
            self._hour.append(at, latency_ms)
        while self._hour and self._hour.first_at() < at - HOUR_SECONDS:
            self._hour.popleft()
        self.slow = self._judge(warn_ms)
        shown = self.shown
        if shown is None or abs(latency_ms - shown) >= max(
            SHOWN_STEP_MS, shown * SHOWN_STEP_FRACTION
        ):
            self.shown = latency_ms

    def clear_judgement(self) -> None:
        """The bot stopped reporting latency: no judgement and nothing shown (history kept)."""
        self.slow = False
        self.shown = None

    def window(self) -> list[float]:
        """The latencies the judgement looks at: the last 30 s, and at least 3 samples."""
        if not self._recent:
            return []
        newest = self._recent.last()[0]
        recent = list(self._recent)
        inside = [ms for at, ms in recent if at >= newest - WINDOW_SECONDS]
        if len(inside) < MIN_SAMPLES:
            inside = [ms for _, ms in recent[-MIN_SAMPLES:]]
        return inside

    def window_median(self) -> float | None:
        """The median the judgement uses, None before any sample."""
        window = self.window()
        return statistics.median(window) if window else None

    def _judge(self, warn_ms: float) -> bool:
        window = self.window()
        if len(window) < MIN_SAMPLES:
            return False
        median = statistics.median(window)
        if self.slow:
            return median > warn_ms * RECOVER_FRACTION
        return median > warn_ms

    def hour(self) -> list[float]:
        """The last hour's latencies, oldest first, one per slot (for the sparkline)."""
        return [ms for _, ms in self._hour]

    def stats(self) -> LatencyStats | None:
        """Min / median / p95 of the last hour, None before any sample."""
        values = self.hour()
        if not values:
            return None
        return LatencyStats(
            min(values), statistics.median(values), percentile(values, 0.95), len(values)
        )
