"""A tab's process gets its options through the environment: nothing may be lost on the way."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
from pathlib import Path

from guildwatch.cli._args import parse_args
from guildwatch.cli._options import resolve
from guildwatch.web._child import decode_options, encode_options

TOKEN = "gw-secret-Zq8xTq41"


def test_every_option_survives_the_trip_and_the_token_stays_out(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[[guilds]]\nid = "1234"\nname = "Alpha ✓"\n')
    argv = [
        "--config",
        str(config),
        "--api",
        "https://bot.example.com",
        "--serve",
        "8080",
        "--no-stream",
        "--poll-interval",
        "7.5",
        "--max-retries",
        "1",
        "--no-animation",
        "--no-mouse",
        "--inline",
        "--bell",
        "--desktop-notify",
        "osc777",
        "--on-change",
        "notify-send 'guild changed'",
        "--alert-hold-down",
        "0",
        "--alert-repeat",
        "30m",
        "--silence",
        "1234=1h",
        "--log-file",
        str(tmp_path / "gw.log"),
        "1234",
        "5678",
    ]
    options = resolve(
        parse_args(argv), {"GUILDWATCH_TOKEN": TOKEN}, stdin=io.BytesIO(), stdout_isatty=False
    )
    text = encode_options(options)
    assert TOKEN not in text
    back = decode_options(text, TOKEN)
    # A tab is a full screen: Textual's inline driver would replace the web driver.
    assert options.inline is True
    # --silence is applied once by the serving process: a tab opened later must not restart it.
    assert options.silence == (("1234", 3600.0),)
    assert back == dataclasses.replace(
        options, mode="tui", serve=None, metrics=None, inline=False, silence=()
    )
    assert back.alert_repeat == 1800.0
    assert back.state_dir == options.state_dir
    assert back.guilds[0].name == "Alpha ✓"


def test_the_tab_program_started_by_hand_says_what_it_is() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "guildwatch.web._child"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "guildwatch: this is a browser tab's screen: use guildwatch --serve"
    )
