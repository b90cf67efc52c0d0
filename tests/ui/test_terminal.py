"""The real screen in a real terminal: quitting restores it, small panes and inline work.

The screen runs as its own process (``tests.ui.screen_child``) in a pty or a tmux pane, so
alternate screen, mouse reporting, signals and resizing are the terminal's, not a simulation.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time

import pytest

from bench._pty import PtyProgram
from tests.tmux import TMUX, TmuxSession

CHILD = [sys.executable, "-m", "tests.ui.screen_child"]
RESTORE = (b"\x1b[?1000l", b"\x1b[?1049l", b"\x1b[?25h")
"""Mouse reporting off, alternate screen off, cursor shown: the terminal as it was."""

needs_tmux = pytest.mark.skipif(
    TMUX is None and not os.environ.get("CI"), reason="tmux not installed (CI installs it)"
)


def _wait_exit(program: PtyProgram, timeout: float = 15.0) -> int:
    deadline = time.monotonic() + timeout
    while program.process.poll() is None:
        assert time.monotonic() < deadline, "the screen did not exit"
        program.read_for(0.05)
    program.read_for(0.05)
    return program.process.returncode


@pytest.mark.parametrize(
    "how", ["SIGTERM", "SIGHUP", "q", "ctrl+c"], ids=["sigterm", "sighup", "q", "ctrl-c"]
)
def test_every_way_out_restores_the_terminal(how: str) -> None:
    with PtyProgram([*CHILD, "online"], columns=80, rows=24) as program:
        program.wait_for(b"Online")
        program.read_for(0.3)  # let the first frame and the signal handlers settle
        before = len(program.output)
        if how.startswith("SIG"):
            os.kill(program.process.pid, getattr(signal, how))
        else:
            os.write(program.master, b"q" if how == "q" else b"\x03")
        # Ctrl+C is an interrupt (128 + SIGINT); every other way out is a normal end.
        assert _wait_exit(program) == (130 if how == "ctrl+c" else 0)
        tail = bytes(program.output[before:])
    for sequence in RESTORE:
        assert sequence in tail, f"{sequence!r} not written after {how}"
    assert b"Traceback" not in tail


@needs_tmux
def test_resizing_down_to_a_20x3_pane_keeps_dot_and_word() -> None:
    with TmuxSession([*CHILD, "reconnecting", "--no-animation"], width=80, height=24) as pane:
        screen = pane.wait_for("? Help")
        assert "◌ Reconnecting in" in screen
        assert "Test Guild" in screen
        pane.resize(40, 10)
        # The footer re-fits its keys a frame after the body: wait for the settled frame
        # (a capture in between shows the 80-column key list cut at 40).
        screen = pane.wait_for(lambda s: "Test Guild" in s and "Reconnect" in s and "? Help" in s)
        assert "s Silence" not in screen  # dropped for room; quit and help stay
        pane.resize(20, 3)
        screen = pane.wait_for(lambda s: "Retry in" in s or "Retrying" in s)
        lines = screen.splitlines()
        assert lines[0].startswith("◌ Retry")
        assert "? Help" not in screen  # the footer went instead of clipping the status
        assert all(len(line) <= 20 for line in lines)
        pane.send_keys("q")
        assert "[exit 0]" in pane.wait_for("[exit")


@needs_tmux
def test_r_in_tmux_retries_and_the_screen_follows() -> None:
    with TmuxSession([*CHILD, "lost"], width=40, height=10) as pane:
        pane.wait_for("Unauthorized")  # the "lost" state is a refused token (401)
        pane.send_keys("r")
        pane.wait_for("◉ Online")
        pane.send_keys("C-c")
        assert "[exit 130]" in pane.wait_for("[exit")


@needs_tmux
def test_inline_mode_draws_under_the_prompt_and_leaves_its_last_frame() -> None:
    command = f"echo '$ prompt'; {shlex.join([*CHILD, 'offline', '--inline'])}"
    with TmuxSession(["sh", "-c", command], width=80, height=24) as pane:
        screen = pane.wait_for("? Help")
        lines = screen.splitlines()
        assert lines[0] == "$ prompt"  # the shell's output above stays
        assert "✕ Offline" in screen
        assert "Last seen 5 minutes ago · v1.2.3" in screen
        # Inline: the app takes the lines it needs (padding, 3 lines, footer), not the screen.
        footer_row = next(row for row, line in enumerate(lines) if "? Help" in line)
        assert footer_row <= 6
        pane.send_keys("q")
        screen = pane.wait_for("[exit")
        assert "[exit 0]" in screen
        # The final state stays printed under the prompt, like any command's output.
        assert "✕ Offline" in screen
        assert "Last seen 5 minutes ago · v1.2.3" in screen
        assert screen.splitlines()[0] == "$ prompt"


@needs_tmux
def test_inline_list_of_several_guilds_takes_the_lines_it_needs() -> None:
    command = f"echo '$ prompt'; {shlex.join([*CHILD, 'online', '--several', '--inline'])}"
    with TmuxSession(["sh", "-c", command], width=80, height=24) as pane:
        screen = pane.wait_for("? Help")
        lines = screen.splitlines()
        assert lines[0] == "$ prompt"
        rows = [line for line in lines if line.lstrip()[:1] in ("⊘", "✕", "◌", "◉")]
        assert len(rows) == 8  # every guild, worst first
        assert rows[0].split()[:2] == ["⊘", "Dunmore"]
        footer_row = next(row for row, line in enumerate(lines) if "? Help" in line)
        assert footer_row <= 14  # prompt, summary, titles, 8 rows, footer: not the screen
        pane.send_keys("R")
        pane.wait_for(lambda s: "8 online" in s)
        pane.send_keys("q")
        screen = pane.wait_for("[exit")
        assert "[exit 0]" in screen
        assert "Dunmore" in screen  # the last frame stays printed


@pytest.mark.parametrize("pulse", [True, False], ids=["pulse", "no-animation"])
def test_idle_screen_writes_at_most_a_few_hundred_bytes_a_second(pulse: bool) -> None:
    flags = [] if pulse else ["--no-animation"]
    with PtyProgram([*CHILD, "offline" if not pulse else "online", *flags]) as program:
        program.wait_for(b"Help")
        program.read_for(1.0)  # first paint and terminal queries are not idle cost
        seconds = 3.0
        rate = program.read_for(seconds) / seconds
    if pulse:
        assert 0 < rate <= 400  # the dot's colour changes, and little else
    else:
        assert rate == 0  # nothing moves, nothing is written


def test_sighup_leaves_even_when_the_clean_shutdown_hangs() -> None:
    # A shutdown blocked on a vanished terminal (Textual's writer thread dies on EIO) must not
    # leave an orphan behind: after SIGHUP the process exits with 129 within the grace period.
    script = (
        "import asyncio, os, signal\n"
        "from guildwatch.ui._signals import ExitSignals\n"
        "async def main():\n"
        "    ExitSignals(lambda: None, hangup_grace=0.3).install()\n"
        "    os.kill(os.getpid(), signal.SIGHUP)\n"
        "    await asyncio.sleep(30)\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], timeout=20, check=False)
    assert result.returncode == 129
