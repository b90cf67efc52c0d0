"""SIGTERM and SIGHUP quit the screen cleanly, like ``q``.

Textual handles neither (its Linux driver only handles TSTP, CONT and WINCH), so a ``kill`` or
a closed SSH session would leave the terminal in the alternate screen with mouse reporting on
(pitfalls.md, Textualize/textual#5140). The handlers run on the app's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

_Handler = Callable[[int, FrameType | None], Any] | int | None


class ExitSignals:
    """Routes :data:`EXIT_SIGNALS` to a callback while installed, then restores what was there.

    Args:
        on_signal: Called on the event loop (not in a signal context) when one arrives.
    """

    def __init__(self, on_signal: Callable[[], None]) -> None:
        self._on_signal = on_signal
        self._previous: dict[signal.Signals, _Handler] = {}

    def install(self) -> None:
        """Take over the signals; a no-op off the main thread or without Unix signals."""
        loop = asyncio.get_running_loop()
        for signum in EXIT_SIGNALS:
            previous = signal.getsignal(signum)
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self._on_signal)
                self._previous[signum] = previous

    def remove(self) -> None:
        """Give the signals back.

        ``remove_signal_handler`` leaves SIG_DFL behind, so the previous handler (the CLI's,
        or pytest's) is put back: running the app twice in one process stays correct.
        """
        loop = asyncio.get_running_loop()
        for signum, previous in self._previous.items():
            loop.remove_signal_handler(signum)
            if previous is not None:
                signal.signal(signum, previous)
        self._previous.clear()
