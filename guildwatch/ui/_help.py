"""The ``?`` screen: keys and what each state means."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from guildwatch.display import StatusKind
from guildwatch.ui._status_dot import GLYPHS

if TYPE_CHECKING:
    from textual.app import ComposeResult

_STATES: list[tuple[StatusKind, str, str]] = [
    ("online", "Online", "the bot is up (one guild: the dot pulses)"),
    ("offline", "Offline", "the bot is down: check Discord"),
    ("connecting", "Connecting…", "opening the stream"),
    ("reconnecting", "Reconnecting…", "the stream dropped; retrying"),
    ("lost", "Connection lost", "retries gave up: press r"),
]

HELP_TEXT = "\n".join(
    [
        "Keys",
        "  r         retry now (the selected guild)",
        "  R         retry every guild that is down",
        "  up/down   select (also j/k, PgUp/PgDn, Home/End)",
        "  /         filter by name or id (Esc clears)",
        "  Enter     details: history, uptime, last hour",
        "  ?         this help (Esc or ? closes it)",
        "  q         quit (Ctrl+C and Ctrl+Q too)",
        "",
        "States",
        *(f"  {GLYPHS[kind]} {word:<16} {meaning}" for kind, word, meaning in _STATES),
        '  "polled 30 s ago": the stream is down and the',
        "  status comes from polling, that long ago.",
        "",
        'Point at "Last seen" for the exact time.',
    ]
)
"""Plain text (rendered as Content, not markup)."""


class HelpScreen(ModalScreen[None]):
    """A modal overlay with the keys and the meaning of each state."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: auto;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $primary;
        padding: 0 1;
        background: $surface;
    }
    HelpScreen Static {
        width: auto;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close", show=True),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Content(HELP_TEXT))
