"""``--on-change``: the configured command, and only it, runs with the change as JSON data.

The command is a real script that records its argv, stdin and environment to a file, so the
assertions are about what the operating system actually ran.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from guildwatch.alerts import AlertService, AlertSettings, CommandRunner, command_env
from guildwatch.store import BotStatus, Problem, StatusStore
from tests.alerts.support import RECORDER, T0

HOSTILE = (
    "1.0\"; touch PWNED_QUOTE; echo '$(touch PWNED_SUBST)' `touch PWNED_TICK`\n"
    "touch PWNED_NEWLINE \x1b]0;evil title\x07\x1b[2J $HOME ${IFS} | && ;"
)


def _script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return path


def _records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


async def _until(condition: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_hostile_payload_runs_only_the_configured_command(tmp_path: Path) -> None:
    recorder = _script(tmp_path, "record.py", RECORDER)
    log = tmp_path / "calls.jsonl"
    configured = f"{shlex.quote(str(recorder))} --out {shlex.quote(str(log))} 'two words'"
    argv = tuple(shlex.split(configured))
    store = StatusStore(clock=lambda: T0)
    store.add_guild("g", name="$(touch PWNED_NAME) `id`")
    store.set_connection("g", "connected")
    store.apply_status("g", BotStatus(True, T0, HOSTILE), source="stream")
    settings = AlertSettings(bell=False, on_change=argv, hold_down=0.0)
    service = AlertService(settings, env={**os.environ, "GUILDWATCH_TOKEN": "s3cret-token"})
    reports: list[str] = []
    cwd = Path.cwd()
    os.chdir(tmp_path)  # any PWNED_* file a shell might create would land here
    task = asyncio.create_task(service.run(store, terminal=lambda _: None, report=reports.append))
    try:
        await _until(lambda: service.runner is not None)
        store.apply_status("g", BotStatus(False, T0, HOSTILE), source="stream")
        await _until(lambda: len(_records(log)) == 1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        os.chdir(cwd)
    (record,) = _records(log)
    assert record["argv"] == [*argv[1:]]  # exactly the configured arguments, nothing appended
    payload = json.loads(record["stdin"])
    assert payload == {
        "guild": "g",
        "name": "$(touch PWNED_NAME) `id`",
        "from": "online",
        "to": "offline",
        "time": "2026-11-22T14:00:00Z",
        "version": HOSTILE,
        "error": None,
        "reminder": False,
    }
    assert record["stdin"].isascii()  # control characters arrive escaped, as JSON data
    assert record["stdin"].count("\n") == 1
    assert record["env_token"] is None  # the token is not the hook's
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calls.jsonl", "record.py"]
    assert reports == []


async def test_a_command_that_runs_too_long_is_killed_with_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    slow = _script(
        tmp_path,
        "slow.py",
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
        "time.sleep(60)\n",
    )
    reports: list[str] = []
    runner = CommandRunner([str(slow)], timeout=1.0, report=reports.append)
    runner.submit({"guild": "g"})
    async with asyncio.timeout(15):
        await runner.wait_idle()
    assert len(reports) == 1
    assert reports[0] == "on-change command slow.py timed out after 1 s and was killed"
    for pid in map(int, pids.read_text().split()):
        await _until(lambda pid=pid: not _alive(pid), timeout=5)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of the killed script may linger as a zombie until init reaps it.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[-1][0] != "Z"


async def test_failures_are_reported_never_raised(tmp_path: Path) -> None:
    failing = _script(
        tmp_path,
        "failing.py",
        "import sys\nsys.stderr.write('first\\nno route to pager \\x1b[31mred\\n')\nsys.exit(3)\n",
    )
    reports: list[str] = []
    for argv in ([str(failing)], [str(tmp_path / "missing-command")]):
        runner = CommandRunner(argv, timeout=5.0, report=reports.append)
        runner.submit({"guild": "g"})
        async with asyncio.timeout(10):
            await runner.wait_idle()
    assert reports == [
        "on-change command failing.py exited with code 3: no route to pager [31mred",
        "on-change command missing-command could not be started (No such file or directory)",
    ]


async def test_a_command_that_ignores_stdin_is_fine(tmp_path: Path) -> None:
    quiet = _script(tmp_path, "quiet.py", "import sys\nsys.stdout.write('x' * 100000)\n")
    reports: list[str] = []
    runner = CommandRunner([str(quiet)], timeout=5.0, report=reports.append)
    runner.submit({"guild": "g", "version": "v" * 200_000})  # more than a pipe buffer
    async with asyncio.timeout(10):
        await runner.wait_idle()
    assert reports == []


async def test_at_most_max_running_at_once(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    worker = _script(
        tmp_path,
        "worker.py",
        "import time\n"
        f"open({str(journal)!r}, 'a').write('+')\n"
        "time.sleep(0.3)\n"
        f"open({str(journal)!r}, 'a').write('-')\n",
    )
    reports: list[str] = []
    runner = CommandRunner([str(worker)], timeout=10.0, max_running=2, report=reports.append)
    for index in range(6):
        runner.submit({"n": index})
    async with asyncio.timeout(30):
        await runner.wait_idle()
    running = peak = 0
    for mark in journal.read_text():
        running += 1 if mark == "+" else -1
        peak = max(peak, running)
    assert journal.read_text().count("+") == 6
    assert peak == 2
    assert reports == []


async def test_closing_kills_running_commands(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    sleeper = _script(
        tmp_path,
        "sleeper.py",
        f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n",
    )
    runner = CommandRunner([str(sleeper)], timeout=60.0, report=lambda _: None)
    runner.submit({})
    await _until(lambda: pid_file.exists() and pid_file.read_text() != "")
    async with asyncio.timeout(10):
        await runner.close()
    assert not _alive(int(pid_file.read_text()))
    assert runner.pending == 0


def test_the_token_stays_out_of_the_commands_environment() -> None:
    env = command_env({"PATH": "/bin", "GUILDWATCH_TOKEN": "t", "GUILDWATCH_TOKEN_FILE": "/f"})
    assert env == {"PATH": "/bin"}


def test_an_empty_command_is_a_callers_bug() -> None:
    with pytest.raises(ValueError, match="empty"):
        CommandRunner([], report=lambda _: None)


async def test_lost_change_carries_the_error(tmp_path: Path) -> None:
    recorder = _script(tmp_path, "record.py", RECORDER)
    log = tmp_path / "calls.jsonl"
    store = StatusStore(clock=lambda: T0)
    store.add_guild("g")
    store.set_connection("g", "connected")
    store.apply_status("g", BotStatus(True, T0, "1.0"), source="stream")
    argv = (str(recorder), "--out", str(log))
    service = AlertService(AlertSettings(bell=False, on_change=argv, hold_down=0.0))
    task = asyncio.create_task(service.run(store, terminal=lambda _: None, report=print))
    try:
        await _until(lambda: service.runner is not None)
        store.set_connection("g", "error", error=Problem("auth", "The token was refused (401)."))
        await _until(lambda: len(_records(log)) == 1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    payload = json.loads(_records(log)[0]["stdin"])
    assert (payload["from"], payload["to"]) == ("online", "lost")
    assert payload["error"] == {"kind": "auth", "message": "The token was refused (401)."}
