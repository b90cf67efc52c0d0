"""Server faults: killed with SIGKILL and restarted, flipping between 200 and 500.

The SIGKILL test runs ``guildwatch-server`` as a real child process with a database file, so
the restart on the same port restores what was flushed, as in production.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import ServerFactory
from tests.harness import ProcessRunner, RunningServer, tmp_db
from tests.reliability.support import (
    DETECT_BOUND,
    RECOVER_BOUND,
    report,
    rig,
    shows,
    wait_for,
)

pytestmark = pytest.mark.timeout(40)


def stored_version(db: str, guild_id: str) -> str | None:
    """The version SQLite holds for the guild right now (what a restart would restore)."""
    with sqlite3.connect(db, timeout=5) as conn:
        row = conn.execute("SELECT version FROM guilds WHERE id = ?", (guild_id,)).fetchone()
    return row[0] if row else None


async def test_server_sigkill_then_restart_on_the_same_port(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    db = tmp_db(tmp_path)
    server = await asyncio.to_thread(server_factory, subprocess=True, db=db)
    assert isinstance(server.runner, ProcessRunner)
    async with rig(server) as r:
        await r.heartbeat("1.0")
        await wait_for(shows(r.recorder, "online", "1.0"), 10, "online 1.0")
        await wait_for(lambda: stored_version(db, r.guild_id) == "1.0", 10, "the flush")
        server.runner.signal(signal.SIGKILL)
        killed = time.monotonic()
        await asyncio.to_thread(server.runner.wait)
        await wait_for(
            lambda: r.recorder.now.connection != "connected", DETECT_BOUND, "the outage shown"
        )
        shown_down = time.monotonic()
        error = r.recorder.now.error
        assert error is not None
        assert error.kind == "network"
        restarting = time.monotonic()
        await asyncio.to_thread(server.restart)  # same port, same database file
        restarted = time.monotonic()
        down = r.recorder.between(shown_down, restarting)
        assert all(s.kind != "online" for s in down), [(s.at - killed, s.kind) for s in down]
        # The restarted server restores 1.0 from SQLite; its event ids are new, so the stream
        # starts fresh with the current status, and it is live again.
        recovery = await wait_for(
            lambda: r.recorder.now.connection == "connected", RECOVER_BOUND, "reconnected"
        )
        assert shows(r.recorder, "online", "1.0")()
        await r.heartbeat("2.0")
        await wait_for(shows(r.recorder, "online", "2.0"), RECOVER_BOUND, "2.0 after restart")
        report(
            "server SIGKILL + restart",
            detect_s=shown_down - killed,
            outage_s=restarted - killed,
            restart_took_s=restarted - restarting,
            recovery_after_restart_s=recovery,
        )


async def test_server_flipping_between_200_and_500(real_server: RunningServer) -> None:
    recoveries: list[float] = []
    async with rig(real_server, min_uptime_for_reset=0.5, max_retries=6) as r:
        await r.heartbeat("1.0")
        await wait_for(shows(r.recorder, "online", "1.0"), 10, "online 1.0")
        for cycle in range(3):
            await r.set_fault(status=500)
            failing = time.monotonic()
            await wait_for(
                lambda: r.recorder.now.error is not None and r.recorder.now.error.kind == "http",
                DETECT_BOUND,
                "the 500 shown",
            )
            error = r.recorder.now.error
            assert error is not None
            assert "500" in error.message
            await asyncio.sleep(0.5)  # the failing stretch's length
            await r.set_fault()  # 200 again
            fixed = time.monotonic()
            during = r.recorder.between(failing + DETECT_BOUND, fixed)
            assert all(s.kind in ("reconnecting", "connecting") for s in during)
            version = f"{cycle + 2}.0"
            await r.heartbeat(version)
            recoveries.append(
                await wait_for(shows(r.recorder, "online", version), RECOVER_BOUND, version)
            )
            await asyncio.sleep(0.7)  # a healthy stretch longer than min_uptime_for_reset
        # Healthy stretches reset the attempt counter: flipping never exhausts the retries.
        assert "lost" not in {s.kind for s in r.recorder.seen}
    report("flipping 200/500", cycles=3, worst_recovery_s=max(recoveries))
