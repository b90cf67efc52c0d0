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
"""

from __future__ import annotations

from collections.abc import Iterable

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

    def __init__(
        self,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._compositor = LeanCompositor()
