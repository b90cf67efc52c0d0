"""Drive a real terminal program in tmux: start it, type at it, read its screen.

End-to-end tests run the real ``guildwatch`` command this way, as a person would over SSH. Each
:class:`TmuxSession` uses its own tmux server socket (``-L``), so tests never touch a user's tmux
and a failed test cannot leave a session behind in another test's server.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

TMUX = shutil.which("tmux")

RUN_PREFIX = f"gw-test-{os.getpid()}-"
"""Every socket this test process creates starts with this, so a check can find its own."""

LIVE: set[TmuxSession] = set()
"""Sessions started and not yet killed; the test session's cleanup ends whatever is left."""


def socket_dir() -> Path:
    """Where tmux puts ``-L`` sockets: ``$TMUX_TMPDIR`` (or /tmp) ``/tmux-UID``."""
    base = os.environ.get("TMUX_TMPDIR") or "/tmp"  # tmux's own default
    return Path(os.path.realpath(base)) / f"tmux-{os.getuid()}"


class TmuxSession:
    """One detached tmux session running one command.

    Args:
        command: argv of the program to run (quoted for the shell tmux starts).
        width: Pane columns.
        height: Pane rows.
        env: Extra environment for the program.
    """

    def __init__(
        self,
        command: list[str],
        *,
        width: int = 80,
        height: int = 24,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if TMUX is None:
            raise RuntimeError("tmux is not installed")
        self.socket_name = f"{RUN_PREFIX}{uuid.uuid4().hex[:12]}"
        self.socket_path = socket_dir() / self.socket_name
        """tmux leaves this file behind after kill-server; :meth:`kill` removes it."""
        self.name = "main"
        self.width = width
        self.height = height
        self._command = command
        self._env = dict(env or {})

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert TMUX is not None
        return subprocess.run(
            [TMUX, "-L", self.socket_name, *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=10,
        )

    def start(self) -> None:
        """Start the program in a detached session; the pane stays after it exits."""
        exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in self._env.items())
        script = f"{'env ' + exports + ' ' if exports else ''}{shlex.join(self._command)}"
        # Keep the pane after exit so the test can read the exit status and the last screen.
        LIVE.add(self)
        self._tmux(
            "-f",
            os.devnull,
            "new-session",
            "-d",
            "-s",
            self.name,
            "-x",
            str(self.width),
            "-y",
            str(self.height),
            "sh",
            "-c",
            script + '; echo "[exit $?]"; sleep 30',
        )
        self._tmux("set-option", "-g", "escape-time", "10")
        found = self._tmux("display-message", "-p", "#{socket_path}", check=False).stdout.strip()
        if found:
            self.socket_path = Path(found)

    def send_keys(self, *keys: str) -> None:
        """Type keys (tmux key names such as ``r``, ``q``, ``C-c``, ``Up``)."""
        self._tmux("send-keys", "-t", self.name, *keys)

    def capture(self) -> str:
        """The visible screen as plain text (no escape codes)."""
        return self._tmux("capture-pane", "-p", "-t", self.name).stdout

    def capture_styled(self) -> str:
        """The visible screen with its SGR attributes and colours as escape codes (``-e``)."""
        return self._tmux("capture-pane", "-p", "-e", "-t", self.name).stdout

    def show(self, fmt: str) -> str:
        """A tmux format about the pane, e.g. ``#{mouse_any_flag}`` (``display-message -p``)."""
        return self._tmux("display-message", "-p", "-t", self.name, fmt).stdout.strip()

    def bell_rang(self) -> bool:
        """Whether the program rang the bell (tmux flags it in a session nobody looks at)."""
        return self.show("#{window_bell_flag}") == "1"

    def mouse_reporting(self) -> bool:
        """Whether the program asked the terminal to report mouse buttons or motion."""
        return "1" in (self.show("#{mouse_any_flag}"), self.show("#{mouse_all_flag}"))

    def resize(self, width: int, height: int) -> None:
        """Resize the window, as a user dragging a tmux split would."""
        self._tmux("resize-window", "-t", self.name, "-x", str(width), "-y", str(height))
        self.width, self.height = width, height

    def wait_for(self, predicate: Callable[[str], bool] | str, *, timeout: float = 15.0) -> str:
        """Poll the screen until ``predicate`` holds (or the text appears); return the screen.

        Raises:
            TimeoutError: with the last screen in the message, so a failure shows what was seen.
        """
        check = (lambda screen: predicate in screen) if isinstance(predicate, str) else predicate
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture()
            if check(screen):
                return screen
            time.sleep(0.1)
        raise TimeoutError(f"screen never matched within {timeout} s; last screen:\n{screen}")

    def kill(self) -> None:
        """End the tmux server of this session (and the program), and remove its socket file."""
        self._tmux("kill-server", check=False)
        self.socket_path.unlink(missing_ok=True)
        LIVE.discard(self)

    def __enter__(self) -> TmuxSession:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill()
