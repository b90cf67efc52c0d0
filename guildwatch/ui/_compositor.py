"""A screen whose partial repaints render only the widgets under the repainted cells.

Textual 8's ``Compositor._get_renders`` picks the widgets to render for a partial update by
whether their *clip* (the area of their container) overlaps the dirty region, not whether the
widget itself does. So a one-cell change, such as the pulsing status dot, renders every
sibling of the dot and of each of its containers: nine widgets on the one-guild screen,
the footer among them, where four contribute nothing to the cells that are written. On an
idle screen that pulse is most of what the process does. This wrapper renders, for a
partial update, only the widgets whose visible part meets the dirty area, only the rows of
it, and stops at the first widget (front to back) that covers it all: a one-cell change
renders one widget. The cells written are the same (tests/ui/test_compositor.py compares
the two loops); only a cursor move Textual writes with nothing after it is gone.

The screen also paints a store wake-up's changes as soon as they reach it (:meth:`LeanScreen.
paint_promptly`). Textual's frame timer ticks on a 1/60 s grid from its last frame, so a change
that lands within 16.7 ms after another frame (the pulse's, a clock tick's) waits for the next
slot: that wait was the latency bench's whole tail (p99 ~21-26 ms against p50 ~4.5 ms). Store
wake-ups are already held to ``REDRAW_RATE`` a second by the subscription, so painting them at
once keeps the frame rate bounded.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual import events
from textual._compositor import Compositor
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip


class LeanCompositor(Compositor):
    """``Compositor`` whose partial updates render only what the dirty area shows."""

    def _get_renders(
        self, crop: Region | None = None
    ) -> Iterable[tuple[Region, Region, list[Strip]]]:
        if crop is None:
            yield from super()._get_renders(None)
            return
        # The stock loop, narrowed to the crop's rows: a widget that does not reach them is
        # skipped, one that does renders only those rows (the screen and the list are as
        # tall as the terminal; every line they render also goes through the app's filters),
        # and the loop ends at the first widget that covers the whole crop.
        # The clip handed on is that visible band, so ``_render_chops`` places the lines in
        # the same cells as before. Columns are not narrowed: cuts outside the dirty spans
        # are never written anyway.
        intersection = Region.intersection
        top, bottom = crop.y, crop.bottom
        for widget, (region, clip) in self.visible_widgets.items():
            x, y, width, height = intersection(region, clip)
            if not (width and height):
                continue
            band_top, band_bottom = max(y, top), min(y + height, bottom)
            if band_top >= band_bottom or not crop.overlaps(Region(x, y, width, height)):
                continue
            band = Region(x, band_top, width, band_bottom - band_top)
            lines = widget.render_lines(
                Region(x - region.x, band_top - region.y, width, band.height)
            )
            yield region, band, lines
            if Region(x, y, width, height).contains_region(crop):
                # Front to back, and ``_render_chops`` keeps the first strip for each cell:
                # everything after this widget lies behind it within the crop.
                return


class LeanScreen(Screen[None]):
    """The app's default screen, with :class:`LeanCompositor` (same layout, same output)."""

    AUTO_FOCUS = "StatusLine, GuildList"
    """The first row, or the list: where the app puts the focus anyway. Textual's "*" focused
    the scroll container first, and moving the focus on cost a blur and a focus restyle."""

    def __init__(
        self,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._compositor = LeanCompositor()
        self._paint_promptly = False

    def paint_promptly(self) -> None:
        """Paint the next frame as soon as something is dirty, not at the frame timer's next
        1/60 s slot (the caller limits how often it asks: the store's wake-up rate).

        A wake-up that changed nothing on screen leaves the request for the next frame that
        does (a pulse step): one early frame, never more than one per wake-up.
        """
        self._paint_promptly = True

    async def _on_idle(self, event: events.Idle) -> None:
        # Runs before Screen._on_idle (Textual dispatches along the MRO); prevent_default
        # skips that one, which would only resume the frame timer. _on_timer_update is the
        # timer's own callback: it pauses the timer, lays out if asked, paints, runs the
        # after-refresh callbacks.
        if (
            self._paint_promptly
            and (self._layout_required or self._repaint_required or self._dirty_widgets)
            and self.is_current
            and not self.app._batch_count
        ):
            self._paint_promptly = False
            event.prevent_default()
            self._on_timer_update()
            # The next timed frame waits a full 1/60 s from its request, not the grid's next
            # slot: a row that changed height gets a second layout from Textual right after
            # (its virtual_size), and painting that at once kept the GIL from the writer
            # thread still sending this frame (the text reached the pty ~4 ms later).
            timer = self._update_timer
            timer.reset()
            timer.pause()
