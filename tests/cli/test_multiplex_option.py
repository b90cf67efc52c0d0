"""``--multiplex`` and the config key ``multiplex``: from flag or file to the engine's
settings, and a bad word as one clear message, never a traceback."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from guildwatch.cli._args import parse_args
from guildwatch.cli._config import load_config
from guildwatch.cli._options import resolve
from guildwatch.errors import ConfigError

ENV = {"GUILDWATCH_TOKEN": "t", "GUILDWATCH_API": "http://h"}


def _multiplex(argv: list[str], env: dict[str, str] = ENV) -> str:
    options = resolve(parse_args(argv), env, stdin=io.BytesIO(), stdout_isatty=True)
    return options.engine_settings().multiplex


def test_default_is_auto_and_the_flag_reaches_the_engine() -> None:
    assert _multiplex(["1", "2"]) == "auto"
    assert _multiplex(["--multiplex", "off", "1"]) == "off"
    assert _multiplex(["--multiplex", "on", "1"]) == "on"


def test_the_flag_beats_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('multiplex = "off"\n')
    env = {**ENV, "GUILDWATCH_CONFIG": str(config)}
    assert _multiplex(["1"], env) == "off"
    assert _multiplex(["--multiplex", "on", "1"], env) == "on"


def test_a_bad_flag_is_one_clear_message() -> None:
    with pytest.raises(ConfigError, match=r"--multiplex.*invalid choice: 'sometimes'"):
        parse_args(["--multiplex", "sometimes", "1"])


@pytest.mark.parametrize("value", ['"sometimes"', "true", "1", '"ON"'])
def test_a_bad_config_value_is_one_clear_message(value: str, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"# comment\nmultiplex = {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(config, explicit=True)
    assert str(caught.value) == (
        f'config file {config}, line 2: \'multiplex\' must be "auto", "on" or "off", not '
        + {'"sometimes"': "a string", "true": "a boolean", "1": "a number", '"ON"': "a string"}[
            value
        ]
    )
