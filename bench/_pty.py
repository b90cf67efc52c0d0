"""Run a terminal program in a pseudo-terminal and measure what it writes, as a user's
terminal (or an SSH channel) would receive it.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Mapping, Sequence

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

SYNC_QUERY = b"\x1b[?2026$p"
"""DECRQM for synchronized output: Textual asks once at start-up."""
SYNC_REPLY = b"\x1b[?2026;2$y"
""""Supported, currently reset": what kitty, WezTerm, iTerm2, foot or tmux 3.4 answer."""
SYNC_START = b"\x1b[?2026h"
"""Textual opens every frame with this once the terminal said it supports it."""


class PtyProgram:
    """A program attached to a fresh pty of a given size.

    Args:
        argv: The command.
        columns: Terminal width.
        rows: Terminal height.
        env: Environment overrides (TERM defaults to xterm-256color).
        answer_sync_query: Answer Textual's synchronized-output query as a modern terminal
            does, so that every frame is bracketed by ``SYNC_START`` and can be counted.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        columns: int = 80,
        rows: int = 24,
        env: Mapping[str, str] | None = None,
        answer_sync_query: bool = True,
    ) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        full_env = {**os.environ, "TERM": "xterm-256color", **(env or {})}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=full_env,
            start_new_session=True,
        )
        os.close(slave)
        self.output = bytearray()
        self._answer_sync_query = answer_sync_query

    def read_for(self, seconds: float) -> int:
        """Read everything written during ``seconds``; returns the byte count."""
        deadline = time.perf_counter() + seconds
        count = 0
        while (remaining := deadline - time.perf_counter()) > 0:
            count += self._read_once(remaining)
        return count

    def wait_for(self, pattern: bytes, timeout: float = 30.0) -> float:
        """Seconds from start until ``pattern`` first appears in the output."""
        return self.seen_at(pattern, timeout) - self.started

    def seen_at(self, pattern: bytes, timeout: float = 30.0, *, since: int = 0) -> float:
        """``perf_counter()`` when ``pattern`` was read, looking from output offset ``since``.

        The time is taken when the read that completed the pattern returned, so it is what a
        terminal would have had on screen at most one read earlier.
        """
        deadline = time.perf_counter() + timeout
        while self.output.find(pattern, since) < 0:
            remaining = deadline - time.perf_counter()
            if remaining <= 0 or self.process.poll() is not None:
                tail = bytes(self.output[-400:])
                raise TimeoutError(f"{pattern!r} never appeared; last output: {tail!r}")
            self._read_once(remaining)
        return time.perf_counter()

    def _read_once(self, timeout: float) -> int:
        ready, _, _ = select.select([self.master], [], [], min(timeout, 0.1))
        if not ready:
            return 0
        try:
            chunk = os.read(self.master, 65536)
        except OSError:
            return 0
        if self._answer_sync_query and SYNC_QUERY in self.output[-16:] + chunk:
            self._answer_sync_query = False
            os.write(self.master, SYNC_REPLY)
        self.output += chunk
        return len(chunk)

    def cpu_seconds(self) -> float:
        """User + system CPU time the program has used so far (from /proc)."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def rss_kib(self) -> int:
        """Resident memory of the program, in KiB (from /proc)."""
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not go within 5 s; always closes the pty."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            deadline = time.perf_counter() + 5
            while self.process.poll() is None and time.perf_counter() < deadline:
                self._read_once(0.05)
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        os.close(self.master)

    def __enter__(self) -> PtyProgram:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
