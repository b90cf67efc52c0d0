"""The several-guilds view: a one-line summary, the guild list, and a filter input on ``/``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Input, Static

from guildwatch.display import StatusKind, status_kind
from guildwatch.store import Clock, GuildSnapshot
from guildwatch.ui._guild_list import GuildList

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.events import Key

_SUMMARY_WORDS: tuple[tuple[StatusKind, str], ...] = (
    ("lost", "lost"),
    ("offline", "offline"),
    ("degraded", "degraded"),
    ("reconnecting", "reconnecting"),
    ("connecting", "connecting"),
    ("waiting", "waiting"),
    ("maintenance", "maintenance"),
    ("online", "online"),
)


def summary(snapshots: Iterable[GuildSnapshot]) -> str:
    """ "2 lost · 1 offline · 197 online": the counts per state, worst first."""
    return summary_of(Counter(status_kind(snapshot) for snapshot in snapshots))


def summary_of(counts: Mapping[StatusKind, int]) -> str:
    """:func:`summary` from counts already kept (the list keeps them per wake-up)."""
    return " · ".join(f"{counts[kind]} {word}" for kind, word in _SUMMARY_WORDS if counts[kind])


class FilterInput(Input):
    """The ``/`` filter: Enter keeps it and goes back to the list, Esc clears it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_filter", "Clear", show=True),
    ]

    def action_clear_filter(self) -> None:
        """Empty the filter, hide the input and give the list the keys back."""
        self.value = ""
        parent = self.parent
        if isinstance(parent, ManyGuilds):
            parent.close_filter()


class ManyGuilds(Widget):
    """Every guild, one compact row each, with counts on top and a filter at the bottom."""

    DEFAULT_CSS = """
    ManyGuilds {
        height: 1fr;
    }
    ManyGuilds #summary {
        height: 1;
        padding: 0 1;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    ManyGuilds FilterInput, ManyGuilds FilterInput:focus {
        display: none;
        dock: bottom;
        height: 1;
        border: none;
        padding: 0 1;
    }
    ManyGuilds.-filtering FilterInput {
        display: block;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "open_filter", "Filter", key_display="/"),
    ]

    def __init__(
        self, snapshots: Iterable[GuildSnapshot], clock: Clock, *, id: str | None = None
    ) -> None:
        """Create the view.

        Args:
            snapshots: Every guild's current snapshot, in the store's order.
            clock: Source of "now" for countdowns and "last seen".
            id: The ID of the widget in the DOM.
        """
        super().__init__(id=id)
        self.guild_list = GuildList(snapshots, clock, id="guild-list")
        """The rows; the app reads the selection from here."""
        # Held, not queried: a store wake-up may still land while the app is shutting down
        # and the children are already gone from the DOM.
        self._summary = Static(id="summary", markup=False)
        self._summary_text: str | None = None
        self._filter = FilterInput(placeholder="filter by name or id", id="filter")

    def compose(self) -> ComposeResult:
        yield self._summary
        yield self.guild_list
        yield self._filter

    def on_mount(self) -> None:
        self._show_summary()

    def update(self, snapshots: Iterable[GuildSnapshot]) -> None:
        """Show one store wake-up's changes: one re-sort at most, one summary line."""
        self.guild_list.update(snapshots)
        self._show_summary()

    def _show_summary(self) -> None:
        guild_list = self.guild_list
        text = summary_of(guild_list.kind_counts)
        shown, total = len(guild_list.rows), guild_list.total
        if shown != total:
            text = f"filter: {shown} of {total} · {text}"
        if text == self._summary_text:
            return
        self._summary_text = text
        # Content, not markup: nothing in it is ever parsed. No layout: the line is one row
        # high and as wide as the view whatever it says, and a layout pass over the screen
        # would double the cost of a 10,000-guild wake-up's frame.
        self._summary.update(Content(text), layout=False)

    # -- filter --------------------------------------------------------------------------

    def action_open_filter(self) -> None:
        """Show the filter input and type into it; the list narrows as you type."""
        self.add_class("-filtering")
        self._filter.focus()

    def close_filter(self) -> None:
        """Hide the input and focus the list again (an empty filter shows every guild)."""
        if not self._filter.value:
            self.remove_class("-filtering")
        self.guild_list.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.guild_list.set_filter(event.value)
        self._show_summary()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.close_filter()

    def on_key(self, event: Key) -> None:
        # Esc on the list clears an active filter (the input's own Esc does the same).
        if event.key == "escape" and self.has_class("-filtering"):
            event.stop()
            self._filter.action_clear_filter()
