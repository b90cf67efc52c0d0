"""A footer that fits its pane: the least needed keys go first, quit and help never."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.cells import cell_len
from textual.events import Resize
from textual.widgets import Footer

# Not exported by textual.widgets, but it is what Footer.compose yields (Textual 8).
from textual.widgets._footer import FooterKey

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.widget import Widget

KEEP_ORDER: dict[str, int] = {
    "quit": 0,
    "help": 0,
    "close": 0,
    "clear_filter": 1,
    "retry": 2,
    "open": 3,
    "details": 3,
    "open_filter": 4,
    "retry_all": 5,
    "silence": 5,
    "silence_all": 6,
    "cancel": 0,
}
"""Which keys stay when the pane is narrow, lowest first; rank 0 is shown at any width."""

_OTHER_RANK = 7


def key_cells(key: FooterKey) -> int:
    """Columns one key takes in the (non-compact) footer: ``" q Quit "``."""
    return cell_len(key.key_display) + 2 + cell_len(key.description) + 1


def fit_keys(keys: list[FooterKey], width: int) -> list[FooterKey]:
    """The keys that fit in ``width`` columns, in their own order; rank 0 always stays."""
    ranks = [KEEP_ORDER.get(key.action, _OTHER_RANK) for key in keys]
    kept: set[int] = set()
    used = 0
    for index in sorted(range(len(keys)), key=lambda i: (ranks[i], i)):
        cells = key_cells(keys[index])
        if ranks[index] == 0 or used + cells <= width:
            kept.add(index)
            used += cells
    return [key for index, key in enumerate(keys) if index in kept]


class KeysFooter(Footer):
    """Textual's footer, minus the keys that would be cut off at the right edge.

    Textual lists the focused widget's keys first and the app's (quit, help) last, so a
    narrow pane used to lose exactly the two keys a newcomer needs.
    """

    def __init__(self) -> None:
        super().__init__()
        self._fitted_width = 0
        self._composed: tuple[object, ...] | None = None
        """What the keys on screen were built from (None: no keys yet)."""

    def _width(self) -> int:
        return self.size.width or self.app.size.width

    def _signature(self) -> tuple[object, ...]:
        """Everything ``compose`` reads: equal signatures make equal keys."""
        app = self.app
        keys = tuple(
            (b.key, app.get_key_display(b), b.description, b.action, b.group, enabled, tooltip)
            for _, b, enabled, tooltip in self.screen.active_bindings.values()
            if b.show
        )
        return (self._width(), self.compact, self.show_command_palette, keys)

    async def recompose(self) -> None:
        # Textual asks for a recompose on every focus change and binding refresh (five or
        # six times on the way to the first status, ~20 ms each); most change nothing.
        if self._composed is not None and self.is_attached and self._signature() == self._composed:
            return
        await super().recompose()

    def compose(self) -> ComposeResult:
        self._composed = self._signature() if self._bindings_ready else None
        self._fitted_width = width = self._width()
        widgets: list[Widget] = list(super().compose())
        keys = [widget for widget in widgets if isinstance(widget, FooterKey)]
        for key in keys:
            # FooterKey.compact starts True and is data-bound to ours (False) once mounted:
            # the watcher added, then removed "-compact", restyling each key twice before the
            # engine could start (~5 ms). Starting at the bound value changes no class.
            key.set_reactive(FooterKey.compact, self.compact)
        kept = set(map(id, fit_keys(keys, width)))
        # Anything that is not a plain key (none today) is kept as Textual made it.
        yield from (w for w in widgets if not isinstance(w, FooterKey) or id(w) in kept)

    def on_resize(self, event: Resize) -> None:
        if event.size.width != self._fitted_width:
            self.call_after_refresh(self.recompose)
