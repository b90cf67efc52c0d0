"""'Last seen 5 minutes ago · v1.2.3', with the exact time in a tooltip."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.cells import cell_len

from guildwatch.display import ellipsize, last_seen, safe
from guildwatch.ui._ticking import TickingText

if TYPE_CHECKING:
    from datetime import datetime

    from guildwatch.store import GuildSnapshot


def exact_time(snapshot: GuildSnapshot) -> str | None:
    """The exact heartbeat and receipt times, for the tooltip; None before any status."""
    status = snapshot.status
    if status is None:
        return None
    parts = []
    if status.last_heartbeat is not None:
        parts.append(f"Last heartbeat {status.last_heartbeat:%Y-%m-%d %H:%M:%S} UTC")
    if snapshot.received_at is not None:
        via = "polled" if snapshot.source == "poll" else "received"
        parts.append(f"{via} {snapshot.received_at:%Y-%m-%d %H:%M:%S} UTC")
    if status.version:
        parts.append(f"version {safe(status.version, 60)}")
    return "\n".join(parts) or None


class LastSeen(TickingText):
    """When the bot last reported in, and its version, refreshed as time passes.

    Uses the long date-fns wording when it fits and ``display.last_seen(short=True)`` ("5m ·
    v1.2.3") in narrow panes, ellipsized as a last resort, so it never wraps or clips.
    """

    DEFAULT_CSS = """
    LastSeen {
        color: $text-muted;
    }
    """

    def describe(self, snapshot: GuildSnapshot, now: datetime, width: int) -> str:
        words = last_seen(snapshot, now)
        if cell_len(words) <= width:
            return words
        return ellipsize(last_seen(snapshot, now, short=True), width)

    def ticks(self, snapshot: GuildSnapshot) -> bool:
        return snapshot.status is not None and snapshot.status.last_heartbeat is not None

    def watch_snapshot(self) -> None:
        super().watch_snapshot()
        # Before any status there is nothing to say: the row is just its headline.
        self.display = self.snapshot is not None and self.snapshot.status is not None
        # Tooltip text is plain Content, like everything from the server.
        self.tooltip = exact_time(self.snapshot) if self.snapshot is not None else None
