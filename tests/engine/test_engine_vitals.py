"""Bot vitals through the engine: from the real server into the store, bad vitals as a
``payload`` warning that changes nothing, and both directions of old/new compatibility."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from guildwatch.store import BotStatus, Shard
from tests.engine.rawserver import Conn, RawServer
from tests.engine.support import GUILD, fast_settings, make_store, running, wait_until
from tests.harness import GUILDS, RunningServer

REAL_GUILD = GUILDS[0][0]
STREAM_PATH = f"/api/v1/guilds/{GUILD}/status/stream"
LANDED_CLIENT = "341cd7e"
"""The commit whose client knew only the three original fields."""

VITALS = {
    "version": "1.3.0",
    "latencyMs": 42.4,
    "shard": {"id": 1, "count": 2, "connected": True},
    "state": "maintenance",
    "message": "deploying v1.3",
    "startedAt": "2026-11-22T13:58:12Z",
}


def _post(server: RunningServer, path: str, body: Any) -> None:
    answer = httpx.post(f"{server.url}{path}", json=body, headers=server.bot_auth, timeout=10)
    assert answer.status_code == 200, answer.text


def _message(status: BotStatus | None) -> str | None:
    return status.message if status is not None else None


async def test_vitals_from_the_real_server_reach_the_store(real_server: RunningServer) -> None:
    store = make_store(REAL_GUILD)
    settings = fast_settings(real_server.url, token=real_server.token)
    async with running(settings, store):
        await wait_until(lambda: store.get(REAL_GUILD).connection == "connected")
        await asyncio.to_thread(
            _post, real_server, f"/api/v1/guilds/{REAL_GUILD}/heartbeat", VITALS
        )
        await wait_until(lambda: _message(store.get(REAL_GUILD).status) is not None)
        status = store.get(REAL_GUILD).status
        assert status is not None
        assert status.latency_ms == 42.0  # the server rounds to whole milliseconds
        assert status.shard == Shard(1, 2, True)
        assert status.bot_state == "maintenance"
        assert status.message == "deploying v1.3"
        assert status.started_at is not None
        assert store.get(REAL_GUILD).warning is None


async def test_a_server_that_sends_only_the_three_fields_works_unchanged(
    real_server: RunningServer,
) -> None:
    await asyncio.to_thread(real_server.heartbeat, REAL_GUILD, "1.2.3")
    store = make_store(REAL_GUILD)
    async with running(fast_settings(real_server.url, token=real_server.token), store):
        await wait_until(lambda: store.get(REAL_GUILD).status is not None)
        snapshot = store.get(REAL_GUILD)
    assert snapshot.status is not None
    assert snapshot.status[:3] == (True, snapshot.status.last_heartbeat, "1.2.3")
    assert snapshot.status.latency_ms is None
    assert snapshot.status.shard is None
    assert snapshot.status.bot_state == "up"
    assert snapshot.warning is None


async def _polls_fail(conn: Conn) -> bool:
    if conn.request.target == STREAM_PATH:
        return False
    await conn.respond(503)
    return True


BAD_VITALS = [
    b'"latencyMs": NaN',
    b'"latencyMs": -4',
    b'"latencyMs": 1e999',
    b'"shard": {"id": 2, "count": 2}',
    b'"shard": {"id": -1, "count": 2}',
    b'"message": "' + b"x" * 201 + b'"',
    b'"state": 7',
]


@pytest.mark.parametrize("vital", BAD_VITALS)
async def test_bad_vitals_are_a_payload_warning_and_change_nothing(vital: bytes) -> None:
    good = json.dumps({"healthy": True, **VITALS}).encode()

    async def handler(conn: Conn) -> None:
        if await _polls_fail(conn):
            return
        await conn.head()
        await conn.send(b"data: " + good + b"\n\n")
        await conn.send(b'data: {"healthy": false, "version": "9.9.9", ' + vital + b"}\n\n")
        await conn.hold()

    store = make_store()
    async with RawServer(handler) as server, running(fast_settings(server.url), store):
        await wait_until(lambda: store.get(GUILD).warning is not None)
        snapshot = store.get(GUILD)
    assert snapshot.warning is not None
    assert snapshot.warning.kind == "payload"
    assert snapshot.warning.message.startswith("The server sent a status")
    assert snapshot.status is not None
    assert snapshot.status.healthy is True  # nothing of the bad payload was applied
    assert snapshot.status.version == "1.3.0"
    assert snapshot.status.latency_ms == 42.4
    assert snapshot.status.message == "deploying v1.3"
    assert snapshot.connection == "connected"


def _landed_parser(tmp_path: Path) -> ModuleType:
    """The client's validation as it was before the vitals, loaded from git."""
    try:
        source = subprocess.run(
            ["git", "show", f"{LANDED_CLIENT}:guildwatch/engine/_payload.py"],
            capture_output=True,
            check=True,
            cwd=Path(__file__).parent,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"needs the git history ({LANDED_CLIENT})")
    path = tmp_path / "landed_payload.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("landed_payload", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["landed_payload"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["landed_payload"]
    return module


def test_the_landed_client_reads_the_new_servers_answers(
    real_server: RunningServer, tmp_path: Path
) -> None:
    landed = _landed_parser(tmp_path)
    assert "latencyMs" not in Path(landed.__file__ or "").read_text()  # truly the old one
    _post(real_server, f"/api/v1/guilds/{REAL_GUILD}/heartbeat", VITALS)
    bot_beat = {
        "version": "1.3.0",
        "shards": [{"id": 0, "latencyMs": 40}, {"id": 1, "connected": False}],
        "guilds": {GUILDS[1][0]: 1},
    }
    _post(real_server, "/api/v1/bot/heartbeat", bot_beat)
    answers = [
        httpx.get(real_server.status_url(guild), headers=real_server.auth, timeout=10).text
        for guild, _ in GUILDS
    ]
    assert any('"latencyMs"' in text for text in answers)
    assert any('"state":"degraded"' in text for text in answers)
    for text in answers:
        old, warning = landed.parse_status(text)
        document = json.loads(text)
        assert warning is None
        assert tuple(old) == (
            document["healthy"],
            old.last_heartbeat,
            document["version"],
            None,
            None,
            None,
            None,
            None,
        )
        assert (old.last_heartbeat is None) == (document["lastHeartbeat"] is None)
