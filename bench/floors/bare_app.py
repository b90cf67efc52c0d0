"""A bare Textual app showing one label: the floor for start-up, idle cost, latency and memory.

``python -m bench.floors.bare_app [--toggle HZ] [--feed FIFO]``: with ``--toggle`` it flips one
dot's colour that many times a second (the floor for a pulsing dot); with ``--feed`` it reads
lines from a named pipe into a local queue and shows each one as ``v<line>`` in the
label (the floor for event-to-screen latency).
"""

from __future__ import annotations

import argparse
import asyncio
import os

from textual.app import App, ComposeResult
from textual.widgets import Label


class BareApp(App[None]):
    CSS = """
    #dot { width: 2; }
    #dot.-on { color: green; }
    #dot.-off { color: darkgreen; }
    """

    def __init__(self, toggle_hz: float, feed: str | None = None) -> None:
        super().__init__()
        self._toggle_hz = toggle_hz
        self._feed = feed
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._pending = b""

    def compose(self) -> ComposeResult:
        yield Label("●", id="dot", classes="-on")
        yield Label("ready", id="text")

    def on_mount(self) -> None:
        if self._toggle_hz:
            self.set_interval(1 / self._toggle_hz, self._toggle)
        if self._feed:
            fd = os.open(self._feed, os.O_RDONLY | os.O_NONBLOCK)
            asyncio.get_running_loop().add_reader(fd, self._read, fd)
            self.run_worker(self._show_queue())

    def _read(self, fd: int) -> None:
        chunk = os.read(fd, 4096)
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        for line in lines:
            self._queue.put_nowait(line.decode())

    async def _show_queue(self) -> None:
        label = self.query_one("#text", Label)
        while True:
            label.update(f"v{await self._queue.get()}")

    def _toggle(self) -> None:
        dot = self.query_one("#dot", Label)
        dot.toggle_class("-on", "-off")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--toggle", type=float, default=0.0)
    parser.add_argument("--feed", help="named pipe to read lines from")
    args = parser.parse_args()
    BareApp(args.toggle, args.feed).run()


if __name__ == "__main__":
    main()
