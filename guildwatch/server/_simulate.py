"""A simulated bot for demos and scale tests (``--simulate``).

It calls :meth:`StatusModel.heartbeat`, the same code path as the real heartbeat endpoint, so
everything a real bot causes (events, offline timers, persistence) happens for real. The
schedule is a pure function of elapsed time (:func:`planned_version`), so it is testable alone.

Guild 0 never goes quiet. Every other guild cycles: heartbeats for ``1.5 x period``, then
silence for ``offline_after + period / 2`` (it turns offline ``offline_after`` into the
silence), then it comes back with the next version. Guilds are spread evenly over the cycle,
so with the defaults (period 20 s, offline after 10 s) a demo shows online, offline and a
version change within the first minute.

The bot has vitals too (:func:`planned_shard`, :func:`planned_word`), on a cycle of
``maintenance_every`` seconds (60 by default): every shard's gateway latency wanders with
jitter, shard 0 spikes for 3 s three quarters in, shard 1 drops for ``maintenance_for``
seconds halfway (its guilds read degraded), and a quarter in the whole bot goes into
maintenance ("deploying v1.N") for ``maintenance_for`` seconds, then says "starting" for 2 s
with a new start time: a restart, as a deploy is. So a demo shows a maintenance message 15 s in.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable
from datetime import datetime, timedelta

from guildwatch.server._model import StatusModel, utc_now
from guildwatch.server._vitals import BotReport, Shard, ShardReport, Vitals

SIM_GUILD_BASE = 900_000_000_000_000_000
"""Simulated ids look like Discord snowflakes: 900000000000000000, ...001, ..."""

_NAMES = (
    "Aurora",
    "Basalt",
    "Cinder",
    "Dunmore",
    "Ember",
    "Fjord",
    "Grove",
    "Harbor",
    "Iris",
    "Juniper",
)

TICKS_PER_HEARTBEAT = 10
"""Each tick heartbeats a tenth of the guilds, so 1,000 guilds do not report all at once."""

STARTING_SECONDS = 2.0
"""How long the bot says "starting" after a maintenance window."""
SPIKE_SECONDS = 3.0


def sim_guild_id(index: int) -> str:
    """The id of simulated guild ``index``."""
    return str(SIM_GUILD_BASE + index)


def sim_guild_name(index: int) -> str:
    """A readable name for simulated guild ``index``."""
    return f"{_NAMES[index % len(_NAMES)]} {index + 1}"


def planned_version(
    index: int, guilds: int, elapsed: float, period: float, offline_after: float
) -> str | None:
    """The version guild ``index`` reports ``elapsed`` seconds in, or None while it is silent."""
    online = 1.5 * period
    cycle = online + offline_after + period / 2
    if index == 0:
        return f"1.{int(elapsed // cycle)}.0"
    position = elapsed + cycle * index / guilds
    generation = int(position // cycle)
    if position % cycle >= online:
        return None
    return f"1.{generation}.{index % 10}"


def planned_shard(shard_id: int, elapsed: float, every: float, duration: float) -> ShardReport:
    """Shard ``shard_id``'s gateway ``elapsed`` seconds in: connected, and its latency."""
    position = elapsed % every
    if shard_id == 1 and every / 2 <= position < every / 2 + duration:
        return ShardReport(shard_id, connected=False, latency_ms=None)
    base = 38.0 + 9.0 * shard_id
    # Two incommensurate waves: jitter that never repeats exactly, deterministic for tests.
    jitter = 6.0 * math.sin(elapsed * 1.7 + shard_id * 2.1) + 3.0 * math.sin(elapsed * 5.3)
    latency = base + jitter
    if shard_id == 0 and 0.75 * every <= position < 0.75 * every + SPIKE_SECONDS:
        latency *= 8  # a gateway hiccup: a few hundred ms
    return ShardReport(shard_id, connected=True, latency_ms=round(max(latency, 1.0)))


