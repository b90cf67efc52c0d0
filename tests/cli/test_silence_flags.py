"""``--silence GUILD=DURATION`` and ``--alert-repeat``: checked before anything connects, kept
in the state file, and shown as ``silencedUntil`` in the JSON lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from guildwatch.alerts import Silences
from guildwatch.cli import _headless
from guildwatch.store import BotStatus, StatusStore
from tests.cli.conftest import Run, assert_one_line_error
from tests.harness import RunningServer

NOW = datetime(2026, 11, 22, 14, 8, 0, tzinfo=UTC)
FAST = ["--heartbeat-timeout", "5", "--max-retries", "1"]


def _env(server: RunningServer) -> dict[str, str]:
    return {"GUILDWATCH_TOKEN": server.token, "GUILDWATCH_API": server.url}


def test_silenced_until_in_json_and_human_lines() -> None:
    store = StatusStore(clock=lambda: NOW)
    for guild in ("a", "b", "c"):
        store.add_guild(guild)
        store.set_connection(guild, "connected")
        store.apply_status(guild, BotStatus(False, NOW, "1.0"), source="stream")
    silences = Silences(clock=lambda: NOW)
    silences.silence(["a"], timedelta(hours=1))
    silences.silence(["b"], None)
    records = [_headless.json_record(store.get(g), NOW, silences) for g in ("a", "b", "c")]
    assert [r["silencedUntil"] for r in records] == ["2026-11-22T15:08:00Z", "until-back", None]
    assert _headless.human_line(store.get("a"), NOW, silences).endswith(
        "  silenced until 2026-11-22T15:08:00Z"
    )
    assert _headless.human_line(store.get("b"), NOW, silences).endswith("  silenced until back")
    assert "silenced" not in _headless.human_line(store.get("c"), NOW, silences)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--silence", "1234"], "not GUILD=DURATION"),
        (["--silence", "1234=soon"], "not a duration"),
        (["--silence", "1234=0m"], "more than 0"),
        (["--silence", "5678=1h"], "not watched"),
        (["--silence", "bad id=1h"], "invalid guild id"),
        (["--alert-repeat", "often"], "not a duration"),
    ],
)
def test_bad_silence_and_repeat_values_are_one_line_exit_2(
    run: Run, argv: list[str], fragment: str
) -> None:
    env = {"GUILDWATCH_TOKEN": "t", "GUILDWATCH_API": "http://127.0.0.1:9"}
    result = run("--once", *argv, "1234", env=env)
    assert_one_line_error(result, fragment)


def test_alert_repeat_in_the_config_file_takes_a_duration(run: Run, home: Path) -> None:
    from guildwatch.cli._config import load_config

    config = home / ".config" / "guildwatch" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('alert_repeat = "30m"\n')
    loaded = load_config(config, explicit=True)
    assert loaded is not None
    assert loaded.alert_repeat == 1800.0


def test_a_silence_from_the_command_line_is_kept_for_the_next_run(
    run: Run, real_server: RunningServer, home: Path
) -> None:
    guild, other = real_server.guild_ids[:2]
    first = run(
        "--once", "--json", *FAST, "--silence", f"{guild}=1h", guild, other, env=_env(real_server)
    )
    assert first.returncode == 2, first.stderr  # both offline: silencing does not hide that
    records = {r["guild"]: r for r in map(json.loads, first.stdout.splitlines())}
    until = datetime.fromisoformat(records[guild]["silencedUntil"].replace("Z", "+00:00"))
    assert timedelta(minutes=59) < until - datetime.now(UTC) <= timedelta(hours=1)
    assert records[other]["silencedUntil"] is None
    state = home / ".local" / "state" / "guildwatch" / "silences.json"
    assert (state.stat().st_mode & 0o777) == 0o600
    # A new run without the flag still knows.
    second = run("--once", "--json", *FAST, guild, env=_env(real_server))
    (record,) = map(json.loads, second.stdout.splitlines())
    assert record["silencedUntil"] == records[guild]["silencedUntil"]
    assert second.stderr == ""


def test_a_corrupt_state_file_is_one_warning_and_not_fatal(
    run: Run, real_server: RunningServer, home: Path
) -> None:
    state = home / ".local" / "state" / "guildwatch" / "silences.json"
    state.parent.mkdir(parents=True)
    state.write_text("{half a file")
    guild = real_server.guild_ids[0]
    real_server.heartbeat(guild)
    result = run("--once", "--json", *FAST, guild, env=_env(real_server))
    assert result.returncode == 0, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("guildwatch: warning: silences file ")
    assert "corrupt" in line
    (record,) = map(json.loads, result.stdout.splitlines())
    assert record["silencedUntil"] is None
