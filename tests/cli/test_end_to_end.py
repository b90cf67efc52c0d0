"""The installed ``guildwatch`` against the real reference server, as a user runs it.

Each test starts the server in-process on 127.0.0.1 (``real_server``: 0.2 s heartbeat comments,
three guilds, none of which has reported in yet, so they start offline) and runs guildwatch as
a subprocess. Timings are shortened through flags, and every wait is bounded.
"""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import GUILDWATCH, Run, clean_env
from tests.harness import RunningServer

FAST = ["--heartbeat-timeout", "5", "--max-retries", "1"]
"""Watchdog at 5 s (the test server sends comments every 0.2 s); give up after one retry."""


def _env(server: RunningServer, **extra: str) -> dict[str, str]:
    return {"GUILDWATCH_TOKEN": server.token, "GUILDWATCH_API": server.url, **extra}


def _records(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- --once ------------------------------------------------------------------------------


def test_once_online_exits_0(run: Run, real_server: RunningServer) -> None:
    guild = real_server.guild_ids[0]
    real_server.heartbeat(guild, "2.5.0")
    result = run("--once", *FAST, guild, env=_env(real_server))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    (line,) = result.stdout.splitlines()
    assert line.endswith(f"Z  {guild}  Online  Last seen less than a minute ago · v2.5.0")


def test_once_offline_exits_2(run: Run, real_server: RunningServer) -> None:
    guild = real_server.guild_ids[1]  # never reported in: offline
    result = run("--once", "--json", *FAST, guild, env=_env(real_server))
    assert result.returncode == 2, result.stderr
    (record,) = _records(result.stdout)
    assert (record["status"], record["healthy"], record["connection"]) == (
        "offline",
        False,
        "connected",
    )


def test_once_worst_guild_wins(run: Run, real_server: RunningServer) -> None:
    online, offline = real_server.guild_ids[:2]
    real_server.heartbeat(online)
    result = run("--once", "--json", *FAST, online, offline, env=_env(real_server))
    assert result.returncode == 2
    assert [r["status"] for r in _records(result.stdout)] == ["online", "offline"]


def test_once_bad_token_is_unknown_3(run: Run, real_server: RunningServer) -> None:
    env = _env(real_server, GUILDWATCH_TOKEN="not-the-token-Qx81")
    result = run("--once", "--json", *FAST, real_server.guild_ids[0], env=env)
    assert result.returncode == 3
    (record,) = _records(result.stdout)
    assert record["status"] == "unknown"
    assert record["connection"] == "error"
    assert record["error"]["kind"] == "auth"
    assert "not-the-token-Qx81" not in result.stdout + result.stderr


def test_once_unknown_guild_is_3(run: Run, real_server: RunningServer) -> None:
    result = run("--once", "--json", *FAST, "no-such-guild", env=_env(real_server))
    assert result.returncode == 3
    assert _records(result.stdout)[0]["error"]["kind"] == "not_found"


def test_once_unreachable_is_3_within_the_timeout(run: Run, real_server: RunningServer) -> None:
    env = _env(real_server, GUILDWATCH_API=f"http://127.0.0.1:{_closed_port()}")
    started = time.monotonic()
    result = run("--once", "--timeout", "3", "--max-retries", "5", "1234", env=env)
    elapsed = time.monotonic() - started
    assert result.returncode == 3
    assert "  Reconnecting" in result.stdout or "Connection lost" in result.stdout
    assert "error: " in result.stdout
    assert elapsed < 15  # 3 s of waiting plus interpreter start-up on a busy machine


def test_no_stream_polls_and_warns_1(run: Run, real_server: RunningServer) -> None:
    guild = real_server.guild_ids[0]
    real_server.heartbeat(guild)
    result = run("--once", "--json", *FAST, "--no-stream", guild, env=_env(real_server))
    assert result.returncode == 1, result.stdout
    (record,) = _records(result.stdout)
    assert (record["status"], record["source"]) == ("online", "poll")


def test_stream_switch_from_environment(run: Run, real_server: RunningServer) -> None:
    guild = real_server.guild_ids[0]
    real_server.heartbeat(guild)
    env = _env(real_server, GUILDWATCH_STREAM="0")
    result = run("--once", "--json", *FAST, guild, env=env)
    assert _records(result.stdout)[0]["source"] == "poll"


def test_flags_beat_environment_for_the_api(run: Run, real_server: RunningServer) -> None:
    guild = real_server.guild_ids[0]
    real_server.heartbeat(guild)
    env = _env(real_server, GUILDWATCH_API=f"http://127.0.0.1:{_closed_port()}")
    result = run("--once", *FAST, "--api", real_server.url, guild, env=env)
    assert result.returncode == 0, result.stdout


def test_token_from_stdin_reaches_the_server(run: Run, real_server: RunningServer) -> None:
    guild = real_server.guild_ids[0]
    real_server.heartbeat(guild)
    result = run(
        "--once",
        *FAST,
        "--api",
        real_server.url,
        "--token-file",
        "-",
        guild,
        input=real_server.token + "\n",
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- --watch -----------------------------------------------------------------------------


class Watcher:
    """A running ``guildwatch --watch`` whose stdout lines arrive in a queue."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [str(GUILDWATCH), *args],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 10) -> str:
        """The first new line matching ``predicate``; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching line in {timeout} s; saw {self.seen}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(line)
            if predicate(line):
                return line

    def interrupt(self) -> tuple[int, str]:
        """Ctrl+C; returns the exit code and stderr."""
        self.process.send_signal(signal.SIGINT)
        _, stderr = self.process.communicate(timeout=15)
        self._reader.join(5)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return self.process.returncode, stderr

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=15)


@pytest.fixture
def watcher(home: Path) -> Iterator[Callable[..., Watcher]]:
    started: list[Watcher] = []

    def start(*args: str, env: dict[str, str]) -> Watcher:
        process = Watcher(list(args), clean_env(home, env), home)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


def _json_where(**expected: Any) -> Callable[[str], bool]:
    def matches(line: str) -> bool:
        record = json.loads(line)
        return all(record.get(key) == value for key, value in expected.items())

    return matches


def test_watch_json_lines_follow_changes_and_ctrl_c_exits_130(
    watcher: Callable[..., Watcher], real_server: RunningServer, tmp_path: Path
) -> None:
    guild = real_server.guild_ids[0]
    log_file = tmp_path / "gw.log"
    process = watcher(
        "--watch", "--json", *FAST, "--log-file", str(log_file), guild, env=_env(real_server)
    )
    first = json.loads(process.wait_for(_json_where(connection="connecting")))
    assert set(first) >= {
        "time", "guild", "connection", "status", "healthy", "version", "lastHeartbeat",
        "lastSeen", "source", "error", "warning",
    }  # fmt: skip
    assert (first["guild"], first["name"]) == (guild, None)
    process.wait_for(_json_where(status="offline", connection="connected"))
    real_server.heartbeat(guild, "3.1.4")
    online = json.loads(process.wait_for(_json_where(status="online")))
    assert online["version"] == "3.1.4"
    assert online["source"] == "stream"
    assert online["lastSeen"] == "Last seen less than a minute ago · v3.1.4"
    assert online["time"].endswith("Z")
    code, stderr = process.interrupt()
    assert code == 130
    assert stderr == ""
    log = log_file.read_text()
    assert "connecting (attempt 1)" in log
    assert "Traceback" not in log


def test_watch_human_lines_show_a_dropped_stream(
    watcher: Callable[..., Watcher], real_server: RunningServer
) -> None:
    guild = real_server.guild_ids[0]
    real_server.heartbeat(guild)
    process = watcher("--watch", *FAST, guild, env=_env(real_server))
    process.wait_for(lambda line: "  Online  " in line)
    real_server.set_fault(guild, drop_after=0, status=503, retry_after=1)
    line = process.wait_for(lambda line: "Reconnecting" in line or "Connection lost" in line)
    assert "error: " in line
    real_server.heal(guild)
    process.wait_for(lambda line: "  Online  " in line, timeout=20)
    assert process.interrupt()[0] == 130


def test_the_token_appears_in_no_output_channel(
    run: Run, real_server: RunningServer, tmp_path: Path
) -> None:
    """stdout, stderr, the log file and JSON, through success, failure and debug paths."""
    guild = real_server.guild_ids[0]
    real_server.heartbeat(guild)
    wrong = "wrong-token-for-grep-P3x9"
    log_file = tmp_path / "gw.log"
    token_file = tmp_path / "token"
    token_file.write_text(real_server.token)
    token_file.chmod(0o644)  # also exercise the warning path
    runs = [
        run("--once", "--json", "--debug", *FAST, "--log-file", str(log_file), guild,
            env=_env(real_server)),
        run("--once", "--debug", *FAST, "--log-file", str(log_file), guild, "no-such-guild",
            env=_env(real_server, GUILDWATCH_TOKEN=wrong)),
        run("--once", *FAST, "--no-stream", "--log-file", str(log_file), guild,
            env={"GUILDWATCH_API": real_server.url, "GUILDWATCH_TOKEN_FILE": str(token_file)}),
        run("--once", "--debug", *FAST, guild, env=_env(real_server, GUILDWATCH_TOKEN=wrong)),
    ]  # fmt: skip
    assert [result.returncode for result in runs] == [0, 3, 1, 3]
    log = log_file.read_text()
    assert "HTTP Request: GET" in log  # httpx's request lines, next to the engine's
    assert "guildwatch.engine" in runs[-1].stderr  # --debug without a log file: stderr
    channels = [result.stdout + result.stderr for result in runs] + [log]
    for text in channels:
        assert real_server.token not in text
        assert wrong not in text


# -- --demo ------------------------------------------------------------------------------


def test_demo_headless_smoke(run: Run) -> None:
    result = run("--demo", "--once", "--json", "--timeout", "20", timeout=60)
    assert result.returncode in (0, 2), result.stdout + result.stderr
    records = _records(result.stdout)
    assert len(records) >= 1
    assert all(record["status"] in ("online", "offline") for record in records)
    assert all(record["name"] for record in records)
    assert "Traceback" not in result.stderr


def test_demo_shows_a_bot_going_offline_within_a_minute_and_leaves_no_file(
    watcher: Callable[..., Watcher], home: Path
) -> None:
    # The demo must show every state within a minute on its own (it once ran the server with
    # the 90 s production threshold, so no simulated guild ever went offline), and a demo
    # must not leave a database in the user's data directory.
    process = watcher("--demo", "--watch", "--json", env={})
    process.wait_for(_json_where(status="online"), timeout=30)
    offline = json.loads(process.wait_for(_json_where(status="offline"), timeout=75))
    assert offline["connection"] == "connected"
    code, stderr = process.interrupt()
    assert code == 130
    assert "Traceback" not in stderr
    assert not list(home.rglob("*.sqlite3"))