def planned_word(elapsed: float, every: float, duration: float) -> tuple[str, str | None, float]:
    """The bot's state, message, and when (seconds in) its process last started."""
    cycle = int(elapsed // every)
    position = elapsed % every
    begins = every / 4
    restarted = cycle * every + begins + duration
    if begins <= position < begins + duration:
        return "maintenance", f"deploying v1.{cycle + 1}", _started(cycle - 1, every, duration)
    if begins + duration <= position < begins + duration + STARTING_SECONDS:
        return "starting", f"v1.{cycle + 1} is starting", restarted
    if position < begins:
        return "up", None, _started(cycle - 1, every, duration)
    return "up", None, restarted


def _started(cycle: int, every: float, duration: float) -> float:
    return 0.0 if cycle < 0 else cycle * every + every / 4 + duration


def planned_vitals(
    index: int, shards: int, elapsed: float, every: float, duration: float, started: datetime
) -> Vitals:
    """What simulated guild ``index`` reports ``elapsed`` seconds after ``started``."""
    shard = planned_shard(index % shards, elapsed, every, duration)
    state, message, started_offset = planned_word(elapsed, every, duration)
    if not shard.connected and state == "up":
        state = "degraded"
    return Vitals(
        latency_ms=shard.latency_ms,
        shard=Shard(shard.id, shards, shard.connected),
        state=state,
        message=message,
        started_at=started + timedelta(seconds=started_offset),
    )


class Simulator:
    """Drives ``guilds`` simulated guilds on ``model`` until stopped.

    Args:
        model: The running status model.
        guilds: How many guilds to simulate.
        period: Seconds per online stretch (``--sim-period``).
        offline_after: The model's offline threshold; heartbeats come 3 times within it.
        shards: Gateway shards of the simulated bot (guild ``i`` is on shard ``i % shards``).
        maintenance_every: Seconds per vitals cycle (maintenance, a shard drop, a spike).
        maintenance_for: Seconds the maintenance window and the shard drop last.
        clock: Wall clock for ``startedAt``.
    """

    def __init__(
        self,
        model: StatusModel,
        *,
        guilds: int,
        period: float,
        offline_after: float,
        shards: int = 3,
        maintenance_every: float = 60.0,
        maintenance_for: float = 10.0,
        clock: Callable[[], datetime] = utc_now,
    ):
        self._model = model
        self._guilds = guilds
        self._period = period
        self._offline_after = offline_after
        self._shards = max(1, shards)
        self._every = maintenance_every
        self._duration = min(maintenance_for, maintenance_every / 4)
        self._clock = clock
        self._started = clock()
        self._task: asyncio.Task[None] | None = None

    @property
    def guild_ids(self) -> list[str]:
        """The simulated guild ids, in order."""
        return [sim_guild_id(i) for i in range(self._guilds)]

    def start(self) -> None:
        """Register the guilds, send every bot's first heartbeat, and start the schedule."""
        self._started = self._clock()
        for index in range(self._guilds):
            guild_id = sim_guild_id(index)
            self._model.add_guild(guild_id, name=sim_guild_name(index))
            version = self._version(index, 0.0) or "1.0.0"
            self._model.heartbeat(guild_id, version, self._vitals(index, 0.0))
        self._report_bot(0.0)
        self._task = asyncio.create_task(self._run(), name="guildwatch-simulator")

    async def stop(self) -> None:
        """Stop heartbeating (idempotent)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _version(self, index: int, elapsed: float) -> str | None:
        return planned_version(index, self._guilds, elapsed, self._period, self._offline_after)

    def _vitals(self, index: int, elapsed: float) -> Vitals:
        return planned_vitals(
            index, self._shards, elapsed, self._every, self._duration, self._started
        )

    def _report_bot(self, elapsed: float) -> None:
        """The bot-level status: every shard, and the guilds that are heartbeating now."""
        state, message, started_offset = planned_word(elapsed, self._every, self._duration)
        self._model.update_bot(
            BotReport(
                version=self._version(0, elapsed),
                started_at=self._started + timedelta(seconds=started_offset),
                state=state,
                message=message,
                shard_count=self._shards,
                shards=tuple(
                    planned_shard(n, elapsed, self._every, self._duration)
                    for n in range(self._shards)
                ),
                guilds={
                    sim_guild_id(index): index % self._shards
                    for index in range(self._guilds)
                    if self._version(index, elapsed) is not None
                },
            )
        )

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        tick = self._offline_after / 3 / TICKS_PER_HEARTBEAT
        tick_number = 0
        while True:
            await asyncio.sleep(tick)
            tick_number += 1
            elapsed = loop.time() - started
            for index in range(
                tick_number % TICKS_PER_HEARTBEAT, self._guilds, TICKS_PER_HEARTBEAT
            ):
                version = self._version(index, elapsed)
                if version is not None:
                    self._model.heartbeat(
                        sim_guild_id(index), version, self._vitals(index, elapsed)
                    )
            if tick_number % TICKS_PER_HEARTBEAT == 0:
                self._report_bot(elapsed)
