"""A screen whose partial repaints render only the widgets under the repainted cells.

Textual 8's ``Compositor._get_renders`` picks the widgets to render for a partial update by
whether their *clip* (the area of their container) overlaps the dirty region, not whether the
widget itself does. So a one-cell change, such as the pulsing status dot, renders every
sibling of the dot and of each of its containers: nine widgets on the one-guild screen,
the footer among them, where four contribute nothing to the cells that are written. On an
idle screen that pulse is most of what the process does. This wrapper keeps the stock
behaviour and adds one test, that the widget's visible part overlaps the crop; a widget that
fails it has no cell inside the dirty spans, so what reaches the terminal is byte for byte
the same (tests/ui/test_compositor.py compares the two).
"""

from __future__ import annotations

from collections.abc import Iterable

from textual._compositor import Compositor
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip


class LeanCompositor(Compositor):
    """``Compositor`` that skips widgets outside a partial update's crop."""

    def _get_renders(
        self, crop: Region | None = None
    ) -> Iterable[tuple[Region, Region, list[Strip]]]:
        if crop is None:
            yield from super()._get_renders(None)
            return
        # The stock loop with one more test: the widget's visible part meets the crop.
        overlaps = crop.overlaps
        intersection = Region.intersection
        for widget, (region, clip) in self.visible_widgets.items():
            visible = intersection(region, clip)
            if not (visible.width and visible.height and overlaps(visible)):
                continue
            yield (
                region,
                clip,
                widget.render_lines(
                    Region(
                        visible.x - region.x,
                        visible.y - region.y,
                        visible.width,
                        visible.height,
                    )
                ),
            )


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
