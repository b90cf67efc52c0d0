"""A bare Textual app showing one static label: the floor for start-up and idle cost.

``python -m bench.floors.bare_app [--toggle HZ]``: with ``--toggle`` it flips one dot's colour
that many times a second (the floor for a pulsing dot).
"""

from __future__ import annotations

import argparse

from textual.app import App, ComposeResult
from textual.widgets import Label


class BareApp(App[None]):
    CSS = """
    #dot { width: 2; }
    #dot.-on { color: green; }
    #dot.-off { color: darkgreen; }
    """

    def __init__(self, toggle_hz: float) -> None:
        super().__init__()
        self._toggle_hz = toggle_hz

    def compose(self) -> ComposeResult:
        yield Label("●", id="dot", classes="-on")
        yield Label("ready")

    def on_mount(self) -> None:
        if self._toggle_hz:
            self.set_interval(1 / self._toggle_hz, self._toggle)

    def _toggle(self) -> None:
        dot = self.query_one("#dot", Label)
        dot.toggle_class("-on", "-off")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--toggle", type=float, default=0.0)
    BareApp(parser.parse_args().toggle).run()


if __name__ == "__main__":
    main()
