"""The installed command never goes silent, names fatal answers, and paces its polls.

``guildwatch --watch``/``--once`` run as child processes against the real reference server (with
its fault injection) or a dead port on 127.0.0.1. Time is shortened through flags
(``--slow-retry``, ``--max-retries``, ``--poll-interval``); every wait is bounded.
"""

from __future__ import annotations

import io
import itertools
import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from guildwatch.cli._args import parse_args
from guildwatch.cli._options import resolve
from tests.cli.conftest import GUILDWATCH, Run, clean_env
from tests.cli.test_end_to_end import _closed_port
from tests.harness import RunningServer

pytestmark = pytest.mark.timeout(60)

Line = dict[str, Any]


class Watching:
    """A running ``guildwatch --watch``; stdout lines collected as they arrive."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def records(self) -> list[Line]:
        return [json.loads(line) for line in list(self.lines)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout} s; got {self.lines[-6:]}")
            time.sleep(0.02)


@contextmanager
def watching(home: Path, env: dict[str, str], *args: str) -> Iterator[Watching]:
    process = subprocess.Popen(
        [str(GUILDWATCH), "--watch", *args],
        env=clean_env(home, env),
        cwd=home,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield Watching(process)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            raise


def _env(server: RunningServer, **extra: str) -> dict[str, str]:
    return {"GUILDWATCH_TOKEN": server.token, "GUILDWATCH_API": server.url, **extra}


def test_a_dead_api_keeps_being_retried_and_says_what_failed(home: Path) -> None:
    env = {"GUILDWATCH_TOKEN": "tok-x", "GUILDWATCH_API": f"http://127.0.0.1:{_closed_port()}"}
    args = ("--json", "--max-retries", "0", "--slow-retry", "0.3", "1234")
    with watching(home, env, *args) as watched:

        def errors() -> list[str]:
            return [r["error"]["message"] for r in watched.records() if r["connection"] == "error"]

        watched.wait_for(lambda: len(errors()) >= 3, 20, "three slow retries")
    first, *later = errors()
    assert "gave up after 1 attempt;" in first  # singular
    assert any("gave up after 3 attempts;" in message for message in later)
    assert all("Connection lost" not in message for message in errors())  # names the cause
    assert all("refused" in message.lower() for message in errors()), errors()


def test_the_watcher_recovers_on_its_own_after_giving_up(
    home: Path, real_server: RunningServer
) -> None:
    guild = real_server.guild_ids[0]
    real_server.heartbeat(guild, "1.0")
    real_server.set_fault(guild, status=500)
    args = ("--json", "--max-retries", "0", "--slow-retry", "0.5", guild)
    with watching(home, _env(real_server), *args) as watched:
        watched.wait_for(
            lambda: any(r["connection"] == "error" for r in watched.records()), 20, "giving up"
        )
        real_server.heal(guild)
        watched.wait_for(
            lambda: (
                watched.records()[-1]["connection"] == "connected"
                and watched.records()[-1]["status"] == "online"
            ),
            20,
            "recovery",
        )


def test_a_wrong_token_is_named_and_retried(home: Path, real_server: RunningServer) -> None:
    guild = real_server.guild_ids[0]
    log = home / "gw.log"
    env = _env(real_server, GUILDWATCH_TOKEN="not-the-token-Qx81")
    with watching(home, env, "--slow-retry", "0.3", "--log-file", str(log), guild) as watched:
        watched.wait_for(
            lambda: log.exists() and log.read_text().count(": connecting") >= 3, 20, "retries"
        )
    assert "Unauthorized: check the token" in watched.lines[-1]
    assert "Connection lost" not in watched.lines[-1]


def test_once_names_a_wrong_token_and_an_unknown_guild(
    run: Run, real_server: RunningServer
) -> None:
    env = _env(real_server, GUILDWATCH_TOKEN="not-the-token-Qx81")
    result = run("--once", real_server.guild_ids[0], env=env)
    assert result.returncode == 3
    assert "Unauthorized: check the token" in result.stdout
    result = run("--once", "no-such-guild", env=_env(real_server))
    assert result.returncode == 3
    assert "Unknown guild" in result.stdout


def test_polls_that_answer_win_over_a_dead_stream(home: Path, real_server: RunningServer) -> None:
    guild = real_server.guild_ids[0]
    real_server.heartbeat(guild, "1.0")
    real_server.set_fault(guild, content_type="text/html")  # streams fail, polls answer
    with watching(home, _env(real_server), guild) as watched:
        watched.wait_for(
            lambda: any("polled" in line for line in watched.lines), 20, "a polled line"
        )
    polled = next(line for line in watched.lines if "polled" in line)
    assert "  Online  " in polled
    assert "Connection lost" not in polled
    assert "error: " in polled  # the stream being down is the detail


def _log_times(log: Path, marker: str) -> list[float]:
    times = []
    for line in log.read_text().splitlines():
        if marker in line:
            stamp = line.split(" ", 1)[0].rstrip("Z")
            times.append(datetime.fromisoformat(stamp).timestamp())
    return times


def test_a_flapping_stream_polls_once_per_interval(home: Path, real_server: RunningServer) -> None:
    guild = real_server.guild_ids[0]
    real_server.heartbeat(guild, "1.0")
    real_server.set_fault(guild, drop_after=0)  # every stream ends right after its headers
    log = home / "gw.log"
    args = ("--json", "--poll-interval", "3", "--max-retries", "50", "--log-file", str(log))
    with watching(home, _env(real_server), *args, guild) as watched:
        watched.wait_for(
            lambda: log.exists() and len(_log_times(log, ": connecting")) >= 4, 30, "flapping"
        )
    polls = _log_times(log, "poll http")
    assert polls, "no poll at all"
    gaps = [later - earlier for earlier, later in itertools.pairwise(polls)]
    assert all(gap >= 2.9 for gap in gaps), gaps


def test_slow_retry_from_flag_config_and_default(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('api = "http://127.0.0.1:1"\ntoken = "t"\nslow_retry = 42\n')
    config.chmod(0o600)

    def settings(*argv: str) -> float:
        options = resolve(parse_args([*argv, "1"]), {}, stdin=io.BytesIO(b""), stdout_isatty=True)
        return options.engine_settings().slow_retry

    assert settings("--config", str(config)) == 42
    assert settings("--config", str(config), "--slow-retry", "7.5") == 7.5
    plain = tmp_path / "plain.toml"
    plain.write_text('api = "http://127.0.0.1:1"\ntoken = "t"\n')
    plain.chmod(0o600)
    assert settings("--config", str(plain)) == 300
