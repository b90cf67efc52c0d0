"""A simulated bot for demos and scale tests (``--simulate``).

It calls :meth:`StatusModel.heartbeat`, the same code path as the real heartbeat endpoint, so
everything a real bot causes (events, offline timers, persistence) happens for real. The
schedule is a pure function of elapsed time (:func:`planned_version`), so it is testable alone.

Guild 0 never goes quiet. Every other guild cycles: heartbeats for ``1.5 x period``, then
silence for ``offline_after + period / 2`` (it turns offline ``offline_after`` into the
silence), then it comes back with the next version. Guilds are spread evenly over the cycle,
so with the defaults (period 20 s, offline after 10 s) a demo shows online, offline and a
version change within the first minute.
"""

from __future__ import annotations

import asyncio
import contextlib

from guildwatch.server._model import StatusModel

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


class Simulator:
    """Drives ``guilds`` simulated guilds on ``model`` until stopped.

    Args:
        model: The running status model.
        guilds: How many guilds to simulate.
        period: Seconds per online stretch (``--sim-period``).
        offline_after: The model's offline threshold; heartbeats come 3 times within it.
    """

    def __init__(self, model: StatusModel, *, guilds: int, period: float, offline_after: float):
        self._model = model
        self._guilds = guilds
        self._period = period
        self._offline_after = offline_after
        self._task: asyncio.Task[None] | None = None

    @property
    def guild_ids(self) -> list[str]:
        """The simulated guild ids, in order."""
        return [sim_guild_id(i) for i in range(self._guilds)]

    def start(self) -> None:
        """Register the guilds, send every bot's first heartbeat, and start the schedule."""
        for index in range(self._guilds):
            guild_id = sim_guild_id(index)
            self._model.add_guild(guild_id, name=sim_guild_name(index))
            self._model.heartbeat(guild_id, self._version(index, 0.0) or "1.0.0")
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
                    self._model.heartbeat(sim_guild_id(index), version)
