"""Terminal sinks: the bell and desktop notifications by OSC escape sequence.

Each function returns the sequence to write; the caller decides where it goes (Textual's
driver on the screen, stderr when headless and a terminal), so nothing here writes.
"""

from __future__ import annotations

from typing import Literal

from guildwatch import display
from guildwatch.alerts._alerter import Change

DesktopStyle = Literal["osc9", "osc777"]
"""Which escape asks the terminal for a desktop notification (terminals differ)."""

BEL = "\a"
"""The terminal bell; also ends an OSC string (xterm accepts BEL as well as ESC \\)."""

_MAX_CELLS = 200


def _osc_text(text: str) -> str:
    # safe() drops every Cc character (ESC, BEL, the C1 ST and OSC) and bidi controls, so
    # nothing can end the OSC string early or start another; ';' separates OSC 777's fields.
    return display.safe(text, _MAX_CELLS).replace(";", ",")


def osc9(change: Change) -> str:
    """iTerm2-style desktop notification (also WezTerm, Ghostty, kitty and others)."""
    # The fixed prefix keeps the text from starting with "4;", which ConEmu and Windows
    # Terminal read as OSC 9;4, a progress bar.
    return f"\x1b]9;guildwatch: {_osc_text(change.summary())}{BEL}"


def osc777(change: Change) -> str:
    """rxvt-unicode-style notification (also foot, Ghostty, WezTerm, some VTE builds)."""
    return f"\x1b]777;notify;guildwatch;{_osc_text(change.summary())}{BEL}"


def desktop_sequence(style: DesktopStyle, change: Change) -> str:
    """The notification escape for ``style``."""
    return osc9(change) if style == "osc9" else osc777(change)
