"""The ``s`` / ``S`` picker: how long to silence a guild's alerts (or all guilds')."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from guildwatch.alerts import Silences
from guildwatch.display import safe
from guildwatch.durations import UNTIL_BACK
from guildwatch.ui._rows import silence_marks
from guildwatch.ui._ticking import TickingText

if TYPE_CHECKING:
    from datetime import datetime

    from textual.app import ComposeResult

    from guildwatch.store import GuildSnapshot

LONG_MARK_MIN_WIDTH = 50
"""From this pane width the one-guild row says "~ silenced 14m", below it "~14m"."""


UNSILENCE = "unsilence"
"""The picker's answer for "end the silence"."""

CHOICES: tuple[tuple[str, str], ...] = (
    ("15m", "1  15 min"),
    ("1h", "2  1 hour"),
    ("4h", "3  4 hours"),
    (UNTIL_BACK, "4  until back"),
)
"""Each answer (as ``--silence`` spells it) and its line; the digit picks it from the keyboard."""


class SilencePicker(ModalScreen[str | None]):
    """Asks how long to silence; dismissed with ``15m``, ``1h``, ``4h``, ``until-back``,
    ``unsilence``, or None (Esc).

    Args:
        title: What is silenced, e.g. "Silence Aurora" (made safe here).
        silenced: Whether there is a silence to end (then "unsilence" is offered too).
    """

    DEFAULT_CSS = """
    SilencePicker {
        align: center middle;
    }
    SilencePicker > Vertical {
        width: 30;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $primary;
        background: $surface;
    }
    SilencePicker #title {
        height: 1;
        padding: 0 1;
        text-style: bold;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    SilencePicker OptionList, SilencePicker OptionList:focus {
        height: auto;
        max-height: 100%;
        border: none;
        padding: 0 1;
        background: $surface;
    }
    /* A 20x3 split: every row for the choices, none for the frame or the title. */
    SilencePicker.-short > Vertical {
        border: none;
    }
    SilencePicker.-short #title {
        display: none;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "cancel", "Cancel"),
        Binding("1", "pick('15m')", show=False),
        Binding("2", "pick('1h')", show=False),
        Binding("3", "pick('4h')", show=False),
        Binding("4", "pick('until-back')", show=False),
        Binding("u", "unsilence", show=False),
    ]

    def __init__(self, title: str, *, silenced: bool) -> None:
        super().__init__()
        self._title = safe(title, 60)
        self._silenced = silenced

    def compose(self) -> ComposeResult:
        options = [Option(line, id=answer) for answer, line in CHOICES]
        if self._silenced:
            options.append(Option("u  unsilence", id=UNSILENCE))
        with Vertical():
            yield Static(Content(self._title), id="title")
            yield OptionList(*options)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_pick(self, answer: str) -> None:
        """A digit: that duration."""
        self.dismiss(answer)

    def action_unsilence(self) -> None:
        """``u``: end the silence (only offered when there is one)."""
        if self._silenced:
            self.dismiss(UNSILENCE)

    def action_cancel(self) -> None:
        """Esc: change nothing."""
        self.dismiss(None)


class SilenceMark(TickingText):
    """The one-guild row's mark after the name: "~ silenced 14m"; empty (no cells) when the
    guild is not silenced. The time left moves with the clock, so it ticks; it repaints only
    when the text changes (once a minute)."""

    DEFAULT_CSS = """
    SilenceMark {
        width: auto;
        color: $text-muted;
    }
    """

    def describe(self, snapshot: GuildSnapshot, now: datetime, width: int) -> str:
        silences = self._silences()
        state = None if silences is None else silences.state(snapshot.guild_id, snapshot)
        if state is None:
            return ""  # no cells at all
        long, short = silence_marks(state, now)
        return " " + (long if self.app.size.width >= LONG_MARK_MIN_WIDTH else short)

    def _silences(self) -> Silences | None:
        app: object = self.app
        silences = getattr(app, "silences", None)
        return silences if isinstance(silences, Silences) else None

    def _tick(self) -> None:
        # The width follows the text ("~ silenced 10m" to "~ silenced 9m"): lay out again.
        if self.text != self._shown:
            self.refresh(layout=True)
