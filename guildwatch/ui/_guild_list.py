"""One compact row per guild, worst first, for a thousand guilds as well as for three.

A Line API widget (``ScrollView`` + ``render_line``, like Textual's ``OptionList``): only the
rows on screen are ever built, so 1,000 guilds cost 1,000 dict entries, not 1,000 widgets
with children (a ``StatusLine`` is six widgets). The order is recomputed once per store
wake-up, and only when a changed guild moved to another group, never once per guild.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.segment import Segment
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from guildwatch.display import StatusKind, status_kind
from guildwatch.store import Clock, GuildSnapshot
from guildwatch.ui._rows import RANKS, Cell, Layout, label_cells, matches, row_cells
from guildwatch.ui._ticking import TICK_INTERVAL

if TYPE_CHECKING:
    from textual.events import Click

    from guildwatch.alerts import Silences, SilenceState

HEADER_MIN_WIDTH = 60
"""The column titles only help once there are more columns than dot, name and word."""

_RECOUNT_ABOVE = 64
"""More state changes than this in one wake-up: count the states again instead of moving each."""

_DOT_CLASSES = {
    "online": "guild-list--online",
    "offline": "guild-list--offline",
    "degraded": "guild-list--warning",
    "reconnecting": "guild-list--warning",
    "lost": "guild-list--lost",
    "maintenance": "guild-list--muted",
    "connecting": "guild-list--muted",
    "waiting": "guild-list--muted",
}


class GuildList(ScrollView, can_focus=True):
    """The guilds as rows: dot, name, status word, last seen, version, source.

    The selection is a *guild*, not a line: when a re-sort moves the selected guild, the
    cursor moves with it, so ``r`` and Enter always act on what the operator chose.
    """

    DEFAULT_CSS = """
    GuildList {
        height: 1fr;
        padding: 0 1;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
        & > .guild-list--header { color: $text-muted; text-style: bold; }
        & > .guild-list--name { color: $text; }
        & > .guild-list--word { text-style: bold; }
        & > .guild-list--muted { color: $text-muted; }
        & > .guild-list--poll { color: $warning; }
        & > .guild-list--online { color: $success; }
        & > .guild-list--offline { color: $error; }
        & > .guild-list--warning { color: $warning; }
        & > .guild-list--lost { color: $primary; }
        & > .guild-list--cursor { background: $block-cursor-blurred-background; }
        &:focus > .guild-list--cursor { background: $block-cursor-background; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "guild-list--header",
        "guild-list--name",
        "guild-list--word",
        "guild-list--muted",
        "guild-list--poll",
        "guild-list--online",
        "guild-list--offline",
        "guild-list--warning",
        "guild-list--lost",
        "guild-list--cursor",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("enter", "open", "Details"),
    ]

    @dataclass
    class DetailRequested(Message):
        """Enter or a double click on a row: show that guild's detail view."""

        guild_list: GuildList
        """The list the guild was chosen in."""

        guild_id: str
        """The chosen guild."""

        @property
        def control(self) -> GuildList:
            """Alias for :attr:`guild_list`."""
            return self.guild_list

    def __init__(
        self, snapshots: Iterable[GuildSnapshot], clock: Clock, *, id: str | None = None
    ) -> None:
        """Create the list.

        Args:
            snapshots: Every guild's snapshot, in the store's order (the tie-break in a group).
            clock: Source of "now" for countdowns and "last seen".
            id: The ID of the widget in the DOM.
        """
        super().__init__(id=id)
        self._clock = clock
        self._snapshots: dict[str, GuildSnapshot] = {}
        self._position: dict[str, int] = {}
        self._rows: list[str] = []
        self._index: dict[str, int] = {}
        """Each shown guild's row: the cursor's index without a scan of 10,000 rows."""
        self._kinds: dict[str, StatusKind] = {}
        """Each guild's state as last shown: its sort group, and the summary's counts."""
        self.kind_counts: Counter[StatusKind] = Counter()
        """Guilds per state, filtered or not, kept up to date by :meth:`update`."""
        self._needle = ""
        self._cursor_id: str | None = None
        self._painted: dict[int, list[Cell]] = {}
        self._label_cells: dict[str, int] = {}
        self._longest = 0
        """The longest label in cells: the name column is sized to it (up to a cap)."""
        self.sorts = 0
        """How many times the order was recomputed (the burst tests count them)."""
        self.silences: Silences | None = None
        """Set by the app: silenced rows get a mark and the time left."""
        self.update(snapshots)

    # -- data ----------------------------------------------------------------------------

    @property
    def rows(self) -> tuple[str, ...]:
        """The guild ids shown, top to bottom (filtered and sorted)."""
        return tuple(self._rows)

    @property
    def selected(self) -> str | None:
        """The selected guild's id, or None when no row is shown."""
        return self._cursor_id

    @property
    def cursor(self) -> int:
        """The selected row's index in :attr:`rows` (0 when empty)."""
        if self._cursor_id is None:
            return 0
        return self._index[self._cursor_id]

    @property
    def total(self) -> int:
        """Guilds known, filtered or not."""
        return len(self._snapshots)

    def snapshots(self) -> tuple[GuildSnapshot, ...]:
        """Every guild's snapshot, filtered or not, in the store's order."""
        return tuple(self._snapshots.values())

    def snapshot(self, guild_id: str) -> GuildSnapshot:
        """The snapshot shown for one guild."""
        return self._snapshots[guild_id]

    def update(self, snapshots: Iterable[GuildSnapshot]) -> None:
        """Show new snapshots (one store wake-up's worth): at most one re-sort, one repaint."""
        batch = snapshots if isinstance(snapshots, (list, tuple)) else list(snapshots)
        moved = False
        renamed = False
        # Locals: this loop runs once per guild of a wake-up (10,000 in a server restart),
        # so it does the least per guild: one kind, two dict reads, two writes.
        kinds, counts, known, ranks = self._kinds, self.kind_counts, self._snapshots, RANKS
        position, needle = self._position, self._needle
        flips: list[tuple[StatusKind, StatusKind]] = []
        for snapshot in batch:
            guild_id = snapshot.guild_id
            before = known.get(guild_id)
            known[guild_id] = snapshot
            kind = status_kind(snapshot)
            if before is None:
                position[guild_id] = len(position)
                counts[kind] += 1
                kinds[guild_id] = kind
                self._label_cells[guild_id] = label_cells(snapshot)
                moved = renamed = True
                continue
            was = kinds[guild_id]
            if was != kind:
                kinds[guild_id] = kind
                flips.append((was, kind))
                if ranks[was] != ranks[kind]:
                    moved = True  # another group
            # The same name object is the same name: no property reads per status change.
            if before.name is not snapshot.name:
                if needle and before.name != snapshot.name:
                    moved = True  # a renamed guild may (no longer) match
                if before.label != snapshot.label:
                    self._label_cells[guild_id] = label_cells(snapshot)
                    renamed = True
        if len(flips) > _RECOUNT_ABOVE:
            # One count in C beats thousands of Counter updates in the loop.
            self.kind_counts = Counter(kinds.values())
        else:
            for was, kind in flips:
                counts[was] -= 1
                counts[kind] += 1
        if renamed:
            # Only on a new or renamed guild: a scan of ints, never once per status change.
            self._longest = max(self._label_cells.values(), default=0)
        if moved:
            self._resort_in_view()
        if moved or renamed or not self._painted:
            self.refresh()
        else:
            # Same order, same columns: repaint only the rows on screen whose cells changed.
            # Every heartbeat is a new snapshot (its time moved), but a row that still reads
            # "Online · 42 ms · now" must cost no bytes (the latency has a dead band).
            self._repaint_changed({snapshot.guild_id for snapshot in batch})

    def set_filter(self, text: str) -> None:
        """Show only guilds whose id or name contains ``text`` (case-insensitive)."""
        needle = text.casefold()
        if needle != self._needle:
            self._needle = needle
            self._resort_in_view()
            self.refresh()

    def _resort_in_view(self) -> None:
        # A selection on screen stays on screen when the order changes (and a selection on the
        # first page brings the worst rows back to the top); one the operator scrolled away
        # from with the wheel is left alone.
        follow = self.is_mounted and self._cursor_on_screen()
        self._resort()
        if follow:
            self._scroll_to_cursor()

    def _cursor_on_screen(self) -> bool:
        if self._cursor_id not in self._index:
            return True
        top = int(self.scroll_offset.y)
        return top <= self.cursor < top + self._page

    def _resort(self) -> None:
        self.sorts += 1
        needle = self._needle
        if needle:
            shown = [g for g, s in self._snapshots.items() if matches(s, needle)]
        else:
            shown = list(self._snapshots)
        # One int per guild as the key (group, then the store order as the explicit
        # tie-break): 10,000 rows sort in a few ms, with no snapshot read in the sort.
        kinds, position, spread = self._kinds, self._position, len(self._position)
        shown.sort(key=lambda g: RANKS[kinds[g]] * spread + position[g])
        old_index = self.cursor if self._cursor_id in self._index else 0
        self._rows = shown
        self._index = {guild_id: index for index, guild_id in enumerate(shown)}
        if self._cursor_id not in self._index:
            # The selected guild was filtered out: stay at the same height in the list.
            self._cursor_id = self._rows[min(old_index, len(self._rows) - 1)] if shown else None
        self._update_virtual_size()

    # -- geometry ------------------------------------------------------------------------

    @property
    def _header_lines(self) -> int:
        return 1 if self.scrollable_content_region.width >= HEADER_MIN_WIDTH else 0

    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - self._header_lines)

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(
            self.scrollable_content_region.width, len(self._rows) + self._header_lines
        )

    def on_resize(self) -> None:
        self._update_virtual_size()
        self._scroll_to_cursor()
        # The scrollbars and the screen's size classes settle after this event: place the
        # rows again once they have, or a stale page height leaves the worst rows scrolled out.
        self.call_after_refresh(self._scroll_to_cursor)

    def on_mount(self) -> None:
        self._update_virtual_size()
        # Countdowns and "last seen" move with time; the tick repaints only changed rows.
        self.set_interval(TICK_INTERVAL, self._tick)

    # -- painting ------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        layout = Layout.for_width(width, self._longest)
        header = self._header_lines
        if y < header:
            return self._strip(layout.header(), None, width, cursor=False)
        index = int(self.scroll_offset.y) + y - header
        if index >= len(self._rows):
            self._painted.pop(y, None)
            return Strip.blank(width, self.rich_style)
        guild_id = self._rows[index]
        snapshot = self._snapshots[guild_id]
        cells = row_cells(snapshot, self._clock(), layout, self._silence(snapshot))
        self._painted[y] = cells
        strip = self._strip(cells, snapshot, width, cursor=guild_id == self._cursor_id)
        return strip.apply_meta({"row": index})

    def _strip(
        self, cells: list[Cell], snapshot: GuildSnapshot | None, width: int, *, cursor: bool
    ) -> Strip:
        extra = ("guild-list--cursor",) if cursor else ()
        segments = []
        for text, role in cells:
            if snapshot is None:
                component = "guild-list--header"
            elif role == "dot":
                component = _DOT_CLASSES[status_kind(snapshot)]
            else:
                component = f"guild-list--{role}"
            style = self.get_visual_style(component, *extra).rich_style
            segments.append(Segment(text, style))
        fill = self.get_visual_style("guild-list--name", *extra).rich_style
        return Strip(segments).extend_cell_length(width, fill).crop(0, width)

    def _silence(self, snapshot: GuildSnapshot) -> SilenceState | None:
        if self.silences is None:
            return None
        return self.silences.state(snapshot.guild_id, snapshot)

    def _repaint_changed(self, changed: set[str]) -> None:
        width = self.scrollable_content_region.width
        layout = Layout.for_width(width, self._longest)
        now = self._clock()
        top = int(self.scroll_offset.y)
        for y, cells in list(self._painted.items()):
            index = top + y - self._header_lines
            if index >= len(self._rows) or self._rows[index] not in changed:
                continue
            snapshot = self._snapshots[self._rows[index]]
            if row_cells(snapshot, now, layout, self._silence(snapshot)) != cells:
                self.refresh_line(top + y)

    def _tick(self) -> None:
        width = self.scrollable_content_region.width
        layout = Layout.for_width(width, self._longest)
        now = self._clock()
        for y, cells in list(self._painted.items()):
            index = int(self.scroll_offset.y) + y - self._header_lines
            if index < len(self._rows):
                snapshot = self._snapshots[self._rows[index]]
                if row_cells(snapshot, now, layout, self._silence(snapshot)) != cells:
                    self.refresh_line(int(self.scroll_offset.y) + y)

    # -- moving --------------------------------------------------------------------------

    def _select(self, index: int) -> None:
        if not self._rows:
            return
        index = max(0, min(index, len(self._rows) - 1))
        before, top = self.cursor, self.scroll_offset.y
        self._cursor_id = self._rows[index]
        self._scroll_to_cursor()
        if self.scroll_offset.y != top or not self._painted:
            self.refresh()
        else:
            # The page stays: only the rows the cursor left and reached change.
            header = self._header_lines
            self.refresh_line(before + header)
            self.refresh_line(index + header)

    def _scroll_to_cursor(self) -> None:
        if self._cursor_id is None or self._cursor_id not in self._index:
            return
        index = self.cursor
        top = int(self.scroll_offset.y)
        if index < self._page:
            # The selection fits on the first page: show it from the top, worst guild first.
            if top:
                self.scroll_to(y=0, animate=False)
        elif index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + self._page:
            self.scroll_to(y=index - self._page + 1, animate=False)

    def action_cursor_up(self) -> None:
        """Select the guild above."""
        self._select(self.cursor - 1)

    def action_cursor_down(self) -> None:
        """Select the guild below."""
        self._select(self.cursor + 1)

    def action_page_up(self) -> None:
        """Select one page up."""
        self._select(self.cursor - self._page)

    def action_page_down(self) -> None:
        """Select one page down."""
        self._select(self.cursor + self._page)

    def action_first(self) -> None:
        """Select the first (worst) guild."""
        self._select(0)

    def action_last(self) -> None:
        """Select the last guild."""
        self._select(len(self._rows) - 1)

    def action_open(self) -> None:
        """Open the selected guild's detail view."""
        if self._cursor_id is not None:
            self.post_message(self.DetailRequested(self, self._cursor_id))

    def on_click(self, event: Click) -> None:
        index = event.style.meta.get("row")
        if isinstance(index, int) and index < len(self._rows):
            self._select(index)
            if event.chain >= 2:
                self.action_open()
