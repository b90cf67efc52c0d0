"""The installed ``guildwatch --demo`` in small tmux panes: the footer and help still fit.

A 40x10 split used to cut the footer to ``R Retry a`` (no quit, no help) and every help line;
a 20x3 split showed only the word "Keys" in a frame.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from guildwatch.ui._help import HELP_TEXT
from tests.cli.conftest import GUILDWATCH
from tests.tmux import TMUX, TmuxSession

pytestmark = pytest.mark.skipif(
    TMUX is None and not os.environ.get("CI"), reason="tmux not installed (CI installs it)"
)


SCROLLBAR = "▁▂▃▄▅▆▇█▔▏▕ "
"""What a vertical scrollbar column may hold (and the blanks before it)."""


def _env(home: Path) -> dict[str, str]:
    # A private home, so that no user config is read (tmux passes the rest of our environment).
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}


def _footer(screen: str) -> str:
    return screen.rstrip("\n").splitlines()[-1]


def test_demo_at_40x10_keeps_quit_and_help_and_a_readable_help(home: Path) -> None:
    command = [str(GUILDWATCH), "--demo", "--no-animation"]
    with TmuxSession(command, width=40, height=10, env=_env(home)) as pane:
        screen = pane.wait_for(lambda text: "? Help" in text, timeout=30)
        footer = _footer(screen)
        assert "q Quit" in footer
        assert "r Retry" in footer

        pane.send_keys("?")
        screen = pane.wait_for("Keys", timeout=10)
        assert "retry now (selected guild)" in screen
        assert "retry every down guild" in screen
        # Scrolls down to the states, whole words, none under the scrollbar.
        pane.send_keys("End")
        screen = pane.wait_for("its dot pulses.", timeout=10)
        assert "gave up: press r" in screen

        pane.resize(20, 3)
        # Every row is help text, none is a frame around a single word.
        screen = pane.wait_for(lambda text: "╭" not in text, timeout=10)
        lines = [line for line in screen.splitlines() if line.strip()]
        assert len(lines) == 3, screen
        flat = " ".join(HELP_TEXT.split())
        for line in lines:
            assert " ".join(line.rstrip(SCROLLBAR).split()) in flat, screen

        pane.resize(40, 10)
        pane.send_keys("q")  # closes help
        pane.wait_for(lambda text: "? Help" in text, timeout=10)
        pane.send_keys("q")
        screen = pane.wait_for("[exit", timeout=20)
        assert "[exit 0]" in screen
        assert "Traceback" not in screen
