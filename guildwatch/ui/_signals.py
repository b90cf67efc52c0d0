"""SIGTERM and SIGHUP quit the screen cleanly, like ``q``.

Textual handles neither (its Linux driver only handles TSTP, CONT and WINCH), so a ``kill`` or
a closed SSH session would leave the terminal in the alternate screen with mouse reporting on
(docs/upstream-defects.md, Textualize/textual#5140). The handlers run on the app's event loop.

SIGHUP also arms a last-resort exit. It means the terminal is gone, and writing to a vanished
pty kills Textual 8.2.8's ``WriterThread`` (its ``run`` has no ``try``); the shutdown's own
writes (``disable_input`` -> ``_disable_mouse_support``) then block forever in
``Queue.put`` on the dead thread's full queue (seen with 1,000 guilds after ``tmux
kill-server``; py-spy: MainThread in ``WriterThread.write``). The normal, clean shutdown gets
:data:`HANGUP_GRACE` seconds; after that the process leaves with 129 instead of lingering as an
orphan that keeps polling the API. Only ``run_tui`` (a real terminal, our own process) arms it,
and disarms it once ``App.run`` returned; an app run in-process (tests) never forces an exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

HANGUP_GRACE = 5.0
"""Seconds a clean shutdown may take after SIGHUP before the process exits regardless."""

_Handler = Callable[[int, FrameType | None], Any] | int | None


class ExitSignals:
    """Routes :data:`EXIT_SIGNALS` to a callback while installed, then restores what was there.

    Args:
        on_signal: Called on the event loop (not in a signal context) when one arrives.
        hangup_grace: Seconds allowed for a clean shutdown after SIGHUP before the process
            exits regardless; None: never force an exit.
    """

    def __init__(self, on_signal: Callable[[], None], *, hangup_grace: float | None = None) -> None:
        self._on_signal = on_signal
        self._hangup_grace = hangup_grace
        self._previous: dict[signal.Signals, _Handler] = {}
        self._hangup_deadline: threading.Timer | None = None

    def install(self) -> None:
        """Take over the signals; a no-op off the main thread or without Unix signals."""
        loop = asyncio.get_running_loop()
        for signum in EXIT_SIGNALS:
            previous = signal.getsignal(signum)
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self._handle, signum)
                self._previous[signum] = previous

    def _handle(self, signum: signal.Signals) -> None:
        if (
            signum == signal.SIGHUP
            and self._hangup_grace is not None
            and self._hangup_deadline is None
        ):
            deadline = threading.Timer(self._hangup_grace, os._exit, (128 + signal.SIGHUP,))
            deadline.daemon = True  # never delays a normal exit of the process
            deadline.start()
            self._hangup_deadline = deadline
        self._on_signal()

    def disarm(self) -> None:
        """The shutdown finished: cancel a pending forced exit after SIGHUP."""
        if self._hangup_deadline is not None:
            self._hangup_deadline.cancel()
            self._hangup_deadline = None

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
