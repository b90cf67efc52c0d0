"""Headless with bot vitals: the added JSON fields, a line per change of state (not per
latency), Nagios performance data and warning codes, and the bot's own lines."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from guildwatch.cli import _headless
from guildwatch.store import BotOverview, BotStatus, Shard, ShardVitals, StatusStore

NOW = datetime(2026, 11, 22, 14, 8, 0, tzinfo=UTC)


def _store() -> StatusStore:
    store = StatusStore(clock=lambda: NOW)
    store.add_guild("g")
    store.set_connection("g", "connected")
    return store


def _up(latency: float | None = 42.0, **vitals: Any) -> BotStatus:
    return BotStatus(True, NOW - timedelta(seconds=5), "1.3.0", latency, Shard(3, 8))._replace(
        **vitals
    )


def test_json_gains_the_vitals_as_added_fields() -> None:
    store = _store()
    store.apply_status("g", _up(shard=Shard(3, 8, connected=False)), source="stream")
    record = _headless.json_record(store.get("g"), NOW)
    assert record["status"] == "online"  # the bot is up: the schema's values stay
    assert record["state"] == "degraded"
    assert record["latencyMs"] == 42.0
    assert record["shard"] == {"id": 3, "count": 8, "connected": False}
    store.apply_status(
        "g", _up(None, state="maintenance", message="deploying v1.3"), source="stream"
    )
    record = _headless.json_record(store.get("g"), NOW)
    assert (record["state"], record["message"]) == ("maintenance", "deploying v1.3")


@pytest.mark.parametrize(
    ("status", "code", "perf"),
    [
        (_up(42.4), 0, "latency=42ms;500;1000"),
        (_up(42.0, shard=Shard(3, 8, connected=False)), 1, "latency=42ms;500;1000"),
        (_up(None, state="maintenance"), 1, ""),
        (_up(None), 0, ""),
    ],
)
async def test_once_adds_performance_data_and_warns_for_degraded_and_maintenance(
    status: BotStatus, code: int, perf: str
) -> None:
    store = _store()
    store.apply_status("g", status, source="stream")
    out = io.StringIO()
    assert await _headless.once(store, out, json_lines=False, wait_seconds=1) == code
    line = out.getvalue().rstrip("\n")
    if perf:
        assert line.endswith(f" | {perf}")
    else:
        assert "|" not in line


async def test_once_with_a_latency_judged_high_is_a_warning() -> None:
    now = [NOW]
    store = StatusStore(clock=lambda: now[0], latency_warn=200.0)
    store.add_guild("g")
    store.set_connection("g", "connected")
    for second in range(40):
        now[0] = NOW + timedelta(seconds=second)
        store.apply_status("g", _up(300.0), source="stream")
    out = io.StringIO()
    assert await _headless.once(store, out, json_lines=False, wait_seconds=1) == 1
    assert "Degraded · latency 300 ms" in out.getvalue()
    assert out.getvalue().rstrip().endswith("| latency=300ms;200;400")


async def _lines(out: io.StringIO, count: int) -> list[dict[str, object]]:
    async with asyncio.timeout(5):
        while len(out.getvalue().splitlines()) < count:
            await asyncio.sleep(0.01)
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_watch_prints_a_line_per_change_of_state_not_per_latency() -> None:
    store = _store()
    store.apply_status("g", _up(42.0), source="stream")
    out = io.StringIO()
    task = asyncio.create_task(_headless.watch(store, out, json_lines=True))
    await _lines(out, 1)
    for latency in (45.0, 51.0, 38.0, 90.0, 47.0):  # jitter, even past the dead band
        store.apply_status("g", _up(latency), source="stream")
        await asyncio.sleep(0.08)
    store.apply_status("g", _up(44.0, shard=Shard(3, 8, connected=False)), source="stream")
    lines = await _lines(out, 2)
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(out.getvalue().splitlines()) == 2
    assert (lines[1]["state"], lines[1]["latencyMs"]) == ("degraded", 44.0)  # the latest


def _bot(shard_1_up: bool, latency: float) -> BotOverview:
    shards = (
        ShardVitals(0, True, latency, 10, NOW),
        ShardVitals(1, shard_1_up, None, 12, NOW),
    )
    return BotOverview(True, NOW, "1.3.0", NOW - timedelta(hours=1), "up", None, 22, 2, shards)


async def test_watch_json_prints_the_bot_status_once_per_change() -> None:
    store = _store()
    out = io.StringIO()
    task = asyncio.create_task(_headless.watch(store, out, json_lines=True))
    await _lines(out, 1)
    store.update_bot(connection="connected")
    store.update_bot(status=BotOverview(False, None, None), source="stream")  # nothing yet
    await asyncio.sleep(0.1)
    store.update_bot(status=_bot(True, 41.0), source="stream")
    await _lines(out, 2)
    for latency in (44.0, 39.0):  # latency alone: no line
        store.update_bot(status=_bot(True, latency), source="stream")
        await asyncio.sleep(0.08)
    store.update_bot(status=_bot(False, 40.0), source="stream")
    lines = await _lines(out, 3)
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(out.getvalue().splitlines()) == 3
    bot_lines = [line for line in lines if line.get("type") == "bot"]
    assert [[s["connected"] for s in b["shards"]] for b in bot_lines] == [  # type: ignore[attr-defined]
        [True, True],
        [True, False],
    ]
    assert bot_lines[1]["guildCount"] == 22
    assert "guild" not in bot_lines[0]


async def test_human_watch_prints_no_bot_lines() -> None:
    store = _store()
    out = io.StringIO()
    task = asyncio.create_task(_headless.watch(store, out, json_lines=False))
    await asyncio.sleep(0.05)
    store.update_bot(connection="connected")
    store.update_bot(status=_bot(True, 41.0), source="stream")
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(out.getvalue().splitlines()) == 1
