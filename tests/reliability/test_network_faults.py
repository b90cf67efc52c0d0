"""Network faults between guildwatch and a real server, through the fault proxy.

Each test asserts what the store showed *during* the fault (never "online" from a stream it
cannot see: ``guildwatch.display.status_kind``), and the right status within a documented bound
once the fault heals. Bounds are in ``tests/reliability/support.py``; measured figures are
printed as ``RELIABILITY ...`` lines (``pytest -s``) and collected in ``docs/reliability.md``.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from typing import Any

import pytest

from guildwatch.engine import Engine
from guildwatch.store import StatusStore
from tests.conftest import ServerFactory
from tests.harness import RunningServer
from tests.reliability.support import (
    DETECT_BOUND,
    RECOVER_BOUND,
    SERVER_HEARTBEAT,
    WATCHDOG,
    Recorder,
    Seen,
    report,
    rig,
    rig_settings,
    shows,
    wait_for,
)

pytestmark = pytest.mark.timeout(30)

BLIP_BOUND = 0.5
"""Documented bound: how long a stale "online" may show right after a reconnect opens."""


def online_time(seen: list[Seen], *, until: float) -> float:
    """Seconds the dot showed "online" in a recorded stretch (up to ``until``)."""
    ends = [s.at for s in seen[1:]] + [until]
    return sum((end - s.at for s, end in zip(seen, ends, strict=True) if s.kind == "online"), 0.0)


async def test_partition_longer_than_the_watchdog(real_server: RunningServer) -> None:
    async with rig(real_server) as r:
        await r.heartbeat("1.0")
        await wait_for(shows(r.recorder, "online", "1.0"), 10, "online 1.0")
        r.proxy.blackhole()
        cut = time.monotonic()
        detected = await wait_for(
            lambda: r.recorder.now.connection != "connected", DETECT_BOUND, "the link shown down"
        )
        error = r.recorder.now.error
        assert error is not None
        assert error.kind == "timeout"  # the watchdog, not a guess
        await r.heartbeat("2.0")  # the bot moves on while guildwatch cannot see it
        await asyncio.sleep(4 * WATCHDOG)  # the partition's length (a fault, not a wait)
        during = r.recorder.between(cut + detected, time.monotonic())
        assert {s.kind for s in during} <= {"reconnecting", "connecting"}
        assert all(s.version == "1.0" for s in during)  # nothing invented, nothing lost
        r.proxy.heal()
        healed = time.monotonic()
        recovery = await wait_for(shows(r.recorder, "online", "2.0"), RECOVER_BOUND, "2.0")
        assert r.recorder.now.connection == "connected"
        assert all(s.kind != "online" for s in r.recorder.between(cut + detected, healed))
        report("partition", detect_s=detected, recovery_s=recovery)


async def test_slow_link_one_byte_per_100_ms_stays_connected(real_server: RunningServer) -> None:
    async with rig(real_server) as r:
        await r.heartbeat("1.0")
        await wait_for(shows(r.recorder, "online", "1.0"), 10, "online 1.0")
        streams_before = len(r.proxy.stream_requests())
        r.proxy.set_bandwidth(10)  # 1 byte per 100 ms, 5 bytes per watchdog period
        start = time.monotonic()
        await asyncio.sleep(6 * WATCHDOG)  # the slow stretch's length
        slow = r.recorder.between(start, time.monotonic())
        assert {s.snapshot.connection for s in slow} == {"connected"}
        assert {s.kind for s in slow} == {"online"}
        assert len(r.proxy.stream_requests()) == streams_before  # no reconnect at all
        r.proxy.heal()
        healed = time.monotonic()
        await r.heartbeat("2.0")
        await wait_for(shows(r.recorder, "online", "2.0"), RECOVER_BOUND, "2.0")
        assert len(r.proxy.stream_requests()) == streams_before  # the same connection
        report("slow link 10 B/s", reconnects=0, recovery_s=time.monotonic() - healed)


async def test_laptop_sleep_then_traffic_resumes(server_factory: ServerFactory) -> None:
    server = server_factory(offline_after=1.0)
    async with rig(server) as r:
        await r.heartbeat("1.0")  # the last heartbeat: the bot goes quiet 1 s later
        await wait_for(shows(r.recorder, "online", "1.0"), 10, "online 1.0")
        r.proxy.blackhole()  # asleep: no bytes either way
        slept = time.monotonic()
        detected = await wait_for(
            lambda: r.recorder.now.connection != "connected", DETECT_BOUND, "the link shown down"
        )
        await asyncio.sleep(10 * SERVER_HEARTBEAT - (time.monotonic() - slept))
        asleep = r.recorder.between(slept + detected, time.monotonic())
        assert all(s.kind != "online" for s in asleep)
        r.proxy.heal()  # awake: held bytes flow again, new connections get through
        woke = time.monotonic()
        # The bot went offline while we slept: after waking, guildwatch must say so.
        recovery = await wait_for(shows(r.recorder, "offline", "1.0"), RECOVER_BOUND, "offline")
        assert r.recorder.now.connection == "connected"
        # On a resume the server replays what changed right after the headers; between the
        # connection opening and that replay the last status (online) is still on show. That
        # blip is inherent in resuming (if nothing changed, nothing is replayed and the cached
        # status *is* current); it must end with the replay, not linger.
        blip = online_time(r.recorder.between(woke), until=time.monotonic())
        assert blip < BLIP_BOUND
        report("laptop sleep 10 x heartbeat", detect_s=detected, recovery_s=recovery, blip_s=blip)


async def test_accept_and_drop_backs_off_instead_of_looping(real_server: RunningServer) -> None:
    settings: dict[str, Any] = {
        "backoff_base": 0.05,
        "backoff_cap": 1.0,
        "backoff_jitter": 0.0,
        "max_retries": 8,
    }
    async with rig(real_server, **settings) as r:
        await r.heartbeat("1.0")
        await wait_for(shows(r.recorder, "online", "1.0"), 10, "online 1.0")
        r.proxy.drop_connections()
        start = time.monotonic()
        r.proxy.reset_all()  # the live stream dies; every reconnect is accepted, then dropped
        gave_up = await wait_for(lambda: r.recorder.now.connection == "error", 15, "giving up")
        error = r.recorder.now.error
        assert error is not None
        assert error.kind == "network"
        attempts = [req.at for req in r.proxy.stream_requests(since=start)]
        gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
        # 8 reconnects, spaced by the schedule (floored by the server's retry: 100 ms)
        # 0.1 0.2 0.4 0.8 1 1 1: growing, never a 1 Hz loop, then it stops and says so.
        assert len(attempts) == 8
        assert all(b >= a * 0.8 for a, b in itertools.pairwise(gaps)), gaps
        assert gaps[-1] >= 0.9
        assert all(s.kind != "online" for s in r.recorder.between(start + DETECT_BOUND))
        given_up_at = time.monotonic()
        await asyncio.sleep(1.5)  # after giving up: silence until a manual retry
        assert r.proxy.stream_requests(since=given_up_at) == []
        r.proxy.heal()
        healed = time.monotonic()
        await r.heartbeat("2.0")
        r.engine.retry()  # the user presses r
        recovery = await wait_for(shows(r.recorder, "online", "2.0"), RECOVER_BOUND, "2.0")
        report(
            "accept-and-drop",
            reconnects=len(attempts),
            gaps_s="/".join(f"{g:.2f}" for g in gaps),
            gave_up_s=gave_up,
            recovery_after_retry_s=recovery,
            healed_at=healed - start,
        )


async def test_server_that_accepts_and_ends_at_once_does_not_reset_the_backoff(
    real_server: RunningServer,
) -> None:
    settings: dict[str, Any] = {
        "backoff_base": 0.05,
        "backoff_cap": 1.0,
        "backoff_jitter": 0.0,
        "max_retries": 6,
    }
    async with rig(real_server, **settings) as r:
        await r.heartbeat("1.0")
        await wait_for(shows(r.recorder, "online", "1.0"), 10, "online 1.0")
        start = time.monotonic()
        await r.set_fault(drop_after=0)  # 200 + event-stream headers, then the end of body
        await wait_for(lambda: r.recorder.now.connection == "error", 15, "giving up")
        attempts = [req.at for req in r.proxy.stream_requests(since=start)]
        gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
        # Each connection opened (200) but lived < min_uptime_for_reset: attempts kept counting.
        assert len(attempts) == 6
        assert all(b >= a * 0.8 for a, b in itertools.pairwise(gaps)), gaps
        # Each of those connections was real (200, event stream) but sent nothing new, so the
        # dot showed "online" (the last status) for as long as each lived: count the blips.
        blips = sum(
            1
            for a, b in itertools.pairwise(r.recorder.between(start))
            if a.kind != "online" and b.kind == "online"
        )
        await r.set_fault()
        await r.heartbeat("2.0")
        r.engine.retry()
        recovery = await wait_for(shows(r.recorder, "online", "2.0"), RECOVER_BOUND, "2.0")
        report(
            "200-then-end",
            reconnects=len(attempts),
            online_blips=blips,
            recovery_after_retry_s=recovery,
        )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    "api_url",
    [
        pytest.param(f"http://127.0.0.1:{_closed_port()}", id="refused"),
        pytest.param("http://nonexistent.invalid:8765", id="dns"),
    ],
)
async def test_unreachable_host_is_never_online_and_gives_up(api_url: str) -> None:
    token = "tok-SECRET-unreachable"
    store = StatusStore()
    store.add_guild("123")
    recorder = Recorder(store, "123")
    engine = Engine(rig_settings(api_url, token, max_retries=3), store)
    recording = asyncio.create_task(recorder.run())
    running = asyncio.create_task(engine.run())
    try:
        gave_up = await wait_for(lambda: recorder.now.connection == "error", 10, "giving up")
    finally:
        await engine.stop()
        await running
        recording.cancel()
    error = recorder.now.error
    assert error is not None
    assert error.kind == "network"
    assert api_url.split("//")[1] in error.message  # names where it tried
    assert token not in error.message
    assert recorder.now.status is None
    assert {s.kind for s in recorder.seen} <= {"connecting", "reconnecting", "lost"}
    report(f"unreachable {api_url}", gave_up_s=gave_up)


async def test_refused_until_a_server_appears_then_the_retry_key_connects(
    server_factory: ServerFactory,
) -> None:
    port = _closed_port()
    settings = rig_settings(f"http://127.0.0.1:{port}", "tok-SECRET-refused", max_retries=3)
    store = StatusStore()
    store.add_guild("111111111111111111")
    recorder = Recorder(store, "111111111111111111")
    engine = Engine(settings, store)
    recording = asyncio.create_task(recorder.run())
    running = asyncio.create_task(engine.run())
    try:
        await wait_for(lambda: recorder.now.connection == "error", 10, "giving up")
        server = await asyncio.to_thread(server_factory, port=port, tokens={settings.token: None})
        await asyncio.to_thread(server.heartbeat, "111111111111111111", "1.0")
        appeared = time.monotonic()
        engine.retry()  # the user presses r once the server is there
        recovery = await wait_for(shows(recorder, "online", "1.0"), RECOVER_BOUND, "online")
        assert all(s.kind != "online" for s in recorder.between(0, appeared))
        report("refused, then the server appears + retry key", recovery_s=recovery)
    finally:
        await engine.stop()
        await running
        recording.cancel()
