"""The tmux driver used by the end-to-end tests works on this machine."""

from __future__ import annotations

import os
import sys

import pytest

from tests.tmux import TMUX, TmuxSession

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
