"""The shared stream through the engine, against the real reference server over loopback:
many guilds on one connection, ready/gone handing guilds to their own streams, one backoff and
polls for the group while it is down, resume, retry, the fallback to per-guild streams (a
server without the endpoint, today's and the one landed before it), and the multiplex choice."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from guildwatch.engine import Engine
from guildwatch.store import StatusStore
from tests.conftest import ServerFactory
from tests.engine.rawserver import Conn, RawServer
from tests.engine.support import fast_settings, running, wait_until
from tests.engine.test_engine_real_server import settings_for
from tests.harness import GUILDS, RunningServer, config_to_argv, make_config
from tests.metrics.test_exposition import value

ALPHA, BETA, GAMMA = (guild for guild, _ in GUILDS)
SHARED = "_shared"
"""The fault id of the shared stream itself."""
LANDED_SERVER = "8f17795"
"""The last commit whose server had no shared stream."""


def store_for(*guilds: str) -> StatusStore:
    store = StatusStore()
    store.add_guilds(guilds)
    return store


async def scrape(server: RunningServer) -> str:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{server.url}/metrics")
    assert answer.status_code == 200, answer.text
    return answer.text


async def open_streams(server: RunningServer) -> tuple[float | None, float | None]:
    """(open shared streams, open per-guild streams) on the server now."""
    text = await scrape(server)
    return (
        value(text, "guildwatch_server_open_shared_streams"),
        value(text, "guildwatch_server_open_streams_all_guilds"),
    )


async def set_fault(server: RunningServer, guild: str, **fault: Any) -> None:
    await asyncio.to_thread(server.set_fault, guild, **fault)


async def heartbeat(server: RunningServer, guild: str, version: str) -> None:
    await asyncio.to_thread(server.heartbeat, guild, version)


def post_bot(server: RunningServer, guilds: list[str], version: str = "7.0.0") -> None:
    body = {
        "version": version,
        "shards": [{"id": 0, "latencyMs": 40}],
        "guilds": dict.fromkeys(guilds, 0),
    }
    answer = httpx.post(
        f"{server.url}/api/v1/bot/heartbeat", json=body, headers=server.bot_auth, timeout=60
    )
    assert answer.status_code == 200, answer.text


def version(store: StatusStore, guild: str) -> str | None:
    status = store.get(guild).status
    return status.version if status else None


def connects(caplog: pytest.LogCaptureFixture) -> int:
    """Shared stream connection attempts the engine logged."""
    return sum("shared stream: connecting" in r.getMessage() for r in caplog.records)


def fallbacks(caplog: pytest.LogCaptureFixture) -> int:
    return sum("no shared stream on this server" in r.getMessage() for r in caplog.records)


@pytest.fixture(autouse=True)
def _info_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="guildwatch.engine")


# -- one stream for many guilds --------------------------------------------------------------


async def test_500_guilds_get_their_first_status_over_one_stream(
    real_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    guilds = [f"{n:018d}" for n in range(1, 501)]
    await asyncio.to_thread(post_bot, real_server, guilds)
    store = store_for(*guilds)
    async with running(settings_for(real_server), store) as engine:
        await wait_until(
            lambda: all(version(store, g) == "7.0.0" for g in guilds), 20, "every first status"
        )
        assert await open_streams(real_server) == (1, 0)
        assert all(store.get(g).connection == "connected" for g in guilds)
        assert all(store.get(g).source == "stream" for g in guilds)
        assert engine._watchers == {}  # no per-guild watcher, task or stream
        assert connects(caplog) == 1
        # A change of one guild is pushed on the same stream.
        await heartbeat(real_server, guilds[7], "7.0.1")
        await wait_until(lambda: version(store, guilds[7]) == "7.0.1")
    assert {store.counters(g).events for g in guilds if g != guilds[7]} == {1}


# -- the multiplex choice --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("multiplex", "guilds", "expected"),
    [
        ("auto", (ALPHA,), (0, 1)),
        ("on", (ALPHA,), (1, 0)),
        ("auto", (ALPHA, BETA, GAMMA), (1, 0)),
        ("off", (ALPHA, BETA, GAMMA), (0, 3)),
    ],
)
async def test_multiplex_chooses_the_streams(
    real_server: RunningServer, multiplex: str, guilds: tuple[str, ...], expected: tuple[int, int]
) -> None:
    store = store_for(*guilds)
    async with running(settings_for(real_server, multiplex=multiplex), store):
        await wait_until(lambda: all(store.get(g).status is not None for g in guilds))
        assert await open_streams(real_server) == expected


# -- a server without the shared stream ------------------------------------------------------


@pytest.mark.parametrize("status", [404, 405, 501])
async def test_a_server_without_it_gets_per_guild_streams_for_the_run(
    real_server: RunningServer, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    await set_fault(real_server, SHARED, status=status)
    store = store_for(ALPHA, BETA, GAMMA)
    async with running(settings_for(real_server), store) as engine:
        await wait_until(lambda: all(store.get(g).status is not None for g in store.guild_ids))
        await wait_until(lambda: set(engine._watchers) == {ALPHA, BETA, GAMMA})
        assert await open_streams(real_server) == (0, 3)
        # Remembered: the server offers it again, the streams drop and reconnect, per guild.
        await set_fault(real_server, SHARED)
        await set_fault(real_server, ALPHA, drop_after=0)
        await wait_until(lambda: store.get(ALPHA).connection != "connected")
        await set_fault(real_server, ALPHA)
        await wait_until(lambda: store.counters(ALPHA).reconnects >= 1)
        await wait_until(lambda: store.get(ALPHA).connection == "connected")
        assert await open_streams(real_server) == (0, 3)
    assert fallbacks(caplog) == 1
    assert connects(caplog) == 1
    assert all(store.get(g).error is None for g in store.guild_ids)  # no 404 shown anywhere


@pytest.mark.parametrize(("multiplex", "guilds"), [("on", (ALPHA,)), ("auto", (ALPHA, BETA))])
async def test_on_falls_back_as_auto_does(
    real_server: RunningServer, multiplex: str, guilds: tuple[str, ...]
) -> None:
    await set_fault(real_server, SHARED, status=404)
    store = store_for(*guilds)
    async with running(settings_for(real_server, multiplex=multiplex), store) as engine:
        await wait_until(lambda: all(store.get(g).connection == "connected" for g in guilds))
        assert set(engine._watchers) == set(guilds)
        assert all(store.get(g).error is None for g in guilds)
        assert await open_streams(real_server) == (0, len(guilds))


@pytest.fixture
def landed_server(tmp_path: Path) -> Iterator[RunningServer]:
    """The reference server as it was before the shared stream, from git, as a subprocess."""
    root = tmp_path / "landed"
    root.mkdir()
    repo = Path(__file__).resolve().parents[2]
    try:
        archive = subprocess.run(
            ["git", "archive", LANDED_SERVER, "guildwatch"],
            capture_output=True,
            check=True,
            cwd=repo,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"needs the git history ({LANDED_SERVER})")
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    config = make_config()
    argv, env_extra = config_to_argv(config)
    env = {**os.environ, **env_extra, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(root)}
    process = subprocess.Popen(
        [sys.executable, "-m", "guildwatch.server.main", *argv],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    found = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if " listening on " in line:
                found.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        assert found.wait(15), "".join(lines)
        url = next(line for line in lines if " listening on " in line).split()[-1]
        token = next(iter(config.tokens))
        yield RunningServer(
            url=url,
            token=token,
            bot_token=sorted(config.bot_tokens)[0],
            guild_ids=[guild for guild, _ in GUILDS],
            config=config,
            runner=None,  # type: ignore[arg-type]  # stopped here, not through a runner
        )
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(5)
        if process.stdout is not None:
            process.stdout.close()


async def test_the_landed_server_gets_per_guild_streams(
    landed_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Its source really has no shared route: the test is about a server that never had it.
    await heartbeat(landed_server, ALPHA, "1.0.0")
    store = store_for(ALPHA, BETA, GAMMA)
    async with running(settings_for(landed_server), store) as engine:
        await wait_until(lambda: version(store, ALPHA) == "1.0.0")
        await wait_until(
            lambda: all(store.get(g).connection == "connected" for g in store.guild_ids)
        )
        assert set(engine._watchers) == {ALPHA, BETA, GAMMA}
        await heartbeat(landed_server, BETA, "2.0.0")
        await wait_until(lambda: version(store, BETA) == "2.0.0")
    assert fallbacks(caplog) == 1


# -- guilds the stream does not carry ----------------------------------------------------------


async def test_a_guild_unknown_to_the_server_is_handed_to_its_own_stream(
    real_server: RunningServer,
) -> None:
    unknown = "999999999999999999"
    store = store_for(ALPHA, BETA, unknown)  # few guilds: asked for by ?guild=, answered gone
    async with running(settings_for(real_server), store) as engine:
        await wait_until(lambda: store.get(unknown).connection == "error")
        error = store.get(unknown).error
        assert error is not None
        assert error.kind == "not_found"
        assert set(engine._watchers) == {unknown}
        assert store.get(ALPHA).connection == "connected"
        assert await open_streams(real_server) == (1, 0)


async def test_many_guilds_one_not_carried_before_ready_gets_its_own_stream(
    real_server: RunningServer,
) -> None:
    guilds = [f"{n:018d}" for n in range(1, 61)]  # more than ?guild= carries: all, then ready
    await asyncio.to_thread(post_bot, real_server, guilds)
    unknown = "999999999999999999"
    store = store_for(*guilds, unknown)
    async with running(settings_for(real_server), store) as engine:
        await wait_until(lambda: store.get(unknown).connection == "error")
        error = store.get(unknown).error
        assert error is not None
        assert error.kind == "not_found"
        assert set(engine._watchers) == {unknown}
        assert all(store.get(g).connection == "connected" for g in guilds)


async def test_a_guild_forbidden_for_the_token_shows_its_own_403(
    server_factory: ServerFactory,
) -> None:
    limited = "limited-7c1e09"
    server = server_factory(tokens={limited: frozenset({ALPHA})})
    store = store_for(ALPHA, BETA)
    async with running(settings_for(server, token=limited), store) as engine:
        await wait_until(lambda: store.get(BETA).connection == "error")
        error = store.get(BETA).error
        assert error is not None
        assert error.kind == "forbidden"
        assert set(engine._watchers) == {BETA}
        assert store.get(ALPHA).connection == "connected"


async def test_a_404_mid_stream_hands_that_guild_over(real_server: RunningServer) -> None:
    store = store_for(ALPHA, BETA, GAMMA)
    async with running(settings_for(real_server), store) as engine:
        await wait_until(
            lambda: all(store.get(g).connection == "connected" for g in store.guild_ids)
        )
        await set_fault(real_server, ALPHA, status=404)
        await wait_until(lambda: store.get(ALPHA).connection == "error")
        error = store.get(ALPHA).error
        assert error is not None
        assert error.kind == "not_found"
        assert set(engine._watchers) == {ALPHA}
        await heartbeat(real_server, BETA, "3.0.0")
        await wait_until(lambda: version(store, BETA) == "3.0.0")
        assert store.get(BETA).connection == "connected"
        assert await open_streams(real_server) == (1, 0)


async def test_a_malformed_event_warns_only_its_guild(real_server: RunningServer) -> None:
    store = store_for(ALPHA, BETA, GAMMA)
    async with running(settings_for(real_server), store):
        await wait_until(
            lambda: all(store.get(g).connection == "connected" for g in store.guild_ids)
        )
        await set_fault(real_server, ALPHA, malformed="type")
        await heartbeat(real_server, ALPHA, "4.0.0")
        await heartbeat(real_server, BETA, "4.0.0")
        await wait_until(lambda: store.get(ALPHA).warning is not None)
        await wait_until(lambda: version(store, BETA) == "4.0.0")
        warning = store.get(ALPHA).warning
        assert warning is not None
        assert warning.kind == "payload"
        assert version(store, ALPHA) != "4.0.0"  # nothing of it applied
        assert store.get(BETA).warning is None
        assert {store.get(g).connection for g in store.guild_ids} == {"connected"}


# -- down, polled, back ------------------------------------------------------------------------


async def test_a_stopped_server_is_one_outage_and_one_reconnect_for_all(
    real_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = store_for(ALPHA, BETA, GAMMA)
    settings = settings_for(real_server, backoff_base=0.3, backoff_cap=0.3)
    async with running(settings, store) as engine:
        await wait_until(
            lambda: all(store.get(g).connection == "connected" for g in store.guild_ids)
        )
        await asyncio.to_thread(real_server.stop)
        await wait_until(lambda: store.get(ALPHA).connection == "disconnected")
        snapshots = [store.get(g) for g in store.guild_ids]
        assert {(s.connection, s.attempt, s.next_retry_at) for s in snapshots} == {
            ("disconnected", 1, snapshots[0].next_retry_at)
        }
        await wait_until(lambda: store.get(ALPHA).attempt >= 2)
        assert len({store.get(g).attempt for g in store.guild_ids}) == 1
        await asyncio.to_thread(real_server.start)
        await wait_until(
            lambda: all(store.get(g).connection == "connected" for g in store.guild_ids)
        )
        assert engine._watchers == {}
        assert await open_streams(real_server) == (1, 0)
        text = await scrape(real_server)
    # One request served the restarted server's every guild: one first part, no per-guild one.
    assert value(text, "guildwatch_server_shared_events_sent_total") == 3
    assert value(text, "guildwatch_server_events_sent_total", guild=ALPHA) in (None, 0)


async def test_while_the_stream_is_refused_each_guild_is_polled(
    real_server: RunningServer,
) -> None:
    store = store_for(ALPHA, BETA, GAMMA)
    settings = settings_for(real_server, poll_interval=0.3, backoff_base=0.05, backoff_cap=0.1)
    async with running(settings, store):
        await wait_until(
            lambda: all(store.get(g).connection == "connected" for g in store.guild_ids)
        )
        loop = asyncio.get_running_loop()
        down_at = loop.time()
        await set_fault(real_server, SHARED, status=503)
        await wait_until(lambda: all(store.counters(g).polls >= 2 for g in store.guild_ids))
        assert {store.get(g).source for g in store.guild_ids} == {"poll"}
        # One shared reconnect for all: every guild is in the same state of it, which flips
        # between waiting and connecting as the refused attempts go by; none is "connected".
        connections = {store.get(g).connection for g in store.guild_ids}
        assert len(connections) == 1
        assert connections <= {"disconnected", "connecting"}
        assert len({store.get(g).attempt for g in store.guild_ids}) == 1
        await set_fault(real_server, SHARED)
        await wait_until(
            lambda: all(store.get(g).connection == "connected" for g in store.guild_ids)
        )
        polls = [store.counters(g).polls for g in store.guild_ids]
        outage = loop.time() - down_at
        await asyncio.sleep(0.9)  # three poll intervals: none goes out with the stream back
        assert [store.counters(g).polls for g in store.guild_ids] == polls
        # Polls of one guild were at least the interval apart: no more than the time allows.
        assert all(p <= outage / 0.3 + 1 for p in polls)


async def test_a_resume_applies_no_event_twice(real_server: RunningServer) -> None:
    store = store_for(ALPHA, BETA, GAMMA)
    async with running(settings_for(real_server), store):
        # Connected comes with the first read; the other guilds' first events may be a read
        # behind, so each guild's first event is waited for too.
        await wait_until(
            lambda: all(
                store.get(g).connection == "connected" and store.counters(g).events
                for g in store.guild_ids
            )
        )
        assert {store.counters(g).events for g in store.guild_ids} == {1}
        await set_fault(real_server, SHARED, drop_after=0)
        await wait_until(lambda: store.get(ALPHA).connection != "connected")
        await heartbeat(real_server, ALPHA, "5.0.0")
        await set_fault(real_server, SHARED)
        await wait_until(lambda: version(store, ALPHA) == "5.0.0")
        await heartbeat(real_server, BETA, "5.0.1")
        await wait_until(lambda: version(store, BETA) == "5.0.1")
        counts = [store.counters(g).events for g in (ALPHA, BETA, GAMMA)]
    # The first part once, then only the later events: a fresh start would have sent every
    # guild's status again.
    assert counts == [2, 2, 1]
    assert store.counters(GAMMA).reconnects >= 1


# -- retry ---------------------------------------------------------------------------------------


async def test_retry_reconnects_the_shared_stream_now(
    real_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = store_for(ALPHA, BETA, GAMMA)
    slow = settings_for(real_server, backoff_base=30.0, backoff_cap=30.0)
    async with running(slow, store) as engine:
        await wait_until(
            lambda: all(store.get(g).connection == "connected" for g in store.guild_ids)
        )
        engine.retry()  # connected: nothing to retry
        engine.retry(ALPHA)
        await asyncio.sleep(0.2)
        assert connects(caplog) == 1
        await set_fault(real_server, SHARED, status=500)
        await wait_until(
            lambda: store.get(ALPHA).attempt >= 1 and store.get(ALPHA).connection == "disconnected"
        )
        await set_fault(real_server, SHARED)
        engine.retry(BETA)  # one carried guild's retry reconnects the stream for them all
        await wait_until(
            lambda: all(store.get(g).connection == "connected" for g in store.guild_ids), 5
        )
        assert {store.get(g).attempt for g in store.guild_ids} == {0}
        await set_fault(real_server, SHARED, status=500)
        await wait_until(lambda: store.get(ALPHA).connection == "disconnected")
        await set_fault(real_server, SHARED)
        engine.retry()
        await wait_until(
            lambda: all(store.get(g).connection == "connected" for g in store.guild_ids), 5
        )


async def test_retry_of_a_handed_over_guild_goes_to_its_own_watcher(
    real_server: RunningServer,
) -> None:
    store = store_for(ALPHA, BETA, GAMMA)
    async with running(settings_for(real_server, slow_retry=30.0), store) as engine:
        await wait_until(
            lambda: all(store.get(g).connection == "connected" for g in store.guild_ids)
        )
        await set_fault(real_server, ALPHA, status=404)
        await wait_until(lambda: store.get(ALPHA).connection == "error")
        await set_fault(real_server, ALPHA)
        engine.retry(ALPHA)
        await wait_until(lambda: store.get(ALPHA).connection == "connected", 5)
        assert set(engine._watchers) == {ALPHA}
        assert await open_streams(real_server) == (1, 1)


def test_the_engine_builds_no_per_guild_client_in_shared_mode() -> None:
    store = store_for(*(f"{n:018d}" for n in range(1, 1001)))
    engine = Engine(settings_for_url("http://127.0.0.1:9"), store)
    try:
        assert engine._uses_shared_stream(len(store.guild_ids))
        assert engine._stream_clients == []  # made only for guilds that fall back
    finally:
        asyncio.run(engine.stop())


def settings_for_url(url: str) -> Any:
    from guildwatch.engine import EngineSettings

    return EngineSettings(api_url=url, token="t")


# -- the shared stream's frames, byte for byte -------------------------------------------------

SHARED_PATH = "/api/v1/guilds/status/stream"


async def test_frames_other_than_a_watched_guilds_status_are_ignored() -> None:
    alpha, beta = "1001", "1002"

    async def handler(conn: Conn) -> None:
        target = conn.request.target
        if not target.startswith(SHARED_PATH):
            await conn.respond(404)  # the handed-over guild's own stream and polls
            return
        await conn.head()
        await conn.send(
            b"event: status\nid: 1\ndata: "
            + json.dumps({"guild": alpha, "healthy": True, "version": "1.0"}).encode()
            + b"\n\n"
            + b'event: later-kind\ndata: {"guild": "1001", "healthy": false}\n\n'
            + b'data: {"guild": "1001", "healthy": false, "version": "default-type"}\n\n'
            + b'event: status\nid: 2\ndata: {"healthy": false, "version": "no-guild"}\n\n'
            + b'event: status\nid: 3\ndata: {"guild": "77", "healthy": false}\n\n'
            + b'event: ready\ndata: {"guilds": 1}\n\n'
        )
        await conn.hold()

    store = store_for(alpha, beta)
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, multiplex="auto")
        async with running(settings, store) as engine:
            await wait_until(lambda: store.get(beta).connection == "error")
            assert set(engine._watchers) == {beta}  # no status before ready: not carried
    error = store.get(beta).error
    assert error is not None
    assert error.kind == "not_found"
    snapshot = store.get(alpha)
    assert snapshot.status is not None
    assert (snapshot.status.healthy, snapshot.status.version) == (True, "1.0")
    assert snapshot.warning is None
    assert snapshot.connection == "connected"
    assert store.counters(alpha).events == 1
    shared = [r for r in server.requests if r.target.startswith(SHARED_PATH)]
    assert [r.target for r in shared] == [f"{SHARED_PATH}?guild={alpha}&guild={beta}"]
    assert "last-event-id" not in shared[0].headers


@pytest.mark.parametrize(
    "bad",
    [
        {"healthy": "yes"},
        {"healthy": False, "version": 5},
        {"healthy": False, "lastHeartbeat": "yesterday"},
        {"healthy": False, "latencyMs": -1},
        {"healthy": False, "shard": {"id": 2, "count": 2}},
        {"healthy": False, "message": "x" * 201},
    ],
)
async def test_a_shared_event_gets_the_whole_payload_check(bad: dict[str, object]) -> None:
    """The shared stream decodes an event once (for its guild), then validates that object:
    a field of a wrong type or range still rejects the whole event, as on a guild's stream."""
    alpha, beta = "1001", "1002"  # two guilds: auto takes the shared stream

    async def handler(conn: Conn) -> None:
        if not conn.request.target.startswith(SHARED_PATH):
            await conn.respond(404)
            return
        await conn.head()
        await conn.send(
            b"event: status\nid: 1\ndata: "
            + json.dumps({"guild": alpha, "healthy": True, "version": "1.0"}).encode()
            + b"\n\nevent: status\nid: 2\ndata: "
            + json.dumps({"guild": alpha, **bad}).encode()
            + b'\n\nevent: ready\ndata: {"guilds": 1}\n\n'
        )
        await conn.hold()

    store = store_for(alpha, beta)
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, multiplex="auto")
        async with running(settings, store):
            await wait_until(lambda: store.get(alpha).warning is not None)
            await wait_until(lambda: store.get(beta).connection == "error")  # after ready
    snapshot = store.get(alpha)
    assert snapshot.warning is not None
    assert snapshot.warning.kind == "payload"
    assert snapshot.status is not None
    assert (snapshot.status.healthy, snapshot.status.version) == (True, "1.0")  # none applied
    assert store.counters(alpha).events == 1


