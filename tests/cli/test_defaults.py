"""One table of defaults: the engine, the parser, ``--help``, the config file, the alerts and
the README all say what ``guildwatch.defaults.TABLE`` says."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from guildwatch import defaults
from guildwatch.alerts import AlertSettings
from guildwatch.cli._args import build_parser, parse_args
from guildwatch.cli._config import ConfigFile, load_config
from guildwatch.cli._options import Options, resolve
from guildwatch.display import is_clock_skewed
from guildwatch.engine import EngineSettings, parse_status
from guildwatch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
ROWS = defaults.TABLE
USER_ROWS = [row for row in ROWS if row.flag or row.config_key]
ENV = {"GUILDWATCH_TOKEN": "t", "GUILDWATCH_API": "http://h"}
NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)


def _resolve(argv: list[str]) -> Options:
    return resolve(parse_args(argv), ENV, stdin=io.BytesIO(), stdout_isatty=True)


def test_readme_table_is_the_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert defaults.with_table(readme) == readme, (
        "README.md's table of defaults is stale: run `python -m guildwatch.defaults README.md`"
    )


def test_a_stale_readme_is_noticed() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    stale = readme.replace("| 75 s |", "| 70 s |")
    assert stale != readme
    assert defaults.with_table(stale) == readme
    with pytest.raises(ValueError, match="defaults:start"):
        defaults.with_table("# no table here\n")


def test_every_default_in_the_module_is_in_the_table() -> None:
    declared = [v for v in vars(defaults).values() if isinstance(v, defaults.Default)]
    assert sorted(row.name for row in declared) == sorted(row.name for row in ROWS)
    assert len({row.name for row in ROWS}) == len(ROWS)


def test_engine_settings_defaults_come_from_the_table() -> None:
    engine = EngineSettings(api_url="http://h", token="t")
    fields = {f.name for f in dataclasses.fields(EngineSettings)}
    engine_rows = [row for row in ROWS if row.name in fields]
    for row in engine_rows:
        assert getattr(engine, row.name) == row.value, row.name
    # Every engine default a user or a test tunes is a row (the rest are computed or fixed).
    untabled = {"api_url", "token", "start_jitter", "max_event_bytes", "watch_bot"}
    assert fields - untabled == {row.name for row in engine_rows}


def test_alert_defaults_come_from_the_table() -> None:
    settings = AlertSettings()
    assert settings.hold_down == defaults.ALERT_HOLD_DOWN.value
    assert settings.command_timeout == defaults.ON_CHANGE_TIMEOUT.value
    assert settings.repeat == defaults.ALERT_REPEAT.value


@pytest.mark.parametrize("row", USER_ROWS, ids=lambda row: row.name)
def test_nothing_given_means_the_tables_default(row: defaults.Default[float]) -> None:
    assert getattr(_resolve(["1"]), row.name) == row.value


@pytest.mark.parametrize("row", [row for row in ROWS if row.flag], ids=lambda row: row.name)
def test_help_shows_each_flag_with_the_tables_default(row: defaults.Default[float]) -> None:
    # argparse wraps help text: compare with the whitespace folded.
    text = " ".join(build_parser().format_help().split())
    assert row.flag is not None
    assert row.flag in text
    if not (isinstance(row.value, bool) and row.flag.startswith("--no-")):
        assert f"(default: {row.shown})" in text


@pytest.mark.parametrize("row", USER_ROWS, ids=lambda row: row.name)
def test_each_flag_and_config_key_sets_its_row(
    row: defaults.Default[float], tmp_path: Path
) -> None:
    # A value other than the default, given once on the command line and once in a file.
    value: object
    if isinstance(row.value, bool):
        value = not row.value
    elif isinstance(row.value, str):
        value = next(choice for choice in row.choices if choice != row.value)
    else:
        value = row.value + 1
    if row.flag is not None:
        if isinstance(row.value, bool):
            flag = row.flag if row.flag.startswith("--no-") or value else f"--no-{row.flag[2:]}"
            argv = [flag]
        else:
            argv = [row.flag, str(value)]
        if row.name == "http2" and value:
            pytest.importorskip("h2")
        assert getattr(_resolve([*argv, "1"]), row.name) == value
    if row.config_key is not None:
        assert row.config_key in {f.name for f in dataclasses.fields(ConfigFile)}
        config = tmp_path / "config.toml"
        config.write_text(f"{row.config_key} = {json.dumps(value)}\n")
        loaded = load_config(config, explicit=True)
        assert loaded is not None
        assert getattr(loaded, row.config_key) == value


@pytest.mark.parametrize(
    "row", [row for row in USER_ROWS if row.config_key], ids=lambda row: row.name
)
def test_config_checks_follow_the_tables_type(row: defaults.Default[float], tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'{row.config_key} = "soon"\n')
    with pytest.raises(ConfigError, match=f"'{row.config_key}' must be "):
        load_config(config, explicit=True)
    if not isinstance(row.value, bool):
        config.write_text(f"{row.config_key} = -1\n")
        with pytest.raises(ConfigError, match="line 1"):
            load_config(config, explicit=True)


def test_the_screen_and_the_engine_agree_on_clock_skew() -> None:
    # The screen used to say "server clock ahead" from 60 s while the engine warned from 120 s,
    # so a heartbeat 90 s ahead was "clock skew" on screen but exit code 0 for --once.
    tolerance = defaults.CLOCK_SKEW_TOLERANCE.value
    for ahead in (tolerance / 2, tolerance * 3 / 4, tolerance + 1):
        heartbeat = NOW + timedelta(seconds=ahead)
        data = json.dumps({"healthy": True, "lastHeartbeat": heartbeat.isoformat()})
        _, warning = parse_status(data, now=NOW)
        engine_flags = warning is not None and warning.kind == "clock_skew"
        assert is_clock_skewed(heartbeat, NOW) is engine_flags, ahead
