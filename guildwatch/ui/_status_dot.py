"""The coloured dot in front of a guild's status word."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget

from guildwatch.display import StatusKind

if TYPE_CHECKING:
    from textual.app import RenderResult

PULSE_INTERVAL = 0.75
"""Seconds between pulse steps: one repaint of one cell, so 1.3 a second while Online.

We measured a 0.5 s class toggle at ~264 B/s over a pty, while a chained
``styles.animate`` cost ~8 KB/s; a lower rate keeps the idle screen to a few hundred bytes.
"""

GLYPHS: dict[StatusKind, str] = {
    "online": "◉",
    "degraded": "◒",
    "maintenance": "⧖",
    "offline": "✕",
    "connecting": "◌",
    "waiting": "◌",
    "reconnecting": "◌",
    "lost": "⊘",
}
"""One glyph per state, so the dot still says something under ``NO_COLOR``.

All are single-cell and East-Asian-width *neutral* (``●`` and ``•`` are ambiguous and turn
two cells wide in CJK terminals, see docs/upstream-defects.md), and none is an emoji or needs VS16.
"""


class StatusDot(Widget):
    """A one-cell status glyph whose colour comes from CSS, pulsing while the bot is Online.

    The state is a CSS class (``-online``, ``-offline``, …) so colours live in CSS with theme
    variables. The pulse flips :attr:`dim` from a low-rate timer that runs only while Online
    with animations on: the dim phase is drawn in ``$success-darken-3`` by ``render`` and the
    step is a plain ``refresh()`` of this one cell. A class toggle did the same on screen but
    re-matched the whole stylesheet against the dot at every step (most of the pulse's CPU).
    """

    DEFAULT_CSS = """
    StatusDot {
        width: 2;
        height: 1;
        color: $text-muted;
    }
    StatusDot.-online { color: $success; }
    StatusDot.-offline { color: $error; }
    StatusDot.-degraded, StatusDot.-reconnecting { color: $warning; }
    StatusDot.-lost { color: $primary; }
    StatusDot.-maintenance { color: $text-muted; }
    """

    kind: reactive[StatusKind] = reactive("connecting")
    """Which state the dot shows; mirrored into a ``-{kind}`` CSS class."""

    live: reactive[bool] = reactive(False)
    """The status comes from a connected stream; a polled "Online" does not pulse."""

    def __init__(
        self,
        kind: StatusKind = "connecting",
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """Create a dot.

        Args:
            kind: The state to show first.
            id: The ID of the widget in the DOM.
            classes: Extra CSS classes.
        """
        super().__init__(id=id, classes=classes)
        self.set_reactive(StatusDot.kind, kind)
        self.add_class(f"-{kind}")
        self._pulse: Timer | None = None
        self._pulsing = False
        self._dim = False
        self._dim_style = ""

    @property
    def pulsing(self) -> bool:
        """The pulse timer is running (only while Online with animations on)."""
        return self._pulsing

    @property
    def dim(self) -> bool:
        """The pulse is in its dim phase."""
        return self._dim

    def on_mount(self) -> None:
        # Owned by this widget: the timer stops with it (textual/timer.py keeps a weakref).
        self._pulse = self.set_interval(PULSE_INTERVAL, self._pulse_step, pause=True)
        self._update_pulse()

    def watch_kind(self, old: StatusKind, new: StatusKind) -> None:
        self.remove_class(f"-{old}")
        self.add_class(f"-{new}")
        self._update_pulse()

    def watch_live(self) -> None:
        self._update_pulse()

    def _should_pulse(self) -> bool:
        # animation_level covers TEXTUAL_ANIMATIONS=none and the app's animation=False.
        return self.kind == "online" and self.live and self.app.animation_level != "none"

    def _update_pulse(self) -> None:
        if self._pulse is None:
            return
        self._pulsing = self._should_pulse()
        if self._pulsing:
            # The theme's colour, read once per pulse rather than styled per step.
            self._dim_style = self.app.theme_variables.get("success-darken-3", "")
            self._pulse.resume()
        else:
            self._pulse.pause()
            if self._dim:
                self._dim = False
                self.refresh()

    def _pulse_step(self) -> None:
        if not self._should_pulse():
            # Animations were switched off while pulsing: stop waking up at all.
            self._update_pulse()
            return
        self._dim = not self._dim
        self.refresh()

    def render(self) -> RenderResult:
        if self._dim:
            return Content.styled(GLYPHS[self.kind], self._dim_style)
        return Content(GLYPHS[self.kind])