async def test_a_wrong_token_is_one_error_for_all_and_no_polls(
    real_server: RunningServer,
) -> None:
    store = store_for(ALPHA, BETA, GAMMA)
    settings = settings_for(real_server, token="wrong-token", poll_interval=0.1)
    async with running(settings, store) as engine:
        await wait_until(lambda: all(store.get(g).connection == "error" for g in store.guild_ids))
        await asyncio.sleep(0.5)  # five poll intervals: none goes out after a 401
        assert engine._watchers == {}
    errors = [store.get(g).error for g in store.guild_ids]
    assert {error.kind if error else None for error in errors} == {"auth"}
    assert {store.counters(g).polls for g in store.guild_ids} == {0}


async def test_a_fatal_answer_while_polling_stops_the_polls() -> None:
    alpha, beta = "1001", "1002"
    status = json.dumps({"healthy": True, "version": "polled"}).encode()

    async def handler(conn: Conn) -> None:
        if conn.request.target.startswith(SHARED_PATH):
            await conn.respond(500 if conn.index == 0 else 401)
            return
        await conn.respond(200, status, headers=(("Content-Type", "application/json"),))

    store = store_for(alpha, beta)
    async with RawServer(handler) as server:
        settings = fast_settings(
            server.url, multiplex="auto", backoff_base=0.3, backoff_cap=0.3, poll_interval=0.1
        )
        async with running(settings, store):
            await wait_until(lambda: all(store.counters(g).polls >= 1 for g in (alpha, beta)))
            await wait_until(lambda: store.get(alpha).connection == "error")
            polls = len([r for r in server.requests if not r.target.startswith(SHARED_PATH)])
            await asyncio.sleep(0.5)  # five poll intervals
            after = len([r for r in server.requests if not r.target.startswith(SHARED_PATH)])
    assert after == polls
    error = store.get(beta).error
    assert error is not None
    assert error.kind == "auth"


