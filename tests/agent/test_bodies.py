"""What the sender puts on the wire, read by a real HTTP receiver on loopback: the exact JSON
of the bot-level and per-guild heartbeats, the 404 fallback (remembered), redirects, and a
server that never answers."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from guildwatch.agent import Heartbeat, ShardVitals, Vitals
from guildwatch.agent import _heartbeat as heartbeat_module
from tests.agent.receiver import Receiver, Request, check_bot_body, check_guild_body

TOKEN = "bot-token-" + "s3cr3t" * 4
STARTED = datetime(2026, 11, 22, 13, 58, 12, tzinfo=UTC)
VITALS = Vitals(
    latency=0.0412,
    shards=(ShardVitals(0, True, 0.0412), ShardVitals(1, False, math.nan)),
    shard_count=2,
    guilds={"111111111111111111": 0, "222222222222222222": 1, "333333333333333333": 0},
    state="up",
    started_at=STARTED,
)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


def _no_bot_endpoint(request: Request) -> tuple[int, dict[str, str], bytes]:
    if request.path == "/api/v1/bot/heartbeat":
        return 404, {}, b'{"error": "not_found", "message": "no such route"}'
    return 200, {}, b"{}"


async def test_the_bot_level_body_is_the_protocols(receiver: Receiver) -> None:
    heartbeat = Heartbeat(receiver.url, TOKEN, version="1.3.0", vitals=lambda: VITALS)
    assert await heartbeat.beat()
    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/api/v1/bot/heartbeat")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    body = request.json()
    check_bot_body(body)
    assert body == {
        "version": "1.3.0",
        "startedAt": "2026-11-22T13:58:12Z",
        "state": "up",
        "message": None,
        "shardCount": 2,
        "shards": [
            {"id": 0, "connected": True, "latencyMs": 41.2},
            {"id": 1, "connected": False, "latencyMs": None},
        ],
        "guilds": {"111111111111111111": 0, "222222222222222222": 1, "333333333333333333": 0},
    }
    assert heartbeat.beats == 1
    await heartbeat.aclose()


async def test_a_404_falls_back_to_per_guild_heartbeats_and_is_remembered(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.rule = _no_bot_endpoint
    heartbeat = Heartbeat(receiver.url, TOKEN, version="1.3.0", vitals=lambda: VITALS)
    caplog.set_level(logging.INFO, "guildwatch.agent")
    assert await heartbeat.beat()
    assert receiver.paths()[0] == "/api/v1/bot/heartbeat"
    assert sorted(receiver.paths()[1:]) == [
        f"/api/v1/guilds/{guild}/heartbeat" for guild in sorted(VITALS.guilds)
    ]
    bodies = {r.path.split("/")[4]: r.json() for r in receiver.requests[1:]}
    for body in bodies.values():
        check_guild_body(body)
    assert bodies["111111111111111111"] == {
        "version": "1.3.0",
        "latencyMs": 41.2,
        "shard": {"id": 0, "count": 2, "connected": True},
        "state": "up",
        "message": None,
        "startedAt": "2026-11-22T13:58:12Z",
    }
    assert bodies["222222222222222222"]["state"] == "degraded"
    assert bodies["222222222222222222"]["latencyMs"] is None
    assert heartbeat.using == "guilds"

    receiver.requests.clear()
    assert await heartbeat.beat()
    assert "/api/v1/bot/heartbeat" not in receiver.paths()
    assert len(receiver.paths()) == 3
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1, (
        "the fallback is announced once"
    )
    assert "no bot-level heartbeat" in caplog.records[0].message
    await heartbeat.aclose()


async def test_an_older_server_and_no_guilds_yet_is_a_failure_that_says_why(
    receiver: Receiver,
) -> None:
    receiver.rule = _no_bot_endpoint
    heartbeat = Heartbeat(receiver.url, TOKEN, vitals=lambda: Vitals(state="starting"))
    assert not await heartbeat.beat()
    assert heartbeat.last_error == "per-guild heartbeats, but the bot reports no guilds yet"
    assert receiver.paths() == ["/api/v1/bot/heartbeat"]
    await heartbeat.aclose()


async def test_the_bot_level_endpoint_is_probed_again_after_a_while(receiver: Receiver) -> None:
    receiver.rule = _no_bot_endpoint
    heartbeat = Heartbeat(receiver.url, TOKEN, vitals=lambda: VITALS, reprobe_after=0.0)
    await heartbeat.beat()
    receiver.requests.clear()
    receiver.rule = lambda request: (200, {}, b"{}")  # the server was upgraded
    assert await heartbeat.beat()
    assert receiver.paths() == ["/api/v1/bot/heartbeat"]
    assert heartbeat.using == "bot"
    await heartbeat.aclose()


async def test_endpoint_guilds_never_tries_the_bot_level_one(receiver: Receiver) -> None:
    heartbeat = Heartbeat(receiver.url, TOKEN, vitals=lambda: VITALS, endpoint="guilds")
    assert await heartbeat.beat()
    assert all(path.startswith("/api/v1/guilds/") for path in receiver.paths())
    await heartbeat.aclose()


async def test_a_bot_with_more_guilds_than_one_request_holds_sends_slices(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(heartbeat_module, "MAX_GUILDS_PER_REQUEST", 2)
    heartbeat = Heartbeat(receiver.url, TOKEN, vitals=lambda: VITALS)
    assert await heartbeat.beat()
    bodies = [request.json() for request in receiver.requests]
    assert [len(body["guilds"]) for body in bodies] == [2, 1]
    merged = {guild: shard for body in bodies for guild, shard in body["guilds"].items()}
    assert merged == dict(VITALS.guilds)
    for body in bodies:
        check_bot_body(body)
        assert body["shards"] == bodies[0]["shards"]
    await heartbeat.aclose()


async def test_a_redirect_is_not_followed_so_the_token_stays_put(receiver: Receiver) -> None:
    elsewhere = Receiver()
    await elsewhere.start()
    receiver.rule = lambda request: (307, {"Location": f"{elsewhere.url}{request.path}"}, b"")
    heartbeat = Heartbeat(receiver.url, TOKEN, vitals=lambda: VITALS, endpoint="bot")
    assert not await heartbeat.beat()
    assert heartbeat.last_error is not None
    assert heartbeat.last_error.startswith("307")
    assert elsewhere.requests == []
    await heartbeat.aclose()
    await elsewhere.stop()


async def test_a_server_that_never_answers_costs_one_timeout(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.rule = lambda request: None
    heartbeat = Heartbeat(receiver.url, TOKEN, vitals=lambda: VITALS, timeout=0.2, interval=0.2)
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert not await heartbeat.beat()
    assert loop.time() - began < 2.0
    assert heartbeat.last_error == "no answer in time (timeout)"
    await heartbeat.aclose()


async def test_the_loop_keeps_beating_through_a_slow_server_without_blocking_the_bot(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.rule = lambda request: None
    caplog.set_level(logging.DEBUG)
    ticks = 0

    async def bot_work() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    work = asyncio.create_task(bot_work())
    async with Heartbeat(
        receiver.url, TOKEN, vitals=lambda: VITALS, timeout=0.1, interval=0.1
    ) as heartbeat:
        await receiver.wait_for(3)
        async with asyncio.timeout(5):
            while heartbeat.failures < 3:
                await asyncio.sleep(0.01)
    work.cancel()
    assert ticks > 10, "the bot's own loop kept running"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, "one warning per outage, not per beat"
    assert TOKEN not in caplog.text


async def test_a_broken_vitals_callable_is_counted_not_raised(receiver: Receiver) -> None:
    def broken() -> Vitals:
        raise RuntimeError("cache not ready")

    heartbeat = Heartbeat(receiver.url, TOKEN, vitals=broken)
    assert not await heartbeat.beat()
    assert heartbeat.last_error == "reading the vitals failed (RuntimeError: cache not ready)"
    assert receiver.requests == []

    async def later() -> Vitals:
        return Vitals(state="starting")

    heartbeat = Heartbeat(receiver.url, TOKEN, vitals=later)
    assert await heartbeat.beat()
    assert receiver.requests[0].json()["state"] == "starting"
    await heartbeat.aclose()


async def test_say_overrides_the_state_and_message_until_cleared(receiver: Receiver) -> None:
    heartbeat = Heartbeat(receiver.url, TOKEN, vitals=lambda: VITALS)
    heartbeat.say("maintenance", "deploying v1.3")
    await heartbeat.beat()
    heartbeat.say()
    await heartbeat.beat()
    first, second = (request.json() for request in receiver.requests)
    assert (first["state"], first["message"]) == ("maintenance", "deploying v1.3")
    assert (second["state"], second["message"]) == ("up", None)
    with pytest.raises(ValueError, match="state"):
        heartbeat.say("asleep")  # type: ignore[arg-type]
    await heartbeat.aclose()


def test_the_token_is_not_in_repr_and_bad_tokens_are_named_not_quoted() -> None:
    heartbeat = Heartbeat("http://127.0.0.1:9", TOKEN)
    assert TOKEN not in repr(heartbeat)
    assert TOKEN not in str(vars(heartbeat).get("api"))
    with pytest.raises(ValueError, match="printable ASCII") as caught:
        Heartbeat("http://127.0.0.1:9", "two words")
    assert "two words" not in str(caught.value)
    with pytest.raises(ValueError, match="http"):
        Heartbeat("ftp://example.org", TOKEN)
