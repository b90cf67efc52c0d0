"""Real outside programs the metrics and browser tests use: promtool, prometheus, chromium.

Missing on a developer's machine, a test is skipped with the package to install; in CI
(``CI`` set, as ``.ci/run`` and every CI service do) a missing program fails the test
instead, so a broken install can never turn into a green run of skipped tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.cli.conftest import GUILDWATCH, clean_env


def need(program: str, package: str) -> str:
    """The path of ``program``; skip (or fail in CI) when it is not installed."""
    path = shutil.which(program)
    if path is not None:
        return path
    message = f"{program} is not installed (apt-get install {package}; .ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    """A port nobody listens on right now (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def promtool_check(text: str) -> None:
    """``promtool check metrics`` accepts ``text`` (lint warnings fail too)."""
    promtool = need("promtool", "prometheus")
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout


@contextmanager
def guildwatch(args: list[str], home: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """The installed ``guildwatch ARGS`` running, stopped with SIGINT (then killed) at exit."""
    process = subprocess.Popen(
        [str(GUILDWATCH), *args],
        env=clean_env(home, env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=home,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(2)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def read_line_with(pipe: object, fragment: str, timeout: float = 20.0) -> str:
    """The first line of a text pipe holding ``fragment`` (bounded: a thread reads)."""
    import queue
    import threading

    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in pipe:  # type: ignore[attr-defined]
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            continue
        seen.append(line)
        if fragment in line:
            return line
    raise AssertionError(f"no line with {fragment!r} within {timeout} s: {seen!r}")


def without_module(home: Path, module: str) -> dict[str, str]:
    """Environment for a subprocess in which ``module`` cannot be imported (a missing extra)."""
    site = home / "no-extra"
    site.mkdir(exist_ok=True)
    # importlib.util.find_spec() answers None for a name that sys.modules maps to None.
    (site / "sitecustomize.py").write_text(f"import sys\nsys.modules[{module!r}] = None\n")
    return {"PYTHONPATH": str(site)}