def _status(event_id: int, guild: str, version: str) -> bytes:
    data = json.dumps({"guild": guild, "healthy": True, "version": version})
    return f"event: status\nid: {event_id}\ndata: {data}\n\n".encode()


# The second connection's first part, each after a first connection that carried all three
# (ids 10-12) and ended: (its events, its ready, whether the missing third guild is handed over).
SECOND_PARTS = {
    # An old server (no "resumed") that did not know id 12: ids at or below it are current.
    "old server, unknown id": (_status(5, "1001", "b") + _status(6, "1002", "b"), {}, True),
    # A newer server says so, whatever the ids look like (here they are above 12).
    "resumed false": (
        _status(100, "1001", "b") + _status(101, "1002", "b"),
        {"resumed": False},
        True,
    ),
    # A replay of what came after 12: silence about the third guild says nothing.
    "resumed true": (_status(13, "1001", "b"), {"resumed": True}, False),
    "old server, replay": (_status(13, "1001", "b"), {}, False),
}


@pytest.mark.parametrize("case", SECOND_PARTS)
async def test_an_unknown_resume_id_gets_current_statuses_and_hands_over_the_missing(
    case: str,
) -> None:
    alpha, beta, gamma = "1001", "1002", "1003"
    events, ready, handed_over = SECOND_PARTS[case]
    connections = 0

    async def handler(conn: Conn) -> None:
        nonlocal connections
        if not conn.request.target.startswith(SHARED_PATH):
            await conn.respond(404)  # the handed-over guild's own stream and polls
            return
        connections += 1
        await conn.head()
        if connections == 1:
            first = b"".join(_status(10 + n, g, "a") for n, g in enumerate((alpha, beta, gamma)))
            await conn.send(first + b'event: ready\ndata: {"guilds": 3}\n\n')
            await conn.close()  # the client resumes from id 12
            return
        frame = json.dumps({"guilds": 2, **ready}).encode()
        await conn.send(events + b"event: ready\ndata: " + frame + b"\n\n")
        await conn.hold()

    store = store_for(alpha, beta, gamma)
    async with RawServer(handler) as server:
        settings = fast_settings(server.url, multiplex="auto", backoff_base=0.01)
        async with running(settings, store) as engine:
            await wait_until(lambda: version(store, alpha) == "b")
            await wait_until(lambda: store.get(alpha).connection == "connected")
            if handed_over:
                await wait_until(lambda: store.get(gamma).connection == "error")
                assert set(engine._watchers) == {gamma}
                error = store.get(gamma).error
                assert error is not None
                assert error.kind == "not_found"
            else:
                assert engine._watchers == {}
                assert store.get(gamma).connection == "connected"
                assert version(store, gamma) == "a"
        shared = [r for r in server.requests if r.target.startswith(SHARED_PATH)]
        assert shared[1].headers["last-event-id"] == "12"
