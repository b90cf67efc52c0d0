"""The ``?`` screen: keys and what each state means."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from guildwatch.display import StatusKind
from guildwatch.ui._status_dot import GLYPHS

if TYPE_CHECKING:
    from textual.app import ComposeResult

_STATES: list[tuple[StatusKind, str, str]] = [
    ("online", "Online", "the bot is up"),
    ("offline", "Offline", "the bot is down: check Discord"),
    ("connecting", "Connecting…", "opening the stream"),
    ("reconnecting", "Reconnecting…", "stream dropped; retrying"),
    ("lost", "Connection lost", "gave up: press r"),
]

_BOT_STATES: list[tuple[StatusKind, str]] = [
    ("degraded", "Degraded: up, gateway sick"),
    ("maintenance", "Maintenance: said so, no alert"),
]
"""The bot's own states, one line each (the help stays as long as it was at 80x24)."""

# Short lines (at most 36 columns: they fit a 40-column pane inside the border, the padding
# and the scrollbar); anything longer wraps rather than being cut.
KEYS_TEXT = "\n".join(
    [
        "Keys",
        "  r      retry now (selected guild)",
        "  R      retry every down guild",
        "  ↑↓ j k PgUp PgDn Home End  select",
        "  /      filter by name (Esc clears)",
        "  Enter  details   b  bot, shards",
        "  s S    silence one / all guilds",
        "  ?      this help (Esc closes it)",
        "  q      quit (also Ctrl+C, Ctrl+Q)",
    ]
)
STATES_TEXT = "\n".join(
    [
        "States",
        *(f"  {GLYPHS[kind]} {word}\n      {meaning}" for kind, word, meaning in _STATES[:1]),
        *(f"  {GLYPHS[kind]} {words}" for kind, words in _BOT_STATES),
        *(f"  {GLYPHS[kind]} {word}\n      {meaning}" for kind, word, meaning in _STATES[1:]),
        '  "polled 30 s ago": the stream is',
        "  down; the status was polled then.",
        "  ~ 14m: silenced, no alerts; also",
        "  while the bot is in maintenance.",
    ]
)
TIPS_TEXT = 'Point at "Last seen" for the exact\ntime. One guild: its dot pulses.'
HELP_TEXT = f"{KEYS_TEXT}\n\n{STATES_TEXT}\n\n{TIPS_TEXT}"
"""Plain text (rendered as Content, not markup), in the order one column shows it."""

COLUMNS_FROM = 80
"""From this width on, keys (and tips) and states sit side by side, so that the whole help
fits an 80x24 terminal without scrolling (one column of it is 30 rows)."""


class HelpScreen(ModalScreen[None]):
    """A modal overlay with the keys and the meaning of each state."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 42;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $primary;
        padding: 0 0 0 1;
        background: $surface;
        /* The scrollbar gets its own column, right of the text, never on top of it. */
        scrollbar-gutter: stable;
        scrollbar-size-vertical: 1;
    }
    /* A 20x3 split: every row for text, none for the frame. */
    HelpScreen.-short > VerticalScroll {
        border: none;
    }
    HelpScreen.-narrow > VerticalScroll {
        padding: 0;
    }
    HelpScreen.-columns > VerticalScroll {
        width: 78;
    }
    HelpScreen Static {
        width: 1fr;
        text-wrap: wrap;
    }
    /* One column below COLUMNS_FROM, two from it on: both are composed, CSS shows one. */
    HelpScreen #columns, HelpScreen.-columns #single {
        display: none;
    }
    HelpScreen.-columns #columns {
        display: block;
        layout: horizontal;
        height: auto;
    }
    HelpScreen #columns Vertical {
        width: 1fr;
        height: auto;
    }
    /* Help stays on top: toasts wait (in the app's list) until it closes. Visibility,
       as the rack sets its own display whenever a notification comes or goes. */
    HelpScreen > ToastRack, HelpScreen > ToastRack * {
        visibility: hidden;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close", show=True),
    ]
    # A screen's breakpoints replace the app's; only -narrow is styled here besides -columns.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (30, "-wide"), (COLUMNS_FROM, "-columns")]  # noqa: RUF012

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Content(HELP_TEXT), id="single")
            with Horizontal(id="columns"):
                with Vertical():
                    yield Static(Content(f"{KEYS_TEXT}\n\n{TIPS_TEXT}"))
                yield Static(Content(STATES_TEXT))
