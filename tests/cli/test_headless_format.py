"""Headless lines and exit codes from real StatusStore snapshots (fixed clock, no network)."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from guildwatch.cli import _headless
from guildwatch.store import BotStatus, Problem, StatusStore

NOW = datetime(2026, 11, 22, 14, 8, 0, tzinfo=UTC)
FIVE_MINUTES_AGO = NOW - timedelta(minutes=5)
SCHEMA_KEYS = {
    "time",
    "guild",
    "name",
    "connection",
    "status",
    "healthy",
    "version",
    "lastHeartbeat",
    "lastSeen",
    "source",
    "error",
    "warning",
    "silencedUntil",
    "latencyMs",
    "shard",
    "state",
    "message",
}


def _store(*guild_ids: str, stream: bool = True) -> StatusStore:
    store = StatusStore(clock=lambda: NOW)
    for guild_id in guild_ids:
        store.add_guild(guild_id, stream=stream)
    return store


def _status(healthy: bool = True, version: str | None = "1.2.3") -> BotStatus:
    return BotStatus(healthy=healthy, last_heartbeat=FIVE_MINUTES_AGO, version=version)


def test_online_json_record_has_the_documented_schema() -> None:
    store = _store("1234")
    store.set_connection("1234", "connected")
    store.apply_status("1234", _status(), source="stream")
    record = json.loads(_headless.json_line(store.get("1234"), NOW))
    assert set(record) == SCHEMA_KEYS
    assert record == {
        "time": "2026-11-22T14:08:00Z",
        "guild": "1234",
        "name": None,
        "connection": "connected",
        "status": "online",
        "healthy": True,
        "version": "1.2.3",
        "lastHeartbeat": "2026-11-22T14:03:00Z",
        "lastSeen": "Last seen 5 minutes ago · v1.2.3",
        "source": "stream",
        "error": None,
        "warning": None,
        "silencedUntil": None,
        "latencyMs": None,
        "shard": None,
        "state": "up",
        "message": None,
    }


def test_error_and_warning_objects() -> None:
    store = _store("1")
    store.set_connection("1", "error", error=Problem("auth", "The server refused the token"))
    store.set_warning("1", Problem("clock_skew", "server clock ahead"))
    record = _headless.json_record(store.get("1"), NOW)
    assert record["status"] == "unknown"
    assert record["healthy"] is None
    assert record["lastSeen"] is None
    assert record["error"] == {"kind": "auth", "message": "The server refused the token"}
    assert record["warning"] == {"kind": "clock_skew", "message": "server clock ahead"}


def test_a_dropped_stream_does_not_claim_online_from_memory() -> None:
    store = _store("1")
    store.set_connection("1", "connected")
    store.apply_status("1", _status(), source="stream")
    store.set_connection("1", "disconnected", error=Problem("network", "Connection refused"))
    record = _headless.json_record(store.get("1"), NOW)
    assert (record["status"], record["healthy"]) == ("unknown", True)


def test_json_escapes_control_and_bidi_characters_in_server_text() -> None:
    store = _store("1")
    store.set_connection("1", "connected")
    store.apply_status("1", _status(version="1.0\x1b[2J\u202eevil"), source="stream")
    line = _headless.json_line(store.get("1"), NOW)
    assert line.isascii()
    assert "\x1b" not in line
    assert json.loads(line)["version"] == "1.0\x1b[2J\u202eevil"  # data is kept, escaped


def test_human_lines_use_the_screens_words_and_sanitise_server_text() -> None:
    store = _store("1234")
    store.add_guild("1234", name="Guild\x1b]0;pwn\x07 \u202eone")
    store.set_connection("1234", "connected")
    store.apply_status("1234", _status(healthy=False, version="2.0\x1b[31m"), source="stream")
    line = _headless.human_line(store.get("1234"), NOW)
    assert line == (
        "2026-11-22T14:08:00Z  Guild]0;pwn one (1234)  Offline  Last seen 5 minutes ago · v2.0[31m"
    )


def test_human_line_for_polled_status_and_errors() -> None:
    store = _store("1", stream=False)
    store.set_connection("1", "disconnected", error=Problem("network", "Connection\nrefused"))
    store.apply_status("1", _status(), source="poll")
    line = _headless.human_line(store.get("1"), NOW)
    assert "  Online  " in line
    assert "polled 0 s ago" in line
    assert "stream off" in line
    assert line.endswith("error: Connection refused")


def _snapshot_in(state: str) -> tuple[StatusStore, str]:
    store = _store("g", stream=state != "poll-only")
    if state == "online":
        store.set_connection("g", "connected")
        store.apply_status("g", _status(), source="stream")
    elif state == "offline":
        store.set_connection("g", "connected")
        store.apply_status("g", _status(healthy=False), source="stream")
    elif state == "skewed":
        store.set_connection("g", "connected")
        store.apply_status("g", _status(), source="stream", warning=Problem("clock_skew", "ahead"))
    elif state in ("poll-only", "poll-after-failure"):
        store.set_connection("g", "disconnected", error=Problem("network", "refused"))
        store.apply_status("g", _status(), source="poll")
    elif state == "polled-offline":
        store.set_connection("g", "disconnected", error=Problem("network", "refused"))
        store.apply_status("g", _status(healthy=False), source="poll")
    elif state == "stale":
        store.set_connection("g", "connected")
        store.apply_status("g", _status(), source="stream")
        store.set_connection("g", "disconnected", error=Problem("network", "reset"))
    elif state == "auth":
        store.set_connection("g", "error", error=Problem("auth", "bad token"))
    elif state == "lost":
        store.set_connection("g", "connected")
        store.apply_status("g", _status(), source="stream")
        store.set_connection("g", "error", error=Problem("network", "refused"))
    return store, "g"


@pytest.mark.parametrize(
    ("state", "code", "definite"),
    [
        ("online", 0, True),
        ("offline", 2, True),
        ("skewed", 1, True),
        ("poll-only", 1, True),
        ("poll-after-failure", 1, True),
        ("polled-offline", 2, True),
        ("stale", 1, False),
        ("auth", 3, True),
        ("lost", 3, True),
        ("connecting", 3, False),
    ],
)
def test_exit_codes_and_when_once_may_stop(state: str, code: int, definite: bool) -> None:
    store, guild = _snapshot_in(state)
    assert _headless.exit_code(store.get(guild)) == code
    assert _headless.is_definite(store.get(guild)) is definite


def test_a_poll_racing_a_healthy_stream_is_not_definite() -> None:
    store = _store("g")
    store.apply_status("g", _status(), source="poll")  # stream still connecting, no error
    assert not _headless.is_definite(store.get("g"))


async def test_once_waits_for_every_guild_and_the_worst_code_wins() -> None:
    store = _store("a", "b")
    out = io.StringIO()
    task = asyncio.create_task(_headless.once(store, out, json_lines=True, wait_seconds=10))
    store.set_connection("a", "connected")
    store.apply_status("a", _status(), source="stream")
    await asyncio.sleep(0)
    assert not task.done()
    store.set_connection("b", "connected")
    store.apply_status("b", _status(healthy=False), source="stream")
    assert await asyncio.wait_for(task, 5) == 2
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["guild"], r["status"]) for r in records] == [("a", "online"), ("b", "offline")]


async def test_once_gives_up_after_its_timeout_with_unknown() -> None:
    store = _store("a")
    out = io.StringIO()
    code = await asyncio.wait_for(_headless.once(store, out, json_lines=False, wait_seconds=0.2), 5)
    assert code == 3
    assert out.getvalue().endswith("a  Connecting…  error: no definite status within 0.2 s\n")


async def test_watch_prints_one_line_per_state_change_not_per_heartbeat() -> None:
    store = _store("a", "b")
    out = io.StringIO()
    task = asyncio.create_task(_headless.watch(store, out, json_lines=True))

    async def records(count: int) -> list[dict[str, object]]:
        async with asyncio.timeout(5):
            while len(out.getvalue().splitlines()) < count:
                await asyncio.sleep(0.01)
        return [json.loads(line) for line in out.getvalue().splitlines()]

    assert [r["guild"] for r in await records(2)] == ["a", "b"]
    store.set_connection("a", "connected")
    store.apply_status("a", _status(), source="stream")
    assert (await records(3))[-1]["status"] == "online"
    for minutes in (4, 3, 2):
        # A heartbeat moves a's lastHeartbeat but not its state; b's version change is a
        # state change, and once its line is out, the wake-up that carried a's heartbeat
        # has been handled too.
        heartbeat = BotStatus(True, NOW - timedelta(minutes=minutes), "1.2.3")
        store.apply_status("a", heartbeat, source="stream")
        store.apply_status("b", _status(version=f"0.{minutes}"), source="poll")
        await records(3 + 5 - minutes)
    store.apply_status("a", _status(healthy=False), source="stream")
    final = await records(7)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [(r["guild"], r["version"]) for r in final[3:6]] == [
        ("b", "0.4"),
        ("b", "0.3"),
        ("b", "0.2"),
    ]
    assert [r["status"] for r in final if r["guild"] == "a"] == ["unknown", "online", "offline"]
    assert len(out.getvalue().splitlines()) == 7
