"""The server's SQLite file under SIGTERM and SIGKILL, with heartbeats in flight.

Small versions of ``bench/server_load.py``'s durability checks: a clean stop flushes every
acknowledged heartbeat; a kill -9 loses at most what arrived since the last flush (the last
heartbeat of a bot that reports slower than ``flush_interval``) and never corrupts the file.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from guildwatch.server import ServerConfig
from tests.conftest import ServerFactory
from tests.harness import ProcessRunner, RunningServer, tmp_db, wait_until

pytestmark = pytest.mark.timeout(40)

FLUSH_INTERVAL = ServerConfig().flush_interval
"""The subprocess server's flush period (``guildwatch-server`` has no flag for it)."""


def stored_versions(db: str) -> dict[str, str | None]:
    """Every guild's stored version; opening the file also replays a WAL left by a kill."""
    with sqlite3.connect(db, timeout=5) as conn:
        return dict(conn.execute("SELECT id, version FROM guilds").fetchall())


def integrity(db: str) -> str:
    with sqlite3.connect(db, timeout=5) as conn:
        result: str = conn.execute("PRAGMA integrity_check").fetchone()[0]
    return result


@dataclass
class Storm:
    """One sender thread per guild, each posting versions 1, 2, 3, ... as fast as it can."""

    server: RunningServer
    guild_ids: list[str]
    acked: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    """Per guild: (version number, monotonic time the 200 arrived)."""
    stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for guild_id in self.guild_ids:
            self.acked[guild_id] = []
            thread = threading.Thread(target=self._send, args=(guild_id,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def join(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(10)

    def _send(self, guild_id: str) -> None:
        url = f"{self.server.url}/api/v1/guilds/{guild_id}/heartbeat"
        with httpx.Client(headers=self.server.bot_auth, timeout=5) as client:
            number = 0
            while not self.stop.is_set():
                number += 1
                try:
                    answer = client.post(url, json={"version": str(number)})
                except httpx.HTTPError:
                    return  # the server is gone
                if answer.status_code == 200:
                    self.acked[guild_id].append((number, time.monotonic()))


def start_subprocess_server(factory: ServerFactory, db: str) -> tuple[RunningServer, ProcessRunner]:
    server = factory(subprocess=True, db=db)
    assert isinstance(server.runner, ProcessRunner)
    return server, server.runner


def test_kill_9_loses_at_most_the_last_heartbeat(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    db = tmp_db(tmp_path)
    server, runner = start_subprocess_server(server_factory, db)
    guild = server.guild_ids[0]
    server.heartbeat(guild, "1")
    wait_until(lambda: stored_versions(db).get(guild) == "1", 10, "the first flush")
    server.heartbeat(guild, "2")  # acknowledged, then the process dies before a flush
    runner.signal(signal.SIGKILL)
    assert runner.wait() == -signal.SIGKILL
    assert integrity(db) == "ok"
    assert stored_versions(db)[guild] in ("1", "2")
    server.restart()
    assert server.status(guild)["version"] == stored_versions(db)[guild]


def test_kill_9_during_a_heartbeat_storm_never_corrupts_the_file(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    db = tmp_db(tmp_path)
    server, runner = start_subprocess_server(server_factory, db)
    storm = Storm(server, server.guild_ids)
    storm.start()
    wait_until(lambda: all(len(a) >= 20 for a in storm.acked.values()), 15, "a busy server")
    wait_until(lambda: all(stored_versions(db).get(g) for g in server.guild_ids), 10, "flushes")
    runner.signal(signal.SIGKILL)
    killed = time.monotonic()
    runner.wait()
    storm.join()
    assert integrity(db) == "ok"
    stored = stored_versions(db)
    for guild_id, acked in storm.acked.items():
        version = stored[guild_id]
        assert version is not None
        kept = int(version)
        # Whatever was lost had been acknowledged only within the last flush period.
        lost = [at for number, at in acked if number > kept]
        assert all(killed - at <= FLUSH_INTERVAL + 1.0 for at in lost), (guild_id, len(lost))
    server.restart()  # the file opens and serves what it kept
    for guild_id in server.guild_ids[:3]:
        assert server.status(guild_id)["version"] == stored[guild_id]


def test_sigterm_flushes_every_acknowledged_heartbeat(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    db = tmp_db(tmp_path)
    server, runner = start_subprocess_server(server_factory, db)
    storm = Storm(server, server.guild_ids)
    storm.start()
    wait_until(lambda: all(len(a) >= 20 for a in storm.acked.values()), 15, "a busy server")
    storm.join()  # senders stop; every heartbeat sent has its answer
    runner.signal(signal.SIGTERM)
    assert runner.wait() == 0
    assert integrity(db) == "ok"
    stored = stored_versions(db)
    for guild_id, acked in storm.acked.items():
        assert stored[guild_id] == str(acked[-1][0])


async def test_storm_helper_counts_only_acknowledged_heartbeats(
    real_server: RunningServer,
) -> None:
    storm = Storm(real_server, real_server.guild_ids[:1])
    storm.start()
    await asyncio.to_thread(wait_until, lambda: len(storm.acked[real_server.guild_ids[0]]) >= 5)
    await asyncio.to_thread(storm.join)
    numbers = [number for number, _ in storm.acked[real_server.guild_ids[0]]]
    assert numbers == list(range(1, len(numbers) + 1))
    assert real_server.status(real_server.guild_ids[0])["version"] == str(numbers[-1])
