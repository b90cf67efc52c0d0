"""``guildwatch --watch`` with alerts, as a user runs it, against the real reference server."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.alerts.support import RECORDER
from tests.cli.conftest import GUILDWATCH, clean_env
from tests.conftest import ServerFactory

FAST = ["--heartbeat-timeout", "5", "--max-retries", "1", "--alert-hold-down", "0"]


def _records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _wait_for(condition: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _start(args: list[str], env: dict[str, str], home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(GUILDWATCH), "--watch", "--json", *FAST, *args],
        env=clean_env(home, env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=home,
    )


def _stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGINT)
    try:
        return process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


def test_watch_runs_the_on_change_command_per_alert(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory(offline_after=1.0)
    guild = server.guild_ids[0]
    recorder = tmp_path / "record.py"
    recorder.write_text(f"#!{sys.executable}\n{RECORDER}")
    recorder.chmod(0o755)
    calls = tmp_path / "calls.jsonl"
    command = f"{shlex.quote(str(recorder))} --out {shlex.quote(str(calls))}"
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    env = {"GUILDWATCH_TOKEN": server.token, "GUILDWATCH_API": server.url}
    process = _start(["--on-change", command, guild], env, home)
    try:
        _wait_for(lambda: len(_records(calls)) == 1)  # never reported in: found offline
        server.heartbeat(guild, "3.1.4")
        _wait_for(lambda: len(_records(calls)) == 2)  # back online
        _wait_for(lambda: len(_records(calls)) == 3)  # no heartbeat for 1 s: offline again
    finally:
        _, stderr = _stop(process)
    payloads = [json.loads(record["stdin"]) for record in _records(calls)]
    assert [(p["from"], p["to"]) for p in payloads] == [
        (None, "offline"),
        ("offline", "online"),
        ("online", "offline"),
    ]
    assert payloads[1]["version"] == "3.1.4"
    assert {p["guild"] for p in payloads} == {guild}
    assert all(record["argv"] == ["--out", str(calls)] for record in _records(calls))
    assert all(record["env_token"] is None for record in _records(calls))
    assert "\a" not in stderr  # stderr is a pipe here: no bell into it
    assert server.token not in stderr


def test_a_failing_command_is_a_warning_line_not_an_exit(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory()
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    env = {"GUILDWATCH_TOKEN": server.token, "GUILDWATCH_API": server.url}
    log_file = tmp_path / "gw.log"
    process = _start(
        ["--on-change", "no-such-pager --now", "--log-file", str(log_file), server.guild_ids[0]],
        env,
        home,
    )
    try:
        _wait_for(lambda: log_file.exists() and "no-such-pager" in log_file.read_text())
        assert process.poll() is None  # still watching
    finally:
        _, stderr = _stop(process)
    assert (
        "guildwatch: warning: on-change command no-such-pager could not be started "
        "(No such file or directory)"
    ) in stderr
    assert process.returncode in (0, 130)


def test_watch_holds_a_silenced_guilds_alert_and_repeats_the_others(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory()
    quiet, loud = server.guild_ids[:2]  # neither has reported in: both found offline
    recorder = tmp_path / "record.py"
    recorder.write_text(f"#!{sys.executable}\n{RECORDER}")
    recorder.chmod(0o755)
    calls = tmp_path / "calls.jsonl"
    command = f"{shlex.quote(str(recorder))} --out {shlex.quote(str(calls))}"
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    env = {"GUILDWATCH_TOKEN": server.token, "GUILDWATCH_API": server.url}
    args = ["--on-change", command, "--silence", f"{quiet}=1h", "--alert-repeat", "0.5"]
    process = _start([*args, quiet, loud], env, home)
    try:
        _wait_for(lambda: len(_records(calls)) >= 2)  # the loud one's alert and a reminder
    finally:
        stdout, stderr = _stop(process)
    payloads = [json.loads(record["stdin"]) for record in _records(calls)]
    assert {p["guild"] for p in payloads} == {loud}
    assert [(p["to"], p["reminder"]) for p in payloads[:2]] == [
        ("offline", False),
        ("offline", True),
    ]
    # The silenced guild's change is still printed, with its silence.
    lines = [json.loads(line) for line in stdout.splitlines()]
    quiet_lines = [line for line in lines if line["guild"] == quiet]
    assert any(line["status"] == "offline" for line in quiet_lines)
    assert all(line["silencedUntil"] is not None for line in quiet_lines)
    assert "Traceback" not in stderr
