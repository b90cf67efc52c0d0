"""One guild's row: dot, status word, name, last seen, and the detail line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from guildwatch.display import safe, status_kind
from guildwatch.store import Clock, GuildSnapshot
from guildwatch.ui._detail_line import Detail
from guildwatch.ui._last_seen import LastSeen
from guildwatch.ui._silence import SilenceMark
from guildwatch.ui._status_dot import StatusDot
from guildwatch.ui._status_word import StatusWord
from guildwatch.ui._ticking import TickingText

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.events import Click

_NAME_CELLS = 60
"""Guild names are cut here first; CSS then ellipsizes to the space left."""


class StatusLine(Widget, can_focus=True):
    """Everything the screen says about one guild, in three lines that degrade with width.

    Focusable, so several guilds can be walked with up/down and ``r`` retries the focused one;
    a click posts :class:`StatusLine.RetryRequested` (the app owns the engine, not the row).
    """

    DEFAULT_CSS = """
    StatusLine {
        height: auto;
        padding: 0 1;
    }
    StatusLine > Horizontal {
        height: 1;
    }
    StatusLine #name {
        width: auto;
        max-width: 50%;
        height: 1;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        padding-left: 1;
    }
    StatusLine LastSeen, StatusLine Detail {
        margin-left: 2;
    }
    """

    @dataclass
    class RetryRequested(Message):
        """Posted when the row is clicked: retry this guild now."""

        status_line: StatusLine
        """The row that was clicked."""

        guild_id: str
        """The guild to retry."""

        @property
        def control(self) -> StatusLine:
            """Alias for :attr:`status_line`."""
            return self.status_line

    def __init__(self, snapshot: GuildSnapshot, clock: Clock, *, id: str | None = None) -> None:
        """Create the row for one guild.

        Args:
            snapshot: The guild's current snapshot (later ones arrive through :meth:`show`).
            clock: Source of "now" for the relative times and countdowns.
            id: The ID of the widget in the DOM.
        """
        super().__init__(id=id)
        self.guild_id = snapshot.guild_id
        """The guild this row shows."""
        self._snapshot = snapshot
        self._clock = clock
        self._shown_name = self._name_content(snapshot)
        self._dot: StatusDot | None = None
        self._ticking: list[TickingText] = []
        self._name_static = Static(self._shown_name, id="name", markup=False)

    @property
    def snapshot(self) -> GuildSnapshot:
        """The snapshot shown now."""
        return self._snapshot

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield StatusDot(status_kind(self._snapshot))
            yield StatusWord(self._clock)
            yield self._name_static
            yield SilenceMark(self._clock)
        yield LastSeen(self._clock)
        yield Detail(self._clock)

    def on_mount(self) -> None:
        # Looked up once: show() runs for every heartbeat, and two DOM queries were most of it.
        self._dot = self.query_one(StatusDot)
        self._ticking = list(self.query(TickingText))
        self.show(self._snapshot)

    def show(self, snapshot: GuildSnapshot) -> None:
        """Display a new snapshot of this guild (children repaint only what changed)."""
        before, self._snapshot = self._snapshot, snapshot
        if self._dot is None:
            # Held after the first show: a wake-up costs no DOM query (they are the children
            # compose() made and never replaced).
            self._dot = self.query_one(StatusDot)
            self._ticking = list(self.query(TickingText))
        dot = self._dot
        dot.kind = status_kind(snapshot)
        dot.live = snapshot.connection == "connected"
        for line in self._ticking:
            line.snapshot = snapshot
        # The same label is the same name: made safe again only when it changed.
        if before.label != snapshot.label:
            name = self._name_content(snapshot)
            if name != self._shown_name:
                # Static.update relayouts: only pay for that when the name really changed.
                self._shown_name = name
                self._name_static.update(name)

    @staticmethod
    def _name_content(snapshot: GuildSnapshot) -> Content:
        return Content(safe(snapshot.label, _NAME_CELLS))

    def on_click(self, event: Click) -> None:
        event.stop()
        self.focus()
        self.post_message(self.RetryRequested(self, self.guild_id))
