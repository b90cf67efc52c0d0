"""Shared pieces of the fault tests: a rig (server, proxy, engine, store) and a recorder.

The rig puts the :class:`~tests.faultproxy.FaultProxy` between a real reference server and a
real :class:`~guildwatch.engine.Engine`, so every fault is felt through real sockets. The
:class:`Recorder` keeps every state the store went through, with its time, so a test can assert
what guildwatch *showed* during a fault, not only where it ended up.

Timings are shrunk through configuration (see :data:`SERVER_HEARTBEAT`), never by sleeping:
the watchdog is 2.5 x the server's heartbeat, as docs/protocol.md says.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from guildwatch.display import StatusKind, status_kind
from guildwatch.engine import Engine, EngineSettings
from guildwatch.store import GuildSnapshot, StatusStore
from tests.faultproxy import FaultProxy
from tests.harness import RunningServer

SERVER_HEARTBEAT = 0.2
"""Seconds between the server's ``: heartbeat`` comments in these tests."""

WATCHDOG = 2.5 * SERVER_HEARTBEAT
"""The client's silence limit (docs/protocol.md: about 2.5 x the heartbeat)."""

DETECT_BOUND = 3.0
"""Documented bound: a dead link is shown as down within this many seconds (watchdog + slack
for a loaded 2-core machine)."""

RECOVER_BOUND = 5.0
"""Documented bound: after the fault heals, the right status is shown within this many seconds
(backoff cap + reconnect + first event, with slack)."""


def rig_settings(api_url: str, token: str, **overrides: Any) -> EngineSettings:
    """Engine settings for the fault tests: short watchdog and backoff, many retries."""
    values: dict[str, Any] = {
        "api_url": api_url,
        "token": token,
        "heartbeat_timeout": WATCHDOG,
        "connect_timeout": 1.0,
        "backoff_base": 0.05,
        "backoff_cap": 0.5,
        "backoff_jitter": 0.5,
        "max_retries": 50,
        "min_uptime_for_reset": 1.0,
        "poll_interval": 60.0,
    }
    values.update(overrides)
    return EngineSettings(**values)


@dataclass(frozen=True, slots=True)
class Seen:
    """One state the store was in, and when."""

    at: float
    """``time.monotonic()`` when the recorder saw it."""
    snapshot: GuildSnapshot

    @property
    def kind(self) -> StatusKind:
        """What the screen's dot showed (``guildwatch.display.status_kind``)."""
        return status_kind(self.snapshot)

    @property
    def version(self) -> str | None:
        status = self.snapshot.status
        return status.version if status else None


@dataclass
class Recorder:
    """Every state of one guild in the store, as the screen would have been woken with."""

    store: StatusStore
    guild_id: str
    seen: list[Seen] = field(default_factory=list)

    @property
    def now(self) -> GuildSnapshot:
        """The current snapshot."""
        return self.store.get(self.guild_id)

    def between(self, start: float, end: float = float("inf")) -> list[Seen]:
        """States seen in ``[start, end)`` plus the one in force at ``start``."""
        before = [s for s in self.seen if s.at < start]
        inside = [s for s in self.seen if start <= s.at < end]
        return before[-1:] + inside

    async def run(self) -> None:
        subscription = self.store.subscribe(max_rate=1000)
        self.seen.append(Seen(time.monotonic(), self.now))
        try:
            async for changed in subscription:
                if self.guild_id in changed:
                    self.seen.append(Seen(time.monotonic(), self.now))
        finally:
            subscription.close()


async def wait_for(
    predicate: Callable[[], bool], timeout: float, what: str, *, step: float = 0.01
) -> float:
    """Wait until ``predicate()`` holds; returns the seconds it took. Fails after ``timeout``."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(step)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}") from None
    return time.monotonic() - started


def shows(recorder: Recorder, kind: StatusKind, version: str | None = None) -> Callable[[], bool]:
    """Predicate: the guild's dot shows ``kind`` (and the status has ``version``)."""

    def check() -> bool:
        seen = Seen(0.0, recorder.now)
        return seen.kind == kind and (version is None or seen.version == version)

    return check


def report(fault: str, **figures: float | int | str) -> None:
    """Print one measured line (``pytest -s tests/reliability`` collects them for the docs)."""
    shown = " ".join(
        f"{key}={value:.3f}" if isinstance(value, float) else f"{key}={value}"
        for key, value in figures.items()
    )
    print(f"\nRELIABILITY {fault}: {shown}")


@dataclass
class Rig:
    """A running engine watching one guild of ``server`` through ``proxy``."""

    server: RunningServer
    proxy: FaultProxy
    store: StatusStore
    engine: Engine
    recorder: Recorder
    guild_id: str

    async def heartbeat(self, version: str | None) -> None:
        """A bot heartbeat straight to the server (not through the proxy), off the loop."""
        await asyncio.to_thread(self.server.heartbeat, self.guild_id, version)

    async def set_fault(self, **fault: Any) -> None:
        """A server-side fault (``guildwatch.server._faults``), off the loop."""
        await asyncio.to_thread(self.server.set_fault, self.guild_id, **fault)


@contextlib.asynccontextmanager
async def rig(
    server: RunningServer, *, through_proxy: bool = True, **settings: Any
) -> AsyncIterator[Rig]:
    """Start proxy, store, recorder and engine for the server's first guild; stop them all."""
    port = int(server.url.rsplit(":", 1)[1])
    proxy = FaultProxy("127.0.0.1", port)
    await proxy.start()
    guild_id = server.guild_ids[0]
    store = StatusStore()
    store.add_guild(guild_id)
    api_url = proxy.url if through_proxy else server.url
    engine = Engine(rig_settings(api_url, server.token, **settings), store)
    recorder = Recorder(store, guild_id)
    recording = asyncio.create_task(recorder.run())
    running = asyncio.create_task(engine.run())
    try:
        yield Rig(server, proxy, store, engine, recorder, guild_id)
    finally:
        await engine.stop()
        async with asyncio.timeout(10):
            await running
        recording.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await recording
        await proxy.stop()
