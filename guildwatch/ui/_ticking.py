"""Base for one line of text that depends on "now": countdowns and "5 minutes ago"."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from textual.app import App
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


class Ticker:
    """One clock tick for every line of one app that moves with time.

    A timer per line cost a loop wake-up and a timer task step per line per second: on an idle
    one-guild screen two of them (last seen, silence mark) woke the process as often as the
    pulse. Lines subscribe while their text can change with time; the timer is paused while
    nobody listens, so a screen with nothing moving wakes up for nothing.
    """

    def __init__(self, app: App[Any]) -> None:
        self._app = app
        self._listeners: dict[object, Callable[[], None]] = {}
        self._timer: Timer | None = None

    def listen(self, key: object, callback: Callable[[], None]) -> None:
        """Call ``callback`` once a tick until :meth:`ignore` with the same ``key``."""
        self._listeners[key] = callback
        if self._timer is None:
            self._timer = self._app.set_interval(TICK_INTERVAL, self._tick, name="tick")
        else:
            self._timer.resume()

    def ignore(self, key: object) -> None:
        """Stop calling ``key``'s callback; pause the timer once nobody listens."""
        removed = self._listeners.pop(key, None) is not None
        if removed and not self._listeners and self._timer is not None:
            self._timer.pause()

    def _tick(self) -> None:
        for callback in list(self._listeners.values()):
            callback()


_TICKERS: WeakKeyDictionary[App[Any], Ticker] = WeakKeyDictionary()


def ticker(app: App[Any]) -> Ticker:
    """The app's one :class:`Ticker`."""
    found = _TICKERS.get(app)
    if found is None:
        found = _TICKERS[app] = Ticker(app)
    return found


class TickingText(Widget):
    """One line of plain text built from a snapshot, the injected clock and the line's width.

    Like Textual's ``HeaderClock`` the text is built at render time and a tick re-reads the
    clock; unlike it, the tick only calls ``refresh`` when the text actually changed, so an idle
    screen writes nothing, and the line listens to the app's :class:`Ticker` only while the
    snapshot has something that moves with time (see :meth:`ticks`).
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
        self._ticker: Ticker | None = None

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
        self._ticker = ticker(self.app)
        self._update_timer()

    def on_unmount(self) -> None:
        if self._ticker is not None:
            self._ticker.ignore(self)
            self._ticker = None

    def watch_snapshot(self) -> None:
        self._update_timer()
        if self.text != self._shown:
            self.refresh()

    def _update_timer(self) -> None:
        if self._ticker is None:
            return
        if self.snapshot is not None and self.ticks(self.snapshot):
            self._ticker.listen(self, self._tick)
        else:
            self._ticker.ignore(self)

    def _tick(self) -> None:
        if self.text != self._shown:
            self.refresh()

    def render(self) -> RenderResult:
        self._shown = self.text
        return Content(self._shown)
