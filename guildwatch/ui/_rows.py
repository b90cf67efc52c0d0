"""The many-guilds list as plain data: sort order, filter, and the cells of one row.

No Textual here, so the rules the operator relies on (worst first, stable within a group, what
a filter matches, which columns survive a narrow pane) are tested without a screen. The list
widget (``_guild_list.py``) only paints what these functions decide.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from rich.cells import cell_len

from guildwatch.display import (
    StatusKind,
    bot_word,
    ellipsize,
    headline,
    last_seen,
    safe,
    status_kind,
)
from guildwatch.ui._status_dot import GLYPHS

if TYPE_CHECKING:
    from datetime import datetime

    from guildwatch.alerts import SilenceState
    from guildwatch.store import GuildSnapshot

RANKS: dict[StatusKind, int] = {
    "lost": 0,
    "offline": 1,
    "degraded": 2,
    "reconnecting": 3,
    "connecting": 3,
    "waiting": 3,
    "maintenance": 4,
    "online": 5,
}
"""Worst first: error, offline, degraded (up but sick, a known problem), not known yet
(connecting/reconnecting), maintenance (planned), online."""

Role = Literal["dot", "name", "word", "muted", "poll"]
"""How a cell is painted; the widget maps each role (and the dot's kind) to a CSS component."""

WORD_CELLS = 20
"""The longest status word, "Reconnecting in 12 s"; short words fit 15."""
SHORT_WORD_CELLS = 15
SEEN_CELLS = 10
"""Short "last seen": "now", "5m", "never", "clock skew"."""
VERSION_CELLS = 12
SOURCE_CELLS = 6
NAME_MIN_CELLS = 12
"""Below this, the name column goes before the status word does (the word is the news)."""
NAME_MAX_CELLS = 32
"""The name column is as wide as the longest name up to this; longer names end in "…"."""
NAME_TITLE = "Guild"
NOTE_MIN_CELLS = 12
"""A note narrower than this is not worth moving a message for."""
SILENCE_MARK = "~"
"""A silenced guild's mark: plain ASCII, so it reads in any terminal, font and without colour
(a bell-with-a-slash emoji is two cells in some terminals and one in others)."""


def silence_marks(silence: SilenceState, now: datetime) -> tuple[str, str]:
    """The long and the short mark: ``~ silenced 14m`` / ``~14m``; a maintenance is ``~``
    alone in the short form (its word already says "Maintenance")."""
    long = f"{SILENCE_MARK} {silence.left(now)}"
    short = SILENCE_MARK if silence.reason == "maintenance" else SILENCE_MARK + silence.short(now)
    return long, short


def _with_mark(word: str, mark: str, cells: int) -> str:
    # The mark stays whole; the word gives way (it is cut with "…") if both do not fit.
    if cell_len(mark) + 2 > cells:
        return ellipsize(mark, cells)
    if cell_len(word) + 1 + cell_len(mark) <= cells:
        return f"{word} {mark}"
    return f"{ellipsize(word, cells - cell_len(mark) - 1)} {mark}"


def label_cells(snapshot: GuildSnapshot) -> int:
    """Cells the guild's label takes in the name column (made safe, up to the cap)."""
    return cell_len(safe(snapshot.label, NAME_MAX_CELLS))


def rank(snapshot: GuildSnapshot) -> int:
    """The snapshot's sort group: 0 (Connection lost) is shown first, 5 (Online) last."""
    return RANKS[status_kind(snapshot)]


def matches(snapshot: GuildSnapshot, needle: str) -> bool:
    """Whether a filter ``needle`` (already case-folded) matches the guild's id or name."""
    if not needle:
        return True
    if needle in snapshot.guild_id.casefold():
        return True
    return snapshot.name is not None and needle in snapshot.name.casefold()


@dataclass(frozen=True, slots=True)
class Layout:
    """Which columns a row has at one width, and how wide each is."""

    width: int
    """Cells available for the whole row."""
    name: int
    """Cells for the name column (0: no name column)."""
    word: int
    seen: int = 0
    version: int = 0
    source: int = 0
    name_first: bool = True
    """False in tiny panes: dot and word lead, the name fills what is left."""
    spare: int = 0
    """Cells left after the last column (wide panes with short names)."""

    @property
    def note(self) -> int:
        """Cells for a bot's message that does not fit the status column (a maintenance's
        "deploying v1.3"): the source column and the spare cells, 0 if that is too narrow.
        """
        room = self.source + self.spare + 1 if self.source else 0
        return room if room >= NOTE_MIN_CELLS else 0

    @classmethod
    def for_width(cls, width: int, longest: int | None = None) -> Layout:
        """The richest layout whose name column could still get :data:`NAME_MIN_CELLS`.

        Args:
            width: Cells for the whole row.
            longest: The longest label in cells: the name column shrinks to it (but not
                below its title), so the status sits next to the names in a wide pane; None
                gives the name column all the room left.
        """
        rest = width - 2  # the dot and its space

        def name(room: int) -> int:
            if longest is None:
                return room
            return min(room, max(longest, cell_len(NAME_TITLE)), NAME_MAX_CELLS)

        wide = WORD_CELLS + SEEN_CELLS + VERSION_CELLS + SOURCE_CELLS + 5
        if rest - wide >= NAME_MIN_CELLS:
            name_cells = name(rest - wide)
            spare = rest - wide - name_cells - 1  # a blank cell stays at the end
            return cls(
                width,
                name_cells,
                WORD_CELLS,
                SEEN_CELLS,
                VERSION_CELLS,
                SOURCE_CELLS,
                spare=max(spare, 0),
            )
        medium = SHORT_WORD_CELLS + SEEN_CELLS + 2
        if rest - medium >= NAME_MIN_CELLS:
            return cls(width, name(rest - medium), SHORT_WORD_CELLS, SEEN_CELLS)
        narrow = SHORT_WORD_CELLS + 1
        if rest - narrow >= NAME_MIN_CELLS:
            return cls(width, name(rest - narrow), SHORT_WORD_CELLS)
        # A 20x3 pane: the worst guild's dot and word at least, then as much name as fits.
        return cls(width, 0, max(rest, 0), name_first=False)

    def header(self) -> list[tuple[str, Role]]:
        """Column titles (only worth showing when there is more than dot, name and word)."""
        return _cells(self, "", NAME_TITLE, "Status", "Last seen", "Version", "Source", "muted")


Cell = tuple[str, Role]
"""One cell's text, padded to its column, and how to paint it."""


def row_cells(
    snapshot: GuildSnapshot,
    now: datetime,
    layout: Layout,
    silence: SilenceState | None = None,
) -> list[Cell]:
    """The cells of one guild's row; server text is made safe here, never parsed as markup.

    A silenced guild gets its mark: in the source column's place when the row has that room
    ("~ silenced 14m"), else after the status word ("Offline ~14m").
    """
    kind = status_kind(snapshot)
    word = headline(snapshot, now)  # "Online · 42 ms", "Maintenance · deploying v1.3"
    note = ""
    if cell_len(word) > layout.word:
        word = headline(snapshot, now, short=True)
        said = bot_word(snapshot)
        if layout.note and snapshot.source != "poll" and word == said and " · " in said:
            # The bot's word stays in the status column; its message takes the source's place
            # (a streamed status, the usual case) and the room after it.
            word, note = said.split(" · ", 1)
    note_role: Role = "word"
    if silence is not None:
        long, short = silence_marks(silence, now)
        if layout.note and not note and cell_len(long) <= layout.note:
            note, note_role = long, "muted"
        else:
            word = _with_mark(word, short, layout.word)
    seen = ""
    version = ""
    source = ""
    if snapshot.status is not None:
        seen = last_seen(snapshot, now, short=True).split(" · ")[0]
        if snapshot.status.version:
            version = "v" + safe(snapshot.status.version, layout.version)
        source = snapshot.source or ""
    label = safe(snapshot.label, max(layout.width, 1))
    if not layout.name_first:
        cells: list[Cell] = [(GLYPHS[kind] + " ", "dot")]
        word_text = ellipsize(word, layout.word)
        cells.append((word_text, "word"))
        # One cell kept blank at the end: the name never touches a scrollbar beside it.
        room = layout.width - 2 - cell_len(word_text) - 2
        if room >= 4:
            cells.append((" " + ellipsize(label, room), "name"))
        return cells
    source_role: Role = "poll" if source == "poll" else "muted"
    if note:
        no_source = replace(layout, source=0)
        cells = _cells(no_source, GLYPHS[kind], label, word, seen, version, "", "muted")
        cells.append((" " + _pad(note, layout.note), note_role))
        return cells
    return _cells(layout, GLYPHS[kind], label, word, seen, version, source, source_role)


def _cells(
    layout: Layout,
    dot: str,
    name: str,
    word: str,
    seen: str,
    version: str,
    source: str,
    source_role: Role,
) -> list[Cell]:
    cells: list[Cell] = [(_pad(dot, 2), "dot"), (_pad(name, layout.name), "name")]
    cells.append((" " + _pad(word, layout.word), "word"))
    optional: list[tuple[str, int, Role]] = [
        (seen, layout.seen, "muted"),
        (version, layout.version, "muted"),
        (source, layout.source, source_role),
    ]
    for text, width, role in optional:
        if width:
            cells.append((" " + _pad(text, width), role))
    return cells


def _pad(text: str, width: int) -> str:
    cut = ellipsize(text, width)
    return cut + " " * (width - cell_len(cut))
