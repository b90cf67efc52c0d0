"""The installed ``guildwatch`` opening its screen in a real terminal (a tmux pane).

What the command line adds to the screen: the token reaching the server without reaching the
screen or the log, ``--token-file -`` leaving the keyboard working, and ``--demo`` as the
README's first command.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.conftest import GUILDWATCH
from tests.harness import RunningServer
from tests.tmux import TMUX, TmuxSession

pytestmark = pytest.mark.skipif(
    TMUX is None and not os.environ.get("CI"), reason="tmux not installed (CI installs it)"
)


def _env(home: Path, **extra: str) -> dict[str, str]:
    # A private home, so that no user config is read (tmux passes the rest of our environment).
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), **extra}


def test_screen_shows_status_and_never_the_token(
    real_server: RunningServer, home: Path, tmp_path: Path
) -> None:
    guild = real_server.guild_ids[0]
    real_server.heartbeat(guild, "4.2.0")
    log_file = tmp_path / "screen.log"
    command = [str(GUILDWATCH), "--api", real_server.url, "--log-file", str(log_file), guild]
    env = _env(home, GUILDWATCH_TOKEN=real_server.token)
    with TmuxSession(command, width=100, height=20, env=env) as pane:
        screen = pane.wait_for("Online", timeout=30)
        assert "v4.2.0" in screen
        assert real_server.token not in screen
        pane.send_keys("q")
        assert "[exit 0]" in pane.wait_for("[exit", timeout=20)
    log = log_file.read_text()
    assert "connecting (attempt 1)" in log
    assert real_server.token not in log


def test_token_from_stdin_keeps_the_keyboard(
    real_server: RunningServer, home: Path, tmp_path: Path
) -> None:
    guild = real_server.guild_ids[0]
    real_server.heartbeat(guild)
    token_file = tmp_path / "token"
    token_file.write_text(real_server.token + "\n")
    token_file.chmod(0o600)
    pipeline = f"cat {token_file} | {GUILDWATCH} --token-file - --api {real_server.url} {guild}"
    with TmuxSession(["sh", "-c", pipeline], width=100, height=20, env=_env(home)) as pane:
        pane.wait_for("Online", timeout=30)
        pane.send_keys("q")  # read from /dev/tty: stdin was the pipe that carried the token
        assert "[exit 0]" in pane.wait_for("[exit", timeout=20)


def test_demo_opens_the_screen_on_simulated_guilds(home: Path) -> None:
    with TmuxSession([str(GUILDWATCH), "--demo"], width=100, height=30, env=_env(home)) as pane:
        screen = pane.wait_for(lambda text: "Online" in text or "Offline" in text, timeout=30)
        assert "Last seen" in screen
        pane.send_keys("q")
        screen = pane.wait_for("[exit", timeout=20)
        assert "[exit 0]" in screen
        assert "Traceback" not in screen


def test_inline_flag_reaches_the_screen(real_server: RunningServer, home: Path) -> None:
    guild = real_server.guild_ids[0]
    real_server.heartbeat(guild)
    command = (
        f"echo '$ prompt'; {GUILDWATCH} --inline --no-animation --api {real_server.url} {guild}"
    )
    env = _env(home, GUILDWATCH_TOKEN=real_server.token)
    with TmuxSession(["sh", "-c", command], width=100, height=24, env=env) as pane:
        screen = pane.wait_for("Online", timeout=30)
        assert screen.splitlines()[0] == "$ prompt"  # drawn under the prompt, not full screen
        pane.send_keys("q")
        assert "[exit 0]" in pane.wait_for("[exit", timeout=20)
