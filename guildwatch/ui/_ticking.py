"""Base for one line of text that depends on "now": countdowns and "5 minutes ago"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget

from guildwatch.store import Clock, GuildSnapshot

if TYPE_CHECKING:
    from datetime import datetime

    from textual.app import RenderResult

TICK_INTERVAL = 1.0
"""Seconds between re-reads of the clock; the finest unit on screen is one second."""


class TickingText(Widget):
    """One line of plain text built from a snapshot, the injected clock and the line's width.

    Like Textual's ``HeaderClock`` the text is built at render time and a timer owned by the
    widget re-reads the clock; unlike it, the timer only calls ``refresh`` when the text
    actually changed, so an idle screen writes nothing, and it is paused while the snapshot has
    nothing that moves with time (see :meth:`ticks`).
    """

    DEFAULT_CSS = """
    TickingText {
        width: 1fr;
        height: 1;
    }
    """

    snapshot: reactive[GuildSnapshot | None] = reactive(None, repaint=False)
    """The guild's latest snapshot; set by the owning ``StatusLine``. Setting it repaints only
    when the text changed: each heartbeat is a new snapshot, most read the same."""

    def __init__(
        self,
        clock: Clock,
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """Create the line.

        Args:
            clock: Source of "now" (the app's injectable clock, fixed in snapshot tests).
            id: The ID of the widget in the DOM.
            classes: Extra CSS classes.
        """
        super().__init__(id=id, classes=classes)
        self._clock = clock
        self._shown = ""
        self._timer: Timer | None = None

    def describe(self, snapshot: GuildSnapshot, now: datetime, width: int) -> str:
        """The text for ``snapshot`` at ``now`` in ``width`` cells; server text already safe.

        Subclasses override this; the result is rendered as plain ``Content`` (never markup).
        """
        raise NotImplementedError

    def ticks(self, snapshot: GuildSnapshot) -> bool:
        """Whether the text can change with time alone for this snapshot (default: yes)."""
        return True

    @property
    def text(self) -> str:
        """The text as it would render now (what tests and the tick compare)."""
        if self.snapshot is None:
            return ""
        return self.describe(self.snapshot, self._clock(), self.size.width)

    def on_mount(self) -> None:
        self._timer = self.set_interval(TICK_INTERVAL, self._tick, pause=True)
        self._update_timer()

    def watch_snapshot(self) -> None:
        self._update_timer()
        if self.text != self._shown:
            self.refresh()

    def _update_timer(self) -> None:
        if self._timer is None:
            return
        if self.snapshot is not None and self.ticks(self.snapshot):
            self._timer.resume()
        else:
            self._timer.pause()

    def _tick(self) -> None:
        if self.text != self._shown:
            self.refresh()

    def render(self) -> RenderResult:
        self._shown = self.text
        return Content(self._shown)
