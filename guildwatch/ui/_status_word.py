"""The status written out next to the dot: "Online · 42 ms", "Reconnecting in 4 s", …"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.cells import cell_len

from guildwatch.display import ellipsize, headline, status_kind
from guildwatch.ui._ticking import TickingText

if TYPE_CHECKING:
    from datetime import datetime

    from guildwatch.store import GuildSnapshot


class StatusWord(TickingText):
    """The state in words, so the screen reads right without colour (``NO_COLOR``, monochrome).

    Ticks only while a reconnect countdown is shown; falls back to the short words
    ("Retry in 4 s") when the long ones do not fit a narrow pane, instead of clipping.
    """

    DEFAULT_CSS = """
    StatusWord {
        text-style: bold;
    }
    """

    def describe(self, snapshot: GuildSnapshot, now: datetime, width: int) -> str:
        words = headline(snapshot, now)
        if cell_len(words) <= width:
            return words
        return ellipsize(headline(snapshot, now, short=True), width)

    def ticks(self, snapshot: GuildSnapshot) -> bool:
        return status_kind(snapshot) == "reconnecting" and snapshot.next_retry_at is not None
