"""The line under the status: what to do, where the status came from, what went wrong."""

from __future__ import annotations

from typing import TYPE_CHECKING

from guildwatch.display import ellipsize, hint, polled_marker, safe
from guildwatch.ui._ticking import TickingText

if TYPE_CHECKING:
    from datetime import datetime

    from guildwatch.store import GuildSnapshot

_MESSAGE_CELLS = 200
"""Server-influenced messages are cut here first, then to the line's width."""


def detail_parts(snapshot: GuildSnapshot, now: datetime) -> list[str]:
    """Hint, polled marker, error and warning, most useful first; server text made safe."""
    parts = [hint(snapshot), polled_marker(snapshot, now)]
    if snapshot.error is not None and snapshot.connection != "connected":
        parts.append(safe(snapshot.error.message, _MESSAGE_CELLS))
    if snapshot.warning is not None:
        parts.append(safe(snapshot.warning.message, _MESSAGE_CELLS))
    return [part for part in parts if part]


class Detail(TickingText):
    """ "Check Discord", "Press r to retry", "polled 30 s ago", the error message.

    Joined on one line and ellipsized to its width: a hostile or very long error message
    never wraps, scrolls or pushes the layout. Ticks only while a polled age is shown.
    """

    DEFAULT_CSS = """
    Detail {
        color: $warning;
    }
    """

    def describe(self, snapshot: GuildSnapshot, now: datetime, width: int) -> str:
        return ellipsize(" · ".join(detail_parts(snapshot, now)), width)

    def ticks(self, snapshot: GuildSnapshot) -> bool:
        return snapshot.source == "poll"

    def watch_snapshot(self) -> None:
        super().watch_snapshot()
        snapshot = self.snapshot
        # Nothing to say (a healthy guild): give the line back, so healthy rows take two lines
        # and a list of guilds stays compact. Which parts exist depends on the snapshot only.
        self.display = snapshot is not None and bool(detail_parts(snapshot, self._clock()))
        # The line is cut to its width; pointing at it shows the whole (safe) message.
        problem = snapshot.error if snapshot is not None else None
        if problem is None and snapshot is not None:
            problem = snapshot.warning
        self.tooltip = safe(problem.message, _MESSAGE_CELLS) if problem is not None else None
