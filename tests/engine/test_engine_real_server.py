"""The engine against the real reference server and its fault injection, over loopback."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from guildwatch.engine import DeferredEngine, EngineSettings
from guildwatch.store import StatusStore
from tests.conftest import ServerFactory
from tests.engine.support import running, wait_until
from tests.harness import GUILDS, RunningServer, tmp_db

GUILD = GUILDS[0][0]
OTHER = GUILDS[1][0]


def settings_for(server: RunningServer, **overrides: Any) -> EngineSettings:
    """Engine settings matched to the test server: its 0.2 s heartbeat, fast backoff."""
    values: dict[str, Any] = {
        "api_url": server.url,
        "token": server.token,
        "heartbeat_timeout": 1.0,  # 5 x the server's 0.2 s heartbeat comments: a loaded
        # machine must not trip it; the stall test still trips it within a second
        "connect_timeout": 5.0,
        "backoff_base": 0.05,
        "backoff_cap": 0.2,
        "backoff_jitter": 0.0,
        "max_retries": 50,
        "poll_interval": 60.0,
    }
    values.update(overrides)
    return EngineSettings(**values)


def store_for(*guilds: str) -> StatusStore:
    store = StatusStore()
    store.add_guilds(guilds or (GUILD,))
    return store


def version(store: StatusStore, guild: str = GUILD) -> str | None:
    status = store.get(guild).status
    return status.version if status else None


async def heartbeat(server: RunningServer, guild: str, version: str) -> None:
    await asyncio.to_thread(server.heartbeat, guild, version)


async def set_fault(server: RunningServer, guild: str, **fault: Any) -> None:
    await asyncio.to_thread(server.set_fault, guild, **fault)


async def test_first_event_and_pushed_changes(real_server: RunningServer) -> None:
    await heartbeat(real_server, GUILD, "1.2.3")
    store = store_for(GUILD, OTHER)
    async with running(settings_for(real_server), store):
        await wait_until(lambda: version(store) == "1.2.3")
        snapshot = store.get(GUILD)
        assert snapshot.connection == "connected"
        assert snapshot.source == "stream"
        assert snapshot.health == "online"
        await wait_until(lambda: store.get(OTHER).status is not None)
        assert store.get(OTHER).health == "offline"  # never heard from: the server says so
        await heartbeat(real_server, OTHER, "9.9.9")
        await wait_until(lambda: version(store, OTHER) == "9.9.9")
        assert store.get(OTHER).health == "online"
        # Heartbeat comments every 0.2 s kept the 1 s watchdog quiet throughout.
        assert {e.connection for e in store.history(GUILD)} == {"connecting", "connected"}


async def test_missed_heartbeats_are_pushed_as_offline(server_factory: ServerFactory) -> None:
    server = server_factory(offline_after=0.5)
    await heartbeat(server, GUILD, "2.0.0")
    store = store_for()
    async with running(settings_for(server), store):
        await wait_until(lambda: store.get(GUILD).health == "online")
        await wait_until(lambda: store.get(GUILD).health == "offline", timeout=10)
        snapshot = store.get(GUILD)
        assert version(store) == "2.0.0"  # still known, shown as "last seen ... v2.0.0"
        assert snapshot.status is not None
        assert snapshot.status.last_heartbeat is not None
        assert snapshot.connection == "connected"


async def test_reconnects_with_last_event_id_after_a_restart(
    server_factory: ServerFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="guildwatch.engine")
    server = server_factory(db=tmp_db(tmp_path), offline_after=60)
    await heartbeat(server, GUILD, "1.0.0")
    store = store_for()
    async with running(settings_for(server), store):
        await wait_until(lambda: version(store) == "1.0.0")
        await asyncio.to_thread(server.restart)
        await heartbeat(server, GUILD, "1.0.1")
        await wait_until(lambda: version(store) == "1.0.1")
        assert store.get(GUILD).connection == "connected"
    connects = [r.getMessage() for r in caplog.records if "connecting" in r.getMessage()]
    assert "Last-Event-ID None" in connects[0]
    assert all("Last-Event-ID None" not in line for line in connects[1:])
    assert server.token not in caplog.text


async def test_drop_after_n_events_reconnects(real_server: RunningServer) -> None:
    await set_fault(real_server, GUILD, drop_after=1)
    store = store_for()
    async with running(settings_for(real_server), store):
        await wait_until(lambda: "disconnected" in {e.connection for e in store.history(GUILD)})
        await set_fault(real_server, GUILD)
        await heartbeat(real_server, GUILD, "after-drop")
        await wait_until(lambda: version(store) == "after-drop")
        assert store.get(GUILD).connection == "connected"


async def test_stalled_stream_trips_the_watchdog(real_server: RunningServer) -> None:
    store = store_for()
    async with running(settings_for(real_server, backoff_base=30.0), store):
        await wait_until(lambda: store.get(GUILD).connection == "connected")
        await set_fault(real_server, GUILD, stall=True)
        await wait_until(lambda: store.get(GUILD).connection == "disconnected")
        error = store.get(GUILD).error
        assert error is not None
        assert error.kind == "timeout"


async def test_malformed_events_are_payload_warnings(real_server: RunningServer) -> None:
    await heartbeat(real_server, GUILD, "good")
    store = store_for()
    async with running(settings_for(real_server), store):
        await wait_until(lambda: version(store) == "good")
        for malformed in ("json", "type"):
            await set_fault(real_server, GUILD, malformed=malformed)
            await heartbeat(real_server, GUILD, f"bad-{malformed}")
            await wait_until(lambda: store.get(GUILD).warning is not None)
            warning = store.get(GUILD).warning
            assert warning is not None
            assert warning.kind == "payload"
            assert version(store) == "good"  # the last valid status stays
            assert store.get(GUILD).connection == "connected"
            await set_fault(real_server, GUILD)
            await heartbeat(real_server, GUILD, "good")
            await wait_until(lambda: store.get(GUILD).warning is None)


async def test_503_with_retry_after_is_honoured(real_server: RunningServer) -> None:
    store = store_for()
    async with running(settings_for(real_server), store):
        await wait_until(lambda: store.get(GUILD).connection == "connected")
        await set_fault(real_server, GUILD, status=503, retry_after=2)
        # The open stream ends at once (a clean end, "network"); the reconnect meets the 503.
        await wait_until(lambda: (e := store.get(GUILD).error) is not None and e.kind == "http")
        snapshot = store.get(GUILD)
        assert snapshot.connection == "disconnected"
        assert snapshot.next_retry_at is not None
        # 2 s (Retry-After) and not the 0.05 s backoff; allow for the clock moving on.
        wait = (snapshot.next_retry_at - store.clock()).total_seconds()
        assert 1.0 < wait <= 2.0
        await set_fault(real_server, GUILD)
        await wait_until(lambda: store.get(GUILD).connection == "connected", timeout=10)


async def test_captive_portal_content_type_fails_the_stream(real_server: RunningServer) -> None:
    await set_fault(real_server, GUILD, content_type="text/html")
    store = store_for()
    async with running(settings_for(real_server), store):
        await wait_until(lambda: store.get(GUILD).connection == "error")
        error = store.get(GUILD).error
        assert error is not None
        assert error.kind == "content_type"


async def test_bad_token_unknown_guild_and_forbidden_guild(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(tokens={"all-guilds": None, "only-alpha": frozenset({GUILD})})
    cases = [("wrong-token", GUILD, "auth"), ("all-guilds", "404404", "not_found")]
    cases.append(("only-alpha", OTHER, "forbidden"))
    for token, guild, kind in cases:
        store = store_for(guild)
        async with running(settings_for(server, token=token, poll_interval=0.05), store):
            await wait_until(lambda: store.get(guild).connection == "error")  # noqa: B023
            error = store.get(guild).error
            assert error is not None
            assert error.kind == kind
            assert token not in error.message


async def test_poll_only_against_the_real_server(real_server: RunningServer) -> None:
    await heartbeat(real_server, GUILD, "polled")
    store = StatusStore()
    store.add_guild(GUILD, stream=False)
    async with running(settings_for(real_server, stream=False, poll_interval=0.1), store):
        await wait_until(lambda: version(store) == "polled")
        assert store.get(GUILD).source == "poll"
        await heartbeat(real_server, GUILD, "polled-again")
        await wait_until(lambda: version(store) == "polled-again")


async def test_deferred_engine_connects_on_run_and_stops(real_server: RunningServer) -> None:
    await heartbeat(real_server, GUILD, "4.5.6")
    store = store_for(GUILD)
    engine = DeferredEngine(settings_for(real_server), store)
    engine.retry(GUILD)  # nothing built yet: nothing to retry, and no error either
    task = asyncio.create_task(engine.run())
    await wait_until(lambda: version(store) == "4.5.6")
    assert store.get(GUILD).connection == "connected"
    await engine.stop()
    await asyncio.wait_for(task, 5)


async def test_deferred_engine_stopped_before_run_never_connects(
    real_server: RunningServer,
) -> None:
    store = store_for(GUILD)
    engine = DeferredEngine(settings_for(real_server), store)
    await engine.stop()  # e.g. the operator quit before the first frame
    await asyncio.wait_for(engine.run(), 5)
    assert store.get(GUILD).connection == "connecting"
    # Only the entry add_guild wrote: no attempt was ever made.
    assert [entry.connection for entry in store.history(GUILD)] == ["connecting"]
    assert store.get(GUILD).attempt == 0
