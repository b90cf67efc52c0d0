"""The simulated bot: its schedule alone, then live over a real stream."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from guildwatch.server._simulate import (
    planned_shard,
    planned_version,
    planned_vitals,
    sim_guild_id,
    sim_guild_name,
)
from tests.conftest import ServerFactory
from tests.server.sse import open_stream


def test_default_schedule_shows_every_state_within_a_minute() -> None:
    guilds, period, offline_after = 5, 20.0, 10.0
    steps = [n / 2 for n in range(121)]  # 0 .. 60 s
    plans = {
        index: [planned_version(index, guilds, t, period, offline_after) for t in steps]
        for index in range(guilds)
    }
    assert all(version is not None for version in plans[0])
    silent_stretches = []
    for index in range(1, guilds):
        run = 0
        for version in plans[index]:
            run = run + 1 if version is None else 0
            silent_stretches.append(run / 2)
    # Some guild is silent for longer than the threshold: it shows as offline.
    assert max(silent_stretches) > offline_after
    changed = [
        (plans[index][n - 1], plans[index][n])
        for index in range(1, guilds)
        for n in range(1, len(steps))
        if None not in (plans[index][n - 1], plans[index][n])
        and plans[index][n - 1] != plans[index][n]
    ]
    comebacks: list[tuple[str, str]] = []
    for index in range(1, guilds):
        last_heard: str | None = None
        silent = False
        for version in plans[index]:
            if version is None:
                silent = True
                continue
            if silent and last_heard is not None:
                comebacks.append((last_heard, version))
            silent, last_heard = False, version
    assert comebacks, "some guild comes back within the minute"
    assert all(before != after for before, after in comebacks), "with a new version"
    assert not changed, "versions change only across a silence (a bot restart)"


def test_simulated_guilds_have_snowflake_ids_and_names() -> None:
    assert sim_guild_id(0) == "900000000000000000"
    assert sim_guild_id(999).isdigit()
    assert sim_guild_name(0) == "Aurora 1"
    assert len({sim_guild_name(n) for n in range(1000)}) == 1000


async def test_live_simulation_goes_offline_and_comes_back_with_a_new_version(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(
        simulate=True, sim_guilds=3, sim_period=0.4, offline_after=0.3, guilds=()
    )
    guild = sim_guild_id(1)
    assert server.guild_ids == [sim_guild_id(n) for n in range(3)]
    seen: list[dict[str, object]] = []
    async with open_stream(server, guild) as stream:
        while not _came_back(seen):
            seen.append((await stream.next_event(timeout=10)).json())
    assert seen[0]["version"] is not None


def _came_back(seen: list[dict[str, object]]) -> bool:
    """Online, then offline, then online again with a different version."""
    offline_at = next((n for n, s in enumerate(seen) if s["healthy"] is False), None)
    if offline_at is None or offline_at == 0:
        return False
    before = seen[offline_at - 1]["version"]
    return any(s["healthy"] is True and s["version"] != before for s in seen[offline_at:])


async def test_thousand_guilds_stream_and_list(server_factory: ServerFactory) -> None:
    server = server_factory(simulate=True, sim_guilds=1000, guilds=())
    assert len(server.guild_ids) == 1000
    async with open_stream(server, sim_guild_id(999)) as stream:
        first = await stream.next_event()
    assert first.json()["healthy"] is True


def test_default_vitals_show_latency_a_drop_a_spike_and_maintenance_within_a_minute() -> None:
    start = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)
    steps = [n / 4 for n in range(241)]  # 0 .. 60 s
    every, duration, shards = 60.0, 10.0, 3
    plans = {
        index: [planned_vitals(index, shards, t, every, duration, start) for t in steps]
        for index in range(shards)
    }
    latencies = [v.latency_ms for v in plans[0] if v.latency_ms is not None]
    assert len(set(latencies)) > 10, "jitter"
    assert max(latencies) > 200, "a spike"
    assert min(latencies) > 0
    dropped = [v for v in plans[1] if v.shard is not None and not v.shard.connected]
    assert dropped, "shard 1 drops"
    assert all(v.latency_ms is None and v.state == "degraded" for v in dropped)
    resumed = plans[1][-1].shard
    assert resumed is not None
    assert resumed.connected, "and resumes"
    maintenance = [(t, v) for t, v in zip(steps, plans[0], strict=True) if v.state == "maintenance"]
    assert maintenance, "a maintenance window"
    assert 10 <= maintenance[0][0] <= 20, "seen early in a demo"
    assert maintenance[0][1].message == "deploying v1.1"
    after = [v for v in plans[0] if v.state == "up"][-1]
    assert after.started_at is not None
    assert after.started_at > start, "a deploy restarts the bot"
    assert {v.shard.count for vs in plans.values() for v in vs if v.shard} == {shards}


def test_planned_shard_never_reports_nan_or_negative() -> None:
    for shard_id in range(4):
        for step in range(2000):
            report = planned_shard(shard_id, step * 0.37, 60.0, 10.0)
            assert report.latency_ms is None or 0 < report.latency_ms < 1000


async def test_live_simulation_sends_vitals_and_a_maintenance_message(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(
        simulate=True,
        sim_guilds=2,
        sim_period=5.0,
        offline_after=1.5,  # each guild beats every 0.5 s: inside any 0.8 s window
        sim_maintenance_every=3.2,
        sim_maintenance_for=0.8,
        guilds=(),
    )
    async with open_stream(server, sim_guild_id(0)) as stream:
        first = (await stream.next_event()).json()
        assert isinstance(first["latencyMs"], int)
        assert first["shard"] == {"id": 0, "count": 3, "connected": True}
        status = first
        while status.get("state") != "maintenance":
            status = (await stream.next_event(timeout=10)).json()
    assert status["message"].startswith("deploying v1.")
    bot = httpx.get(f"{server.url}/api/v1/bot/status", headers=server.auth, timeout=10).json()
    assert bot["shardCount"] == 3
    assert len(bot["shards"]) == 3
    assert bot["guildCount"] >= 1
