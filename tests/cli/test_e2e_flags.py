"""Screen flags end to end: the installed ``guildwatch`` in a tmux pane, as a user runs it.

``--no-mouse`` (and ``mouse = false``), ``--inline`` leaving its last frame, Ctrl+C's exit
code, and the bell staying quiet unless asked for. tmux tells what the program asked of the
terminal (mouse reporting, a bell) through its format variables.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest

from guildwatch.cli._args import parse_args
from guildwatch.cli._options import Options, resolve
from tests.cli.conftest import GUILDWATCH
from tests.harness import RunningServer
from tests.tmux import TMUX, TmuxSession

needs_tmux = pytest.mark.skipif(
    TMUX is None and not os.environ.get("CI"), reason="tmux not installed (CI installs it)"
)

ENV = {"GUILDWATCH_TOKEN": "gw-secret-Zq8xTq41", "GUILDWATCH_API": "http://h"}


def _resolve(argv: list[str]) -> Options:
    return resolve(parse_args(argv), ENV, stdin=io.BytesIO(b""), stdout_isatty=True)


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), **extra}


# -- parsing ------------------------------------------------------------------------------


def test_mouse_is_on_unless_no_mouse_or_mouse_false(tmp_path: Path) -> None:
    assert _resolve(["1"]).mouse is True
    assert _resolve(["--no-mouse", "1"]).mouse is False
    config = tmp_path / "config.toml"
    config.write_text("mouse = false\n")
    assert _resolve(["--config", str(config), "1"]).mouse is False


def test_bell_is_off_unless_asked_for(tmp_path: Path) -> None:
    assert _resolve(["1"]).bell is False
    assert _resolve(["--bell", "1"]).bell is True
    config = tmp_path / "config.toml"
    config.write_text("bell = true\n")
    assert _resolve(["--config", str(config), "1"]).bell is True
    assert _resolve(["--config", str(config), "--no-bell", "1"]).bell is False


# -- in a terminal -----------------------------------------------------------------------


@needs_tmux
@pytest.mark.parametrize("mouse", [True, False], ids=["mouse", "no-mouse"])
def test_no_mouse_leaves_the_mouse_to_the_terminal(
    real_server: RunningServer, home: Path, mouse: bool
) -> None:
    guild = real_server.guild_ids[0]
    real_server.heartbeat(guild)
    flags = [] if mouse else ["--no-mouse"]
    command = [str(GUILDWATCH), "--api", real_server.url, *flags, guild]
    env = _env(home, GUILDWATCH_TOKEN=real_server.token)
    with TmuxSession(command, width=100, height=20, env=env) as pane:
        pane.wait_for("Online", timeout=30)
        assert pane.mouse_reporting() is mouse
        pane.send_keys("q")
        assert "[exit 0]" in pane.wait_for("[exit", timeout=20)


@needs_tmux
def test_inline_leaves_the_last_frame_printed(real_server: RunningServer, home: Path) -> None:
    guild = real_server.guild_ids[0]
    real_server.heartbeat(guild, "3.1.4")
    command = (
        f"echo '$ prompt'; {GUILDWATCH} --inline --no-animation --api {real_server.url} {guild}"
    )
    env = _env(home, GUILDWATCH_TOKEN=real_server.token)
    with TmuxSession(["sh", "-c", command], width=100, height=24, env=env) as pane:
        pane.wait_for("v3.1.4", timeout=30)
        pane.send_keys("q")
        screen = pane.wait_for("[exit", timeout=20)
        assert "[exit 0]" in screen
        lines = screen.splitlines()
        assert lines[0] == "$ prompt"
        assert "Online" in screen
        assert "v3.1.4" in screen


@needs_tmux
def test_ctrl_c_on_the_screen_exits_130(real_server: RunningServer, home: Path) -> None:
    guild = real_server.guild_ids[0]
    real_server.heartbeat(guild)
    command = [str(GUILDWATCH), "--api", real_server.url, guild]
    env = _env(home, GUILDWATCH_TOKEN=real_server.token)
    with TmuxSession(command, width=100, height=20, env=env) as pane:
        pane.wait_for("Online", timeout=30)
        pane.send_keys("C-c")
        screen = pane.wait_for("[exit", timeout=20)
        assert "[exit 130]" in screen
        assert "Traceback" not in screen


@needs_tmux
@pytest.mark.parametrize("bell", [False, True], ids=["default", "bell"])
def test_the_demo_rings_only_with_bell(home: Path, tmp_path: Path, bell: bool) -> None:
    # --on-change keeps the alert service running either way, and it logs each alert just
    # before it would ring; opening help after that line puts a frame behind the bell.
    log = tmp_path / "demo.log"
    flags = ["--bell"] if bell else []
    command = [
        str(GUILDWATCH),
        "--demo",
        "--alert-hold-down",
        "0",
        "--on-change",
        "true",
        "--log-file",
        str(log),
        *flags,
    ]
    with TmuxSession(command, width=100, height=30, env=_env(home)) as pane:
        screen = pane.wait_for("Offline", timeout=40)
        offline_rows = [line.split() for line in screen.splitlines() if " Offline " in line]
        assert offline_rows
        assert all("now" not in row for row in offline_rows), screen  # seen 10 s+ ago
        pane.wait_for(lambda _: log.exists() and "alert:" in log.read_text(), timeout=20)
        pane.send_keys("?")
        pane.wait_for("this help", timeout=10)
        assert pane.bell_rang() is bell
        pane.send_keys("?")  # closes help (Escape then q could arrive as Alt+q)
        pane.wait_for(lambda screen: "this help" not in screen, timeout=10)
        pane.send_keys("q")
        assert "[exit 0]" in pane.wait_for("[exit", timeout=20)


_SGR = re.compile(r"\x1b\[([0-9;:]*)m")


def _colour_codes(styled: str) -> list[str]:
    """Every SGR sequence that sets a colour (16, 256 or RGB; foreground or background)."""
    found = []
    for match in _SGR.finditer(styled):
        params = [int(p) for p in re.split(r"[;:]", match[1]) if p]
        if any(p in (38, 48) or 30 <= p <= 37 or 40 <= p <= 47 or 90 <= p <= 107 for p in params):
            found.append(match[0])
    return found


@needs_tmux
@pytest.mark.parametrize("no_color", ["1", ""], ids=["NO_COLOR=1", "NO_COLOR-empty"])
def test_no_color_means_no_colour_codes_at_all(home: Path, no_color: str) -> None:
    env = _env(home, NO_COLOR=no_color, COLORTERM="truecolor")
    with TmuxSession([str(GUILDWATCH), "--demo"], width=100, height=30, env=env) as pane:
        pane.wait_for("Offline", timeout=40)
        styled = pane.capture_styled()
        pane.send_keys("q")
        assert "[exit 0]" in pane.wait_for("[exit", timeout=20)
    if no_color:
        assert _colour_codes(styled) == [], styled
        assert "\x1b[7m" in styled or ";7m" in styled or "\x1b[7;" in styled  # the selection
    else:
        # The spec: an empty NO_COLOR is no request; the screen keeps its colours.
        assert _colour_codes(styled) != []
