"""Command line, tokens and start-up errors: exit code 2 with a message, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from guildwatch.server._config import (
    DEFAULT_OFFLINE_AFTER,
    SIMULATE_OFFLINE_AFTER,
    ConfigError,
    config_from_args,
    default_db_path,
    parse_token_entries,
)
from guildwatch.server.main import describe_guilds

ENV = {"GUILDWATCH_SERVER_TOKENS": "tok-a, tok-b:111|222", "GUILDWATCH_SERVER_BOT_TOKENS": "bot"}


def test_tokens_from_env_with_per_token_guilds() -> None:
    config = config_from_args([], ENV)
    assert config.tokens == {"tok-a": None, "tok-b": frozenset({"111", "222"})}
    assert config.bot_tokens == frozenset({"bot"})
    assert "tok-a" not in repr(config)
    assert "bot" not in repr(config).replace("bot_tokens", "")


def test_tokens_file_and_bot_tokens_file(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("# clients\nfile-tok\n\nlimited:333\n", encoding="utf-8")
    bots = tmp_path / "bots"
    bots.write_text("bot-1\nbot-2\n", encoding="utf-8")
    argv = ["--tokens-file", str(tokens), "--bot-tokens-file", str(bots)]
    config = config_from_args(argv, {})
    assert config.tokens == {"file-tok": None, "limited": frozenset({"333"})}
    assert config.bot_tokens == frozenset({"bot-1", "bot-2"})


@pytest.mark.parametrize("entry", ["s3cr3t:", "s3cr3t:bad id", ":111", "s3 cr3t"])
def test_malformed_token_entries_name_the_entry_not_the_token(entry: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_token_entries(["fine", entry], "GUILDWATCH_SERVER_TOKENS")
    assert "entry 2" in str(caught.value)
    assert "cr3t" not in str(caught.value)


def test_offline_threshold_defaults_depend_on_simulate() -> None:
    assert config_from_args([], ENV).offline_after == DEFAULT_OFFLINE_AFTER
    assert config_from_args(["--simulate"], ENV).offline_after == SIMULATE_OFFLINE_AFTER
    assert config_from_args(["--simulate", "--offline-after", "3"], ENV).offline_after == 3


def test_shared_history_flag() -> None:
    assert config_from_args([], ENV).shared_history == 200_000
    assert config_from_args(["--shared-history", "5"], ENV).shared_history == 5
    with pytest.raises(SystemExit):
        config_from_args(["--shared-history", "0"], ENV)


def test_default_db_follows_xdg_data_home(tmp_path: Path) -> None:
    expected = tmp_path / "guildwatch" / "server.sqlite3"
    assert default_db_path({"XDG_DATA_HOME": str(tmp_path)}) == expected
    assert config_from_args([], {**ENV, "XDG_DATA_HOME": str(tmp_path)}).db == str(expected)


def test_guild_flags() -> None:
    config = config_from_args(["--guild", "111=Alpha", "--guild", "222"], ENV)
    assert config.guilds == (("111", "Alpha"), ("222", None))


def test_no_tokens_exits_2() -> None:
    code = _run_cli([], env={})
    assert code.returncode == 2
    assert "no client tokens" in code.stderr
    assert "Traceback" not in code.stderr


def _run_cli(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "guildwatch.server.main", *argv],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["--port", "notaport"],
        ["--heartbeat-interval", "0"],
        ["--offline-after", "-1"],
        ["--guilds", "zero"],
        ["--guild", "bad id"],
        ["--retry-ms", "-5"],
        ["--tokens-file", "/nonexistent/tokens"],
    ],
)
def test_bad_flags_exit_2_without_traceback(argv: list[str]) -> None:
    result = _run_cli(["--db", ":memory:", "--port", "0", *argv], {"GUILDWATCH_SERVER_TOKENS": "t"})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip()


def test_unusable_database_exits_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"this is not a database" * 100)
    result = _run_cli(
        ["--db", str(broken), "--port", "0"], {"GUILDWATCH_SERVER_TOKENS": "secret-t"}
    )
    assert result.returncode == 2
    assert "--db" in result.stderr
    assert "Traceback" not in result.stderr
    assert "secret-t" not in result.stderr + result.stdout


def test_port_in_use_exits_2() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run_cli(
            ["--db", ":memory:", "--port", str(port)], {"GUILDWATCH_SERVER_TOKENS": "t"}
        )
    assert result.returncode == 2
    assert f"127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_describe_guilds_truncates_after_twenty() -> None:
    ids = [str(n) for n in range(25)]
    text = describe_guilds(ids, ["Name"] + [None] * 19)
    assert text.startswith("serving 25 guilds: 0 (Name), 1, 2")
    assert text.endswith("19, … and 5 more")
    assert "20" not in text.split("…")[0].split(", ")
    assert "no guilds" in describe_guilds([], [])


def test_simulated_vitals_flags() -> None:
    default = config_from_args(["--simulate"], ENV)
    assert (default.sim_shards, default.sim_maintenance_every) == (3, 60.0)
    assert default.sim_maintenance_for == 10.0
    argv = ["--simulate", "--sim-shards", "8", "--sim-maintenance-every", "30"]
    config = config_from_args([*argv, "--sim-maintenance-for", "4"], ENV)
    assert (config.sim_shards, config.sim_maintenance_every, config.sim_maintenance_for) == (
        8,
        30.0,
        4.0,
    )


def test_redis_url_from_the_flag_or_the_environment_and_never_in_repr() -> None:
    assert config_from_args([], ENV).redis is None
    flagged = config_from_args(["--redis", "redis://:secret@10.0.0.5:6379/2"], ENV)
    assert flagged.redis == "redis://:secret@10.0.0.5:6379/2"
    assert "secret" not in repr(flagged)
    from_env = config_from_args(
        ["--redis-prefix", "gw1:"], {**ENV, "GUILDWATCH_SERVER_REDIS": "redis://r:6379/0"}
    )
    assert (from_env.redis, from_env.redis_prefix) == ("redis://r:6379/0", "gw1:")
    assert config_from_args(["--replica-ttl", "3"], ENV).replica_ttl == 3.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--redis", "http://127.0.0.1:6379"], "redis://"),
        (["--redis", "redis://127.0.0.1:6379/0", "--simulate"], "--simulate"),
    ],
)
def test_bad_redis_settings_are_config_errors(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_args(argv, ENV)
