"""The tmux driver used by the end-to-end tests works on this machine."""

from __future__ import annotations

import os
import sys

import pytest

from tests.tmux import LIVE, RUN_PREFIX, TMUX, TmuxSession, socket_dir

# CI installs tmux, so there a missing tmux is a failure, never a silent skip.
pytestmark = pytest.mark.skipif(
    TMUX is None and not os.environ.get("CI"), reason="tmux not installed (CI installs it)"
)


def test_types_and_reads_the_screen() -> None:
    program = "import sys; print('ready', flush=True); print('got', sys.stdin.readline().strip())"
    with TmuxSession([sys.executable, "-c", program], width=40, height=10) as session:
        session.wait_for("ready")
        session.send_keys("hello", "Enter")
        screen = session.wait_for("[exit 0]")
        assert "got hello" in screen
        assert len(screen.splitlines()[0]) <= 40


def test_no_socket_of_this_run_survives_its_session() -> None:
    # tmux keeps the socket file after kill-server; left alone, every test run added more.
    with TmuxSession([sys.executable, "-c", "print('up', flush=True)"]) as first:
        first.wait_for("[exit 0]")
        assert first.socket_path.exists()
    second = TmuxSession([sys.executable, "-c", "print('up', flush=True)"])
    second.start()
    second.wait_for("up")
    second.kill()
    live = {session.socket_path for session in LIVE}
    leftovers = {path for path in socket_dir().glob(f"{RUN_PREFIX}*") if path not in live}
    assert leftovers == set()
    assert not first.socket_path.exists()
    assert not second.socket_path.exists()
