"""The many-guilds flags and config keys: alerts, HTTP/2, staggering (in-process, real files)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from guildwatch.alerts import DEFAULT_HOLD_DOWN, AlertSettings
from guildwatch.cli._args import parse_args
from guildwatch.cli._options import Options, resolve
from guildwatch.engine import start_jitter_for
from guildwatch.errors import ConfigError

ENV = {"GUILDWATCH_TOKEN": "gw-secret-Zq8xTq41", "GUILDWATCH_API": "http://h"}


def _resolve(argv: list[str], env: dict[str, str] | None = None) -> Options:
    merged = {**ENV, **(env or {})}
    return resolve(parse_args(argv), merged, stdin=io.BytesIO(b""), stdout_isatty=True)


def test_alert_defaults_nothing_on() -> None:
    options = _resolve(["1"])
    assert options.alert_settings() == AlertSettings(bell=False, hold_down=DEFAULT_HOLD_DOWN)
    assert options.http2 is False


def test_alert_flags() -> None:
    options = _resolve(
        [
            "1",
            "--no-bell",
            "--desktop-notify",
            "--on-change",
            "/usr/local/bin/page-me --team 'bot ops'",
            "--alert-hold-down",
            "0",
        ]
    )
    assert options.alert_settings() == AlertSettings(
        bell=False,
        desktop="osc9",
        on_change=("/usr/local/bin/page-me", "--team", "bot ops"),
        hold_down=0.0,
    )
    assert _resolve(["1", "--desktop-notify", "osc777"]).desktop_notify == "osc777"


def test_alert_config_keys(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        'bell = false\ndesktop_notify = "osc777"\non_change = "notify-me --json"\n'
        "alert_hold_down = 2.5\nhttp2 = true\n"
    )
    options = _resolve(["--config", str(config), "1"])
    assert (options.bell, options.desktop_notify, options.on_change) == (
        False,
        "osc777",
        ("notify-me", "--json"),
    )
    assert (options.alert_hold_down, options.http2) == (2.5, True)
    assert options.engine_settings().http2 is True
    # Flags beat the file.
    assert _resolve(["--config", str(config), "--bell", "--no-http2", "1"]).bell is True
    config.write_text("desktop_notify = false\n")
    assert _resolve(["--config", str(config), "1"]).desktop_notify is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--on-change", "page-me 'unbalanced"], "--on-change: cannot split the command"),
        (["--on-change", "  "], "--on-change: the command is empty"),
        (["--alert-hold-down", "-1"], "must be 0 or more seconds"),
        (["--alert-hold-down", "nan"], "must be 0 or more seconds"),
        (["--desktop-notify", "osc52"], "invalid choice"),
    ],
)
def test_bad_alert_input_is_one_line(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _resolve(["1", *argv])


def test_bad_config_values(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('desktop_notify = "loud"\n')
    with pytest.raises(ConfigError, match="'desktop_notify' must be"):
        _resolve(["--config", str(config), "1"])


def test_start_jitter_follows_the_guild_count() -> None:
    assert start_jitter_for(1) == 0.0
    assert start_jitter_for(49) == 0.0
    assert start_jitter_for(200) == 2.0
    assert start_jitter_for(1000) == 10.0
    assert start_jitter_for(50_000) == 10.0
    many = _resolve([str(n) for n in range(300)])
    assert many.engine_settings().start_jitter == 3.0


def test_alerts_enabled_agrees_with_the_alert_settings() -> None:
    for flags in ([], ["--bell"], ["--desktop-notify"], ["--on-change", "true"]):
        options = _resolve(["1", *flags])
        assert options.alerts_enabled == options.alert_settings().enabled
