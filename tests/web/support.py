"""Running ``guildwatch --serve`` for the browser tests, and looking at what it leaves behind."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.harness import RunningServer
from tests.metrics.tools import guildwatch, read_line_with

GUILDS = ("111111111111111111", "222222222222222222")


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (Linux: /proc/PID/task/*/children)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "children").read_text()
        except FileNotFoundError:
            continue  # a thread that ended while we looked
        found += [int(child) for child in text.split()]
    return found


def sockets(pid: int) -> int:
    """How many sockets ``pid`` has open."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd).startswith("socket:"):
                count += 1
        except OSError:
            continue  # closed while we looked
    return count


@contextmanager
def serving(
    server: RunningServer, home: Path, *extra: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``guildwatch --serve 127.0.0.1:0`` against ``server``; yields the process and its URL."""
    env = {"GUILDWATCH_TOKEN": server.token, "GUILDWATCH_API": server.url}
    args = ["--serve", "127.0.0.1:0", "--no-animation", *extra, *GUILDS]
    with guildwatch(args, home, env) as process:
        line = read_line_with(process.stdout, "serving the screen at ")
        yield process, line.split(" at ", 1)[1].split()[0]
