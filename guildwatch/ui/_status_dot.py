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

COLOURS: dict[StatusKind, str | None] = {
    "online": "success",
    "degraded": "warning",
    "maintenance": None,
    "offline": "error",
    "connecting": None,
    "waiting": None,
    "reconnecting": "warning",
    "lost": "primary",
}
"""The theme variable each state's glyph is drawn in; None: the dot's own ``$text-muted``."""

BOLD_WITHOUT_COLOUR: frozenset[StatusKind] = frozenset({"offline", "lost", "degraded"})
"""Under ``NO_COLOR`` these glyphs are bold: the states that want attention keep an attribute."""


class StatusDot(Widget):
    """A one-cell status glyph in its state's theme colour, pulsing while the bot is Online.

    ``render`` draws the glyph in the theme variable :data:`COLOURS` names for the state (read
    at render time, so a theme change repaints it right), so a change of state is a repaint of
    this one cell. A ``-{kind}`` CSS class did the same on screen but re-matched the stylesheet
    against the dot twice per change (remove, add: 0.8-1.3 ms of a state change). The
    pulse flips :attr:`dim` from a low-rate timer that runs only while Online with animations
    on: the dim phase is drawn in ``$success-darken-3`` and the step is a ``refresh()`` too.
    """

    DEFAULT_CSS = """
    StatusDot {
        width: 2;
        height: 1;
        color: $text-muted;
    }
    """

    kind: reactive[StatusKind] = reactive("connecting")
    """Which state the dot shows (setting it repaints the dot, nothing else)."""

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
        self._pulse: Timer | None = None
        self._pulsing = False
        self._dim = False

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

    def watch_kind(self) -> None:
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

    def glyph_style(self) -> str:
        """The style the glyph is drawn in now ("" for the dot's own colour)."""
        app = self.app
        kind = self.kind
        name = "success-darken-3" if self._dim else COLOURS[kind]
        style = "" if name is None else app.theme_variables.get(name, "")
        # The NoColour filter drops the colour; bold is what is left to set these apart.
        if app.no_color and kind in BOLD_WITHOUT_COLOUR:
            style = f"{style} bold".lstrip()
        return style

    def render(self) -> RenderResult:
        style = self.glyph_style()
        return Content.styled(GLYPHS[self.kind], style) if style else Content(GLYPHS[self.kind])
