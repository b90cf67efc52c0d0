"""Shared helpers for engine tests: fast settings, condition waits, a running engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from guildwatch.engine import Engine, EngineSettings
from guildwatch.store import StatusStore

TOKEN = "tok-SECRET-4f9a1c"
GUILD = "123456789012345678"


def fast_settings(api_url: str, **overrides: Any) -> EngineSettings:
    """Settings with every timing shrunk so a test runs in milliseconds, not minutes."""
    values: dict[str, Any] = {
        "api_url": api_url,
        "token": TOKEN,
        "heartbeat_timeout": 5.0,
        "connect_timeout": 5.0,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
        "backoff_jitter": 0.0,
        "max_retries": 3,
        "min_uptime_for_reset": 60.0,
        "poll_interval": 60.0,
        # Per-guild streams: these tests script the per-guild paths; the shared stream has
        # its own tests (test_shared_engine.py), which ask for it.
        "multiplex": "off",
    }
    if "backoff_base" in overrides:
        values["backoff_cap"] = max(values["backoff_cap"], overrides["backoff_base"])
    values.update(overrides)
    return EngineSettings(**values)


async def wait_until(
    predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition"
) -> None:
    """Wait until ``predicate()`` holds, checking every few ms; fail after ``timeout`` s."""
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}") from None


def make_store(*guild_ids: str) -> StatusStore:
    store = StatusStore()
    store.add_guilds(guild_ids or (GUILD,))
    return store


@asynccontextmanager
async def running(
    settings: EngineSettings, store: StatusStore, **kwargs: Any
) -> AsyncIterator[Engine]:
    """Run an engine in a task for the duration of the block, then stop it."""
    kwargs.setdefault("rand", lambda: 0.0)
    engine = Engine(settings, store, **kwargs)
    task = asyncio.create_task(engine.run())
    try:
        yield engine
    finally:
        await engine.stop()
        async with asyncio.timeout(10):
            await task
