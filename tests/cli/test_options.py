"""Merging flags, environment, config file and defaults (in-process, real files, no mocks)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from guildwatch.cli._args import parse_args
from guildwatch.cli._config import GuildSpec
from guildwatch.cli._options import Options, resolve, validate_api_url, validate_guild_id
from guildwatch.engine import EngineSettings
from guildwatch.errors import ConfigError

TOKEN = "gw-secret-Zq8xTq41"


def _resolve(
    argv: list[str],
    env: dict[str, str] | None = None,
    *,
    stdin: bytes = b"",
    tty: bool = True,
) -> Options:
    return resolve(parse_args(argv), env or {}, stdin=io.BytesIO(stdin), stdout_isatty=tty)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        """
api = "http://config.example:1/"
token = "from-config"
heartbeat_timeout = 5
poll_interval = 7.5
max_retries = 9
timeout = 4
stream = false
animation = false
inline = true
bell = true
log_file = "logs/gw.log"

[[guilds]]
id = "111"
name = "First"

[[guilds]]
id = "222"
"""
    )
    path.chmod(0o600)
    return path


def test_defaults(tmp_path: Path) -> None:
    options = _resolve(["1"], {"GUILDWATCH_TOKEN": TOKEN, "GUILDWATCH_API": "http://h"})
    assert options.mode == "tui"
    engine_default = EngineSettings(api_url="http://h", token=TOKEN).heartbeat_timeout
    assert options.heartbeat_timeout == engine_default == 75.0
    assert options.engine_settings() == EngineSettings(api_url="http://h", token=TOKEN)
    assert (options.poll_interval, options.max_retries, options.once_timeout) == (60.0, 3, 10.0)
    assert (options.stream, options.animation, options.inline, options.bell) == (
        True,
        True,
        False,
        False,  # the bell is opt-in
    )
    assert options.log_file is None
    assert options.guilds == (GuildSpec("1"),)


def test_config_values_are_used_and_paths_are_relative_to_the_file(config: Path) -> None:
    options = _resolve(["--config", str(config)])
    assert options.api_url == "http://config.example:1"
    assert options.token == "from-config"
    assert options.guilds == (GuildSpec("111", "First"), GuildSpec("222"))
    assert (options.heartbeat_timeout, options.poll_interval, options.max_retries) == (5, 7.5, 9)
    assert options.once_timeout == 4
    assert (options.stream, options.animation, options.inline, options.bell) == (
        False,
        False,
        True,
        True,
    )
    assert options.log_file == config.parent / "logs" / "gw.log"
    assert options.config_path == config
    assert options.warnings == ()


def test_environment_beats_config(config: Path, tmp_path: Path) -> None:
    env = {
        "GUILDWATCH_API": "https://env.example",
        "GUILDWATCH_TOKEN": "from-env",
        "GUILDWATCH_STREAM": "1",
    }
    options = _resolve(["--config", str(config)], env)
    assert (options.api_url, options.token, options.stream) == (
        "https://env.example",
        "from-env",
        True,
    )


def test_flags_beat_environment_and_config(config: Path, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-flag-file\n")
    token_file.chmod(0o600)
    env = {"GUILDWATCH_API": "https://env.example", "GUILDWATCH_TOKEN": "from-env"}
    argv = ["--config", str(config), "--api", "http://flag.example", "--token-file"]
    argv += [str(token_file), "--heartbeat-timeout", "0.5", "--poll-interval", "0.25"]
    argv += ["--max-retries", "0", "--timeout", "2", "--no-stream", "--log-file", "x.log", "222"]
    options = _resolve(argv, env | {"GUILDWATCH_STREAM": "1"})
    assert options.api_url == "http://flag.example"
    assert options.token == "from-flag-file"
    assert (options.heartbeat_timeout, options.poll_interval, options.max_retries) == (
        0.5,
        0.25,
        0,
    )
    assert options.once_timeout == 2
    assert options.stream is False
    assert options.log_file == Path("x.log")
    # Guild ids from the command line replace the config's list but keep its names.
    assert options.guilds == (GuildSpec("222"),)
    assert _resolve(["--config", str(config), "111"]).guilds == (GuildSpec("111", "First"),)


def test_token_sources_in_order(config: Path, tmp_path: Path) -> None:
    env_file = tmp_path / "env-token"
    env_file.write_text("from-env-file")
    env_file.chmod(0o600)
    config_file = tmp_path / "config-token"
    config_file.write_text("from-config-file")
    config_file.chmod(0o600)
    config.write_text(
        config.read_text().replace('token = "from-config"', f'token_file = "{config_file}"')
    )
    argv = ["--config", str(config)]
    both = {"GUILDWATCH_TOKEN": "from-env", "GUILDWATCH_TOKEN_FILE": str(env_file)}
    assert _resolve([*argv, "--token-file", "-"], both, stdin=b"from-stdin\n").token == (
        "from-stdin"
    )
    assert _resolve(argv, both).token == "from-env"
    assert _resolve(argv, {"GUILDWATCH_TOKEN_FILE": str(env_file)}).token == "from-env-file"
    assert _resolve(argv).token == "from-config-file"


def test_stream_switch_from_environment_words() -> None:
    base = {"GUILDWATCH_TOKEN": TOKEN, "GUILDWATCH_API": "http://h"}
    for word, expected in [("0", False), ("false", False), ("OFF", False), ("yes", True)]:
        options = _resolve(["1"], base | {"GUILDWATCH_STREAM": word})
        assert options.stream is expected
        assert options.engine_settings().stream is expected


def test_mode_follows_flags_and_the_terminal() -> None:
    env = {"GUILDWATCH_TOKEN": TOKEN, "GUILDWATCH_API": "http://h"}
    assert _resolve(["1"], env, tty=True).mode == "tui"
    assert _resolve(["1"], env, tty=False).mode == "watch"
    assert _resolve(["--json", "1"], env).mode == "watch"
    assert _resolve(["--once", "--json", "1"], env).mode == "once"


def test_duplicate_guild_ids_are_watched_once() -> None:
    env = {"GUILDWATCH_TOKEN": TOKEN, "GUILDWATCH_API": "http://h"}
    assert [spec.guild_id for spec in _resolve(["1", "2", "1"], env).guilds] == ["1", "2"]


def test_demo_needs_no_api_and_never_reads_the_users_token() -> None:
    options = _resolve(["--demo"], {"GUILDWATCH_TOKEN": TOKEN})
    assert (options.api_url, options.token, options.guilds) == (None, None, ())
    with pytest.raises(RuntimeError):
        options.engine_settings()


def test_engine_settings_carry_every_timing_and_hide_the_token() -> None:
    env = {"GUILDWATCH_TOKEN": TOKEN, "GUILDWATCH_API": "http://h:1/"}
    argv = ["--heartbeat-timeout", "1.5", "--poll-interval", "2", "--max-retries", "4", "1"]
    settings = _resolve(argv, env).engine_settings()
    assert (settings.api_url, settings.token) == ("http://h:1", TOKEN)
    assert (settings.heartbeat_timeout, settings.poll_interval, settings.max_retries) == (
        1.5,
        2,
        4,
    )
    assert TOKEN not in repr(settings)
    assert TOKEN not in repr(_resolve(argv, env))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("HTTPS://Example.com/", "HTTPS://Example.com"),
        ("https://example.com/bot/api/", "https://example.com/bot/api"),
        ("http://[::1]:8765", "http://[::1]:8765"),
    ],
)
def test_good_urls(url: str, expected: str) -> None:
    assert validate_api_url(url, "--api") == expected


@pytest.mark.parametrize("guild_id", ["123456789012345678", "a.b_c-D", "x" * 100, "..a"])
def test_good_guild_ids(guild_id: str) -> None:
    assert validate_guild_id(guild_id) == guild_id


@pytest.mark.parametrize("guild_id", ["", ".", "..", "...", "a/b", "x" * 101, "1 2", "١٢"])
def test_bad_guild_ids(guild_id: str) -> None:
    with pytest.raises(ConfigError, match="invalid guild id"):
        validate_guild_id(guild_id)


@pytest.mark.parametrize(
    ("flags", "watch_bot"),
    [([], False), (["--watch", "--json"], True), (["--watch"], False), (["--once"], False)],
)
def test_the_bot_is_watched_from_the_start_only_for_json_lines(
    flags: list[str], watch_bot: bool
) -> None:
    env = {"GUILDWATCH_TOKEN": TOKEN, "GUILDWATCH_API": "http://h"}
    assert _resolve([*flags, "1"], env).engine_settings().watch_bot is watch_bot


def test_latency_warn_from_flag_config_and_default(tmp_path: Path) -> None:
    env = {"GUILDWATCH_TOKEN": TOKEN, "GUILDWATCH_API": "http://h"}
    assert _resolve(["1"], env).latency_warn == 500.0
    assert _resolve(["--latency-warn", "250", "1"], env).latency_warn == 250.0
    config = tmp_path / "config.toml"
    config.write_text("latency_warn = 800\n", encoding="utf-8")
    assert _resolve(["--config", str(config), "1"], env).latency_warn == 800.0
    with pytest.raises(ConfigError, match="milliseconds"):
        _resolve(["--latency-warn", "-5", "1"], env)
