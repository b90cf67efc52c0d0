"""The main faults again, seen through what ``guildwatch --watch --json`` prints.

The real installed command runs as a child process against the real server (directly, or
through the fault proxy); each JSON line is timed as it arrives. Assertions are on what a script
or a monitoring system reading that output would see: the ``connection``, ``status`` and
``error.kind`` of each line during and after the fault, and that no line claims
``"status": "online"`` while the stream is down.

The laptop-sleep case is real here: the guildwatch process itself is stopped (SIGSTOP) for
10 x the heartbeat while the bot goes offline, then continued (SIGCONT).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerFactory
from tests.faultproxy import FaultProxy
from tests.harness import RunningServer, tmp_db
from tests.reliability.support import RECOVER_BOUND, SERVER_HEARTBEAT, WATCHDOG, report

pytestmark = pytest.mark.timeout(60)

GUILDWATCH = Path(sys.executable).parent / "guildwatch"

Line = dict[str, Any]


@dataclass
class Headless:
    """A running ``guildwatch --watch --json``; every stdout line parsed and timed."""

    process: asyncio.subprocess.Process
    token: str
    lines: list[tuple[float, Line]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)

    async def pump(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            text = raw.decode()
            self.raw.append(text)
            self.lines.append((time.monotonic(), json.loads(text)))

    async def wait_for(self, predicate: Callable[[Line], bool], timeout: float, what: str) -> float:
        """Wait for a line (already printed or new) matching; returns when it was printed."""
        deadline = time.monotonic() + timeout
        while True:
            for at, line in self.lines:
                if predicate(line):
                    return at
            if time.monotonic() > deadline:
                shown = [line_summary(line) for _, line in self.lines[-8:]]
                raise AssertionError(f"no line {what} within {timeout} s; last: {shown}")
            await asyncio.sleep(0.02)

    def since(self, start: float, end: float = float("inf")) -> list[Line]:
        return [line for at, line in self.lines if start <= at < end]


def line_summary(line: Line) -> str:
    error = line.get("error") or {}
    return f"{line['connection']}/{line['status']}/{line.get('version')}/{error.get('kind')}"


def is_(connection: str, status: str, version: str | None = None) -> Callable[[Line], bool]:
    def check(line: Line) -> bool:
        return (
            line["connection"] == connection
            and line["status"] == status
            and (version is None or line["version"] == version)
        )

    return check


@contextlib.asynccontextmanager
async def headless(api_url: str, guild: str, token: str, home: Path) -> AsyncIterator[Headless]:
    """Start the command; at the end Ctrl+C it and check it left no token anywhere."""
    (home / ".config").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUILDWATCH_")}
    env |= {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "GUILDWATCH_TOKEN": token}
    process = await asyncio.create_subprocess_exec(
        str(GUILDWATCH),
        "--watch",
        "--json",
        "--api",
        api_url,
        "--heartbeat-timeout",
        str(WATCHDOG),
        "--max-retries",
        "20",
        guild,
        env=env,
        cwd=home,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    watched = Headless(process, token)
    pump = asyncio.create_task(watched.pump())
    try:
        yield watched
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        try:
            async with asyncio.timeout(15):
                await pump
                assert process.stderr is not None
                stderr = await process.stderr.read()
                await process.wait()
        except TimeoutError:
            process.kill()
            raise
    assert process.returncode in (0, 130), stderr.decode()[-2000:]
    assert token not in "".join(watched.raw) + stderr.decode()


async def test_server_sigkill_and_restart_in_the_json_output(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = await asyncio.to_thread(server_factory, subprocess=True, db=tmp_db(tmp_path))
    guild = server.guild_ids[0]
    await asyncio.to_thread(server.heartbeat, guild, "1.0")
    async with headless(server.url, guild, server.token, tmp_path / "home") as watched:
        await watched.wait_for(is_("connected", "online", "1.0"), 15, "online 1.0")
        await asyncio.sleep(2 * 0.5)  # the server's flush period, so 1.0 survives the kill
        killed = time.monotonic()
        await asyncio.to_thread(server.kill)
        down_at = await wait_after(watched, killed, lambda line: line["connection"] != "connected")
        restarting = time.monotonic()
        await asyncio.to_thread(server.start)  # same port, same database
        restarted = time.monotonic()
        back_at = await wait_after(watched, restarting, is_("connected", "online", "1.0"))
        outage = watched.since(down_at, restarting)
        assert outage
        assert all(line["status"] != "online" for line in outage), outage
        assert {(line["error"] or {}).get("kind") for line in outage} <= {"network", None}
        report(
            "headless: server SIGKILL + restart",
            shown_down_s=down_at - killed,
            restart_took_s=restarted - restarting,
            shown_back_after_restart_s=back_at - restarted,
        )


async def wait_after(
    watched: Headless,
    start: float,
    predicate: Callable[[Line], bool],
    timeout: float = RECOVER_BOUND + 5,
) -> float:
    """When the first line matching ``predicate`` printed at or after ``start`` arrived."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for at, line in watched.lines:
            if at >= start and predicate(line):
                return at
        await asyncio.sleep(0.02)
    shown = [line_summary(line) for _, line in watched.lines[-8:]]
    raise AssertionError(f"no matching line within {timeout} s; last: {shown}")


async def test_partition_in_the_json_output(real_server: RunningServer, tmp_path: Path) -> None:
    guild = real_server.guild_ids[0]
    proxy = FaultProxy("127.0.0.1", real_server.port)
    await proxy.start()
    try:
        await asyncio.to_thread(real_server.heartbeat, guild, "1.0")
        async with headless(proxy.url, guild, real_server.token, tmp_path / "home") as watched:
            await watched.wait_for(is_("connected", "online", "1.0"), 15, "online 1.0")
            proxy.blackhole()
            cut = time.monotonic()
            down_at = await wait_after(
                watched,
                cut,
                lambda line: (line["error"] or {}).get("kind") == "timeout",
            )
            await asyncio.to_thread(real_server.heartbeat, guild, "2.0")
            await asyncio.sleep(4 * WATCHDOG)  # the partition's length
            proxy.heal()
            healed = time.monotonic()
            back_at = await wait_after(watched, healed, is_("connected", "online", "2.0"))
            assert all(line["status"] != "online" for line in watched.since(down_at, healed))
            report(
                "headless: partition",
                shown_down_s=down_at - cut,
                recovery_s=back_at - healed,
            )
    finally:
        await proxy.stop()


async def test_laptop_sleep_sigstop_in_the_json_output(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = await asyncio.to_thread(server_factory, offline_after=1.5)
    guild = server.guild_ids[0]
    async with headless(server.url, guild, server.token, tmp_path / "home") as watched:
        await watched.wait_for(lambda line: line["connection"] == "connected", 15, "connected")
        await asyncio.to_thread(server.heartbeat, guild, "1.0")  # the bot's last heartbeat
        await watched.wait_for(is_("connected", "online", "1.0"), 15, "online 1.0")
        watched.process.send_signal(signal.SIGSTOP)  # the laptop sleeps
        await asyncio.sleep(10 * SERVER_HEARTBEAT)  # the sleep's length; the bot goes offline
        watched.process.send_signal(signal.SIGCONT)
        woke = time.monotonic()
        back_at = await wait_after(watched, woke, is_("connected", "offline", "1.0"))
        after = watched.since(woke)
        assert all(line["status"] != "online" for line in after), [
            (line_summary(line), line.get("source")) for line in after
        ]
        report("headless: laptop sleep (SIGSTOP 10 x heartbeat)", recovery_s=back_at - woke)
