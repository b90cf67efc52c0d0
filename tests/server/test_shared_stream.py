"""The shared stream (``GET /api/v1/guilds/status/stream``) over real sockets, on both stores.

docs/protocol.md, "every guild on one stream": ``event: status`` with a ``guild`` field and ids
across guilds, the first part (current statuses or the replay of a resume) closed by ``event:
ready``, ``event: gone`` for guilds not (or no longer) carried, one stream towards the limit,
bounded buffers for slow readers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis.asyncio as redis

from tests.conftest import ServerFactory
from tests.harness import GUILDS, RedisProcess, RunningServer
from tests.metrics.test_exposition import value
from tests.metrics.tools import promtool_check
from tests.server.conftest import redis_prefix
from tests.server.sse import SseItem, SseReader, open_stream

ALPHA, BETA, GAMMA = (guild_id for guild_id, _ in GUILDS)
ALL = {ALPHA, BETA, GAMMA}
PATH = "/api/v1/guilds/status/stream"

pytestmark = pytest.mark.both_storages


def shared_url(server: RunningServer, *guilds: str) -> str:
    query = "&".join(f"guild={guild}" for guild in guilds)
    return f"{server.url}{PATH}" + (f"?{query}" if query else "")


async def first_part(stream: SseReader, timeout: float = 10.0) -> tuple[list[SseItem], SseItem]:
    """The events before ``ready`` (comments skipped), and the ``ready`` itself."""
    events: list[SseItem] = []
    async with asyncio.timeout(timeout):
        while True:
            item = await stream.next_event(timeout)
            if item.event == "ready":
                return events, item
            events.append(item)


def ids(events: list[SseItem]) -> list[int]:
    return [int(event.id or 0) for event in events]


def bot_beat(guilds: list[str], version: str = "7.0.0") -> dict[str, Any]:
    return {
        "version": version,
        "shards": [{"id": 0, "latencyMs": 40}],
        "guilds": dict.fromkeys(guilds, 0),
    }


def post_bot(server: RunningServer, body: dict[str, Any]) -> None:
    answer = httpx.post(
        f"{server.url}/api/v1/bot/heartbeat", json=body, headers=server.bot_auth, timeout=120
    )
    assert answer.status_code == 200, answer.text


async def scrape(server: RunningServer) -> str:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{server.url}/metrics")
    assert answer.status_code == 200, answer.text
    return answer.text


async def events_for(stream: SseReader, count: int, timeout: float = 10.0) -> list[SseItem]:
    """The next ``count`` events (comments skipped)."""
    return [await stream.next_event(timeout) for _ in range(count)]


async def events_within(stream: SseReader, seconds: float) -> list[SseItem]:
    """The events (not comments) a stream sends in the next ``seconds``."""
    events: list[SseItem] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            item = await stream.next_item(timeout=left)
        except TimeoutError:
            break
        if item.comment is None:
            events.append(item)
    return events


# -- first part, resume --------------------------------------------------------------------


async def test_a_fresh_connection_gets_every_status_in_id_order_then_ready(
    real_server: RunningServer,
) -> None:
    # BETA, then ALPHA: their events are newer than GAMMA's initial one.
    real_server.heartbeat(BETA, "2.0.0")
    real_server.heartbeat(ALPHA, "1.0.0")
    async with open_stream(real_server, "", url=shared_url(real_server)) as stream:
        statuses, ready = await first_part(stream)
    assert [event.event for event in statuses] == ["status"] * 3
    assert [event.json()["guild"] for event in statuses] == [GAMMA, BETA, ALPHA]
    assert ids(statuses) == sorted(ids(statuses))
    assert len(set(ids(statuses))) == 3
    assert statuses[0].retry == 100  # retry: with the first event, once
    assert [event.retry for event in statuses[1:]] == [None, None]
    by_guild = {event.json()["guild"]: event.json() for event in statuses}
    for guild_id in ALL:
        assert {k: v for k, v in by_guild[guild_id].items() if k != "guild"} == (
            real_server.status(guild_id)
        )
    assert ready.id is None
    assert ready.json() == {"guilds": 3, "resumed": False}


async def test_frames_are_named_with_the_guild_first_and_one_data_line(
    real_server: RunningServer,
) -> None:
    headers = {**real_server.auth, "Accept": "text/event-stream"}
    async with (
        httpx.AsyncClient(timeout=10) as client,
        client.stream("GET", shared_url(real_server, ALPHA), headers=headers) as response,
    ):
        assert dict(response.headers.raw)[b"content-type"] == b"text/event-stream"
        received = b""
        async with asyncio.timeout(10):
            async for chunk in response.aiter_bytes():
                received += chunk
                if b"event: ready" in received:
                    break
    status, ready = received.split(b"\n\n")[:2]
    lines = status.split(b"\n")
    assert lines[0] == b"event: status"
    assert re.fullmatch(rb"id: \d+", lines[1])
    assert lines[2] == (
        b'data: {"guild":"' + ALPHA.encode() + b'","healthy":false,"lastHeartbeat":null,'
        b'"version":null}'
    )
    assert lines[3] == b"retry: 100"
    assert ready == b'event: ready\ndata: {"guilds":1,"resumed":false}'


async def test_a_resume_sends_only_later_events_of_every_guild(real_server: RunningServer) -> None:
    async with open_stream(real_server, "", url=shared_url(real_server)) as stream:
        statuses, _ = await first_part(stream)
    last = statuses[-1].id
    for guild_id, version in ((ALPHA, "1.1"), (BETA, "2.1"), (ALPHA, "1.2")):
        real_server.heartbeat(guild_id, version)
    async with open_stream(
        real_server, "", url=shared_url(real_server), last_event_id=last
    ) as stream:
        replayed, ready = await first_part(stream)
        # Nothing more follows: the replay was everything.
        assert await events_within(stream, 0.6) == []
    assert [(e.json()["guild"], e.json()["version"]) for e in replayed] == [
        (ALPHA, "1.1"),
        (BETA, "2.1"),
        (ALPHA, "1.2"),
    ]
    assert ids(replayed) == sorted(ids(replayed))
    assert min(ids(replayed)) > int(last or 0)
    assert ready.json() == {"guilds": 3, "resumed": True}


async def test_a_resume_with_nothing_new_sends_ready_only(real_server: RunningServer) -> None:
    async with open_stream(real_server, "", url=shared_url(real_server)) as stream:
        statuses, _ = await first_part(stream)
    async with open_stream(
        real_server, "", url=shared_url(real_server), last_event_id=statuses[-1].id
    ) as stream:
        replayed, ready = await first_part(stream)
    assert replayed == []
    assert ready.json() == {"guilds": 3, "resumed": True}


@pytest.mark.parametrize("last_event_id", ["1", "99999999999999999999", "garbage", ""])
async def test_an_unknown_last_event_id_gets_the_whole_first_part(
    real_server: RunningServer, last_event_id: str
) -> None:
    real_server.heartbeat(ALPHA, "4.0.0")
    async with open_stream(
        real_server, "", url=shared_url(real_server), last_event_id=last_event_id
    ) as stream:
        statuses, ready = await first_part(stream)
    assert {event.json()["guild"] for event in statuses} == ALL
    assert ready.json() == {"guilds": 3, "resumed": False}


async def test_a_resume_older_than_the_history_gets_the_whole_first_part(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(shared_history=4, fanout_maxlen=4)
    async with open_stream(server, "", url=shared_url(server)) as stream:
        statuses, _ = await first_part(stream)
    # Redis trims "~" by whole nodes of 100 entries: well past that.
    for number in range(250):
        server.heartbeat(ALPHA, f"1.{number}")
    async with open_stream(
        server, "", url=shared_url(server), last_event_id=statuses[0].id
    ) as stream:
        again, _ = await first_part(stream)
    assert [event.json()["guild"] for event in again] == [BETA, GAMMA, ALPHA]
    assert again[-1].json()["version"] == "1.249"


# -- which guilds ----------------------------------------------------------------------------


def restricted(server_factory: ServerFactory, allowed: frozenset[str]) -> tuple[RunningServer, str]:
    limited = "limited-9f2a41"
    server = server_factory(tokens={"full-0b7c3e": None, limited: allowed})
    return server, limited


async def test_a_subset_gets_gone_for_forbidden_and_unknown_ids(
    server_factory: ServerFactory,
) -> None:
    server, limited = restricted(server_factory, frozenset({ALPHA, "444"}))
    url = shared_url(server, ALPHA, BETA, "444", ALPHA)
    async with open_stream(server, "", url=url, token=limited) as stream:
        events, ready = await first_part(stream)
    gone = [event for event in events if event.event == "gone"]
    assert [event.json()["guild"] for event in gone] == [BETA, "444"]
    assert [event.json()["reason"] for event in gone] == ["forbidden", "not_found"]
    assert all(event.id is None and event.json()["message"] for event in gone)
    statuses = [event for event in events if event.event == "status"]
    assert [event.json()["guild"] for event in statuses] == [ALPHA]
    assert ready.json() == {"guilds": 1, "resumed": False}
    # An unrestricted token: the known ones are carried, the unknown one is not found.
    async with open_stream(server, "", url=shared_url(server, BETA, "555")) as stream:
        events, ready = await first_part(stream)
    assert [(e.event, e.json()["guild"]) for e in events] == [("gone", "555"), ("status", BETA)]
    assert ready.json() == {"guilds": 1, "resumed": False}


async def test_a_subset_carries_only_its_guilds(real_server: RunningServer) -> None:
    async with open_stream(real_server, "", url=shared_url(real_server, BETA)) as stream:
        await first_part(stream)
        await asyncio.to_thread(real_server.heartbeat, ALPHA, "1.0")
        await asyncio.to_thread(real_server.heartbeat, BETA, "2.0")
        pushed = await stream.next_event()
    assert (pushed.json()["guild"], pushed.json()["version"]) == (BETA, "2.0")


async def test_all_guilds_means_the_tokens_guilds_including_ones_that_appear_later(
    server_factory: ServerFactory,
) -> None:
    server, limited = restricted(server_factory, frozenset({ALPHA, "444"}))
    async with open_stream(server, "", url=shared_url(server), token=limited) as stream:
        events, ready = await first_part(stream)
        assert [event.json()["guild"] for event in events] == [ALPHA]
        assert ready.json() == {"guilds": 1, "resumed": False}
        await asyncio.to_thread(server.heartbeat, BETA, "2.0")
        await asyncio.to_thread(server.heartbeat, "444", "4.0")  # a new guild, allowed
        await asyncio.to_thread(server.heartbeat, "555", "5.0")  # a new guild, not allowed
        await asyncio.to_thread(server.heartbeat, ALPHA, "1.0")
        pushed = await events_for(stream, 2)
        if pushed[0].json()["version"] is None:
            # The in-process model first emits a new guild's "never seen", then the heartbeat.
            pushed = [*pushed[1:], await stream.next_event()]
        assert await events_within(stream, 0.6) == []
    assert [(e.json()["guild"], e.json()["version"]) for e in pushed] == [
        ("444", "4.0"),
        (ALPHA, "1.0"),
    ]


@pytest.mark.parametrize(
    "query",
    ["guild=", "guild=bad!id", "guild=" + "x" * 101, "&".join(f"guild=g{n}" for n in range(1001))],
)
async def test_a_malformed_or_too_long_guild_list_is_a_400(
    real_server: RunningServer, query: str
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{real_server.url}{PATH}?{query}", headers=real_server.auth)
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"


async def test_a_thousand_ids_are_accepted(real_server: RunningServer) -> None:
    wanted = [f"g{n}" for n in range(999)]
    url = shared_url(real_server, *wanted, ALPHA)
    async with open_stream(real_server, "", url=url) as stream:
        events, ready = await first_part(stream)
    assert [event.event for event in events] == ["gone"] * 999 + ["status"]
    assert ready.json() == {"guilds": 1, "resumed": False}


async def test_a_wrong_token_is_a_401(real_server: RunningServer) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(shared_url(real_server), headers={"Authorization": "Bearer x"})
        missing = await client.get(shared_url(real_server, ALPHA))
    assert answer.status_code == missing.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")


async def test_it_counts_as_one_stream_towards_the_limit(server_factory: ServerFactory) -> None:
    server = server_factory(max_streams_per_token=2)
    async with open_stream(server, "", url=shared_url(server)) as shared:
        await first_part(shared)
        async with open_stream(server, ALPHA) as single:
            await single.next_event()
            async with httpx.AsyncClient(timeout=10) as client:
                over = await client.get(shared_url(server), headers=server.auth)
                also = await client.get(server.stream_url(BETA), headers=server.auth)
    assert over.status_code == also.status_code == 429
    assert over.headers["retry-after"] == "5"


# -- live events -----------------------------------------------------------------------------


async def test_heartbeats_of_several_guilds_and_a_bot_heartbeat_are_pushed(
    real_server: RunningServer,
) -> None:
    async with open_stream(real_server, "", url=shared_url(real_server)) as stream:
        statuses, _ = await first_part(stream)
        await asyncio.to_thread(real_server.heartbeat, BETA, "2.0")
        await asyncio.to_thread(real_server.heartbeat, ALPHA, "1.0")
        single = await events_for(stream, 2)
        await asyncio.to_thread(post_bot, real_server, bot_beat([ALPHA, BETA, GAMMA, "444"]))
        batch = await events_for(stream, 4)
        # Nothing twice, nothing else.
        assert await events_within(stream, 0.6) == []
    assert [(e.json()["guild"], e.json()["version"]) for e in single] == [
        (BETA, "2.0"),
        (ALPHA, "1.0"),
    ]
    assert {e.json()["guild"] for e in batch} == {*ALL, "444"}
    assert all(e.json()["version"] == "7.0.0" and e.json()["latencyMs"] == 40 for e in batch)
    everything = statuses + single + batch
    assert ids(everything) == sorted(set(ids(everything)))


async def test_open_shared_streams_and_their_events_are_counted(
    real_server: RunningServer,
) -> None:
    async with open_stream(real_server, "", url=shared_url(real_server)) as stream:
        await first_part(stream)
        await asyncio.to_thread(real_server.heartbeat, ALPHA, "1.0")
        await stream.next_event()
        text = await scrape(real_server)
    assert value(text, "guildwatch_server_open_shared_streams") == 1
    assert value(text, "guildwatch_server_shared_events_sent_total") == 4
    assert value(text, "guildwatch_server_shared_stream_pending_max") == 0
    promtool_check(text)
    for _ in range(100):
        text = await scrape(real_server)
        if value(text, "guildwatch_server_open_shared_streams") == 0:
            break
        await asyncio.sleep(0.05)
    assert value(text, "guildwatch_server_open_shared_streams") == 0


# -- faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "reason"), [(403, "forbidden"), (404, "not_found")])
async def test_a_guild_forbidden_or_removed_mid_stream_is_gone(
    real_server: RunningServer, status: int, reason: str
) -> None:
    async with open_stream(real_server, "", url=shared_url(real_server)) as stream:
        await first_part(stream)
        await asyncio.to_thread(real_server.set_fault, ALPHA, status=status)
        gone = await stream.next_event()
        await asyncio.to_thread(real_server.heartbeat, ALPHA, "1.0")
        await asyncio.to_thread(real_server.heartbeat, BETA, "2.0")
        after = await stream.next_event()
    assert (gone.event, gone.id) == ("gone", None)
    assert gone.json()["guild"] == ALPHA
    assert gone.json()["reason"] == reason
    assert (after.json()["guild"], after.json()["version"]) == (BETA, "2.0")
    # A new stream does not carry it; one that asks for it is told why.
    async with open_stream(real_server, "", url=shared_url(real_server)) as stream:
        statuses, ready = await first_part(stream)
    assert {event.json()["guild"] for event in statuses} == {BETA, GAMMA}
    assert ready.json() == {"guilds": 2, "resumed": False}
    async with open_stream(real_server, "", url=shared_url(real_server, ALPHA)) as stream:
        events, ready = await first_part(stream)
    assert [(e.event, e.json()["reason"]) for e in events] == [("gone", reason)]
    assert ready.json() == {"guilds": 0, "resumed": False}


async def test_other_guild_status_faults_leave_the_shared_stream_alone(
    real_server: RunningServer,
) -> None:
    async with open_stream(real_server, "", url=shared_url(real_server)) as stream:
        await first_part(stream)
        await asyncio.to_thread(real_server.set_fault, ALPHA, status=503, retry_after=1)
        await asyncio.to_thread(real_server.heartbeat, ALPHA, "1.0")
        pushed = await stream.next_event()
    assert (pushed.event, pushed.json()["guild"]) == ("status", ALPHA)


@pytest.mark.parametrize(
    ("malformed", "data"),
    [
        ("json", '{"guild":"%s","healthy": tru'),
        ("type", '{"guild":"%s","healthy":"yes","lastHeartbeat":null,"version":null}'),
    ],
)
async def test_a_malformed_fault_spoils_that_guilds_events_only(
    real_server: RunningServer, malformed: str, data: str
) -> None:
    async with open_stream(real_server, "", url=shared_url(real_server)) as stream:
        await first_part(stream)
        await asyncio.to_thread(real_server.set_fault, ALPHA, malformed=malformed)
        await asyncio.to_thread(real_server.heartbeat, ALPHA, "1.0")
        await asyncio.to_thread(real_server.heartbeat, BETA, "2.0")
        spoiled, fine = await events_for(stream, 2)
    assert spoiled.data == data % ALPHA
    assert spoiled.id is not None
    assert fine.json()["guild"] == BETA
    assert fine.json()["version"] == "2.0"


@pytest.mark.parametrize("status", [404, 405, 501])
async def test_a_shared_status_fault_answers_as_a_server_without_it(
    real_server: RunningServer, status: int
) -> None:
    real_server.set_fault("_shared", status=status)
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(shared_url(real_server), headers=real_server.auth)
        async with client.stream(
            "GET", real_server.stream_url(ALPHA), headers=real_server.auth
        ) as single:
            assert single.status_code == 200  # the per-guild streams are still there
    assert answer.status_code == status
    assert answer.json()["error"] == "injected"


async def test_a_shared_503_ends_open_streams_and_answers_with_retry_after(
    real_server: RunningServer,
) -> None:
    async with open_stream(real_server, "", url=shared_url(real_server)) as stream:
        await first_part(stream)
        await asyncio.to_thread(real_server.set_fault, "_shared", status=503, retry_after=2)
        rest = await stream.read_to_end()
    assert all(item.comment is not None for item in rest)
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(shared_url(real_server), headers=real_server.auth)
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "2"


async def test_a_shared_stall_sends_nothing_until_healed(real_server: RunningServer) -> None:
    async with open_stream(real_server, "", url=shared_url(real_server)) as open_one:
        await first_part(open_one)
        await asyncio.to_thread(real_server.set_fault, "_shared", stall=True)
        await open_one.until_silent(quiet=1.0)
        async with httpx.AsyncClient(timeout=10) as client:
            request = client.stream("GET", shared_url(real_server), headers=real_server.auth)
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(1.0), request:
                    pass
        await asyncio.to_thread(real_server.heartbeat, ALPHA, "1.0")
        with pytest.raises(TimeoutError):
            await open_one.next_item(timeout=1.0)
        await asyncio.to_thread(real_server.heal, "_shared")
        rest = await open_one.read_to_end()
    assert all(item.comment == "heartbeat" for item in rest)
    async with open_stream(real_server, "", url=shared_url(real_server)) as stream:
        statuses, _ = await first_part(stream)
    assert len(statuses) == 3


async def test_a_shared_drop_after_ends_the_stream_after_n_status_events(
    real_server: RunningServer,
) -> None:
    real_server.set_fault("_shared", drop_after=4)
    async with open_stream(real_server, "", url=shared_url(real_server)) as stream:
        statuses, _ = await first_part(stream)
        await asyncio.to_thread(real_server.heartbeat, ALPHA, "1.0")
        fourth = await stream.next_event()
        rest = await stream.read_to_end()
    assert len(statuses) == 3
    assert fourth.json()["version"] == "1.0"
    assert all(item.comment is not None for item in rest)


async def test_a_shared_content_type_fault_answers_a_login_page(
    real_server: RunningServer,
) -> None:
    real_server.set_fault("_shared", content_type="text/html")
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(shared_url(real_server), headers=real_server.auth)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html"
    assert b"log in" in answer.content


# -- slow readers, size ------------------------------------------------------------------------


def _open_raw(server: RunningServer) -> socket.socket:
    """A shared stream on a plain socket with a tiny receive buffer, headers read."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(
        f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 200"), head
    return sock


async def test_a_reader_that_stops_is_dropped_with_one_line_and_bounded_buffers(
    server_factory: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="guildwatch.server")
    guilds = [f"slow{n}" for n in range(2000)]
    server = server_factory(send_timeout=2.0)
    post_bot(server, bot_beat(guilds, "0"))
    bound = 64 + 3 + len(guilds)  # queue_size + every known guild
    sock = await asyncio.to_thread(_open_raw, server)
    try:
        peak = 0.0
        dropped = False
        deadline = time.monotonic() + 60
        number = 0
        # Rounds of 2,000 events each until the server gives up on the reader that reads nothing.
        while not dropped:
            assert time.monotonic() < deadline, "the reader was never dropped"
            number += 1
            await asyncio.to_thread(post_bot, server, bot_beat(guilds, f"{number}"))
            text = await scrape(server)
            peak = max(peak, value(text, "guildwatch_server_shared_stream_pending_max") or 0)
            dropped = (value(text, "guildwatch_server_shared_streams_dropped_total") or 0) > 0
        assert number > 2  # the kernel's buffers took some rounds before the queue grew
        assert 0 < peak <= bound
        text = await scrape(server)
        assert value(text, "guildwatch_server_open_shared_streams") == 0
        # The connection was closed: what is left on the wire ends.
        sock.settimeout(10)
        while await asyncio.to_thread(sock.recv, 65536):
            pass
    finally:
        sock.close()
    lines = [r.getMessage() for r in caplog.records if "shared stream dropped" in r.getMessage()]
    assert lines == [f"shared stream dropped: client more than {bound} events behind"]
    # Nothing else: the data and the ping send timing out together is no ASGI error either.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_healthy_reader_lives_through_a_whole_round(real_server: RunningServer) -> None:
    guilds = [f"round{n}" for n in range(5000)]
    async with open_stream(real_server, "", url=shared_url(real_server)) as stream:
        await first_part(stream)
        # One loop callback pushes all 5,000 events: far past queue_size, within the bound.
        await asyncio.to_thread(post_bot, real_server, bot_beat(guilds))
        pushed = await events_for(stream, 5000, timeout=60)
    assert {event.json()["guild"] for event in pushed} == set(guilds)


async def test_a_first_part_of_100000_guilds_arrives_whole(real_server: RunningServer) -> None:
    guilds = [f"{n:018d}" for n in range(1, 100_001)]
    started = time.perf_counter()
    await asyncio.to_thread(post_bot, real_server, bot_beat(guilds))
    posted = time.perf_counter()
    headers = {**real_server.auth, "Accept": "text/event-stream"}
    frames: list[bytes] = []
    chunks = 0
    async with (
        httpx.AsyncClient(timeout=120) as client,
        client.stream("GET", shared_url(real_server), headers=headers) as response,
    ):
        assert response.status_code == 200
        buffer = b""
        async with asyncio.timeout(120):
            async for chunk in response.aiter_raw():
                chunks += 1
                buffer += chunk
                *done, buffer = buffer.split(b"\n\n")
                frames += [frame for frame in done if not frame.startswith(b":")]
                if frames and frames[-1].startswith(b"event: ready"):
                    break
    finished = time.perf_counter()
    print(
        f"100,000-guild bot heartbeat {posted - started:.2f} s; first part of "
        f"{len(frames) - 1} statuses {finished - posted:.2f} s in {chunks} chunks"
    )
    assert frames[-1] == b'event: ready\ndata: {"guilds":100003,"resumed":false}'
    statuses = frames[:-1]
    assert len(statuses) == 100_003
    event_ids = [int(frame.split(b"\n")[1][4:]) for frame in statuses]
    assert event_ids == sorted(set(event_ids))
    carried = {json.loads(frame.split(b"\n")[2][6:])["guild"] for frame in statuses}
    assert carried == {*guilds, *ALL}
    assert chunks < 100_003 / 10  # joined into chunks, not one send per event


@pytest.mark.sqlite_only
async def test_on_redis_guilds_without_a_current_entry_are_read_from_their_own_stream(
    server_factory: ServerFactory, redis_server: RedisProcess
) -> None:
    server = server_factory(redis=redis_server.url, redis_prefix=redis_prefix())
    server.heartbeat(ALPHA, "1.0")
    async with open_stream(server, "", url=shared_url(server)) as stream:
        before, _ = await first_part(stream)
    # As a server that did not keep the ``current`` hash left it.
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        await client.hdel(f"{server.config.redis_prefix}current", ALPHA, GAMMA)
    finally:
        await client.aclose()
    async with open_stream(server, "", url=shared_url(server)) as stream:
        after, ready = await first_part(stream)
    assert [(e.id, e.data) for e in after] == [(e.id, e.data) for e in before]
    assert ready.json() == {"guilds": 3, "resumed": False}


# -- several replicas on one Redis -----------------------------------------------------------


Replicas = Callable[..., list[RunningServer]]


@pytest.fixture
def replicas(server_factory: ServerFactory, redis_server: RedisProcess) -> Replicas:
    """``replicas(n)``: n ``guildwatch-server`` processes on one Redis prefix and tokens."""

    def start(count: int, **overrides: Any) -> list[RunningServer]:
        first = server_factory(
            subprocess=True, redis=redis_server.url, redis_prefix=redis_prefix(), **overrides
        )
        rest = [
            server_factory(
                subprocess=True,
                redis=first.config.redis,
                redis_prefix=first.config.redis_prefix,
                tokens=first.config.tokens,
                bot_tokens=first.config.bot_tokens,
                **overrides,
            )
            for _ in range(count - 1)
        ]
        return [first, *rest]

    return start


@pytest.mark.sqlite_only
async def test_replicas_share_one_shared_stream_truth(replicas: Replicas) -> None:
    one, two = replicas(2)
    async with open_stream(two, "", url=shared_url(two)) as stream:
        statuses, ready = await first_part(stream)
        assert ready.json() == {"guilds": 3, "resumed": False}
        await asyncio.to_thread(one.heartbeat, ALPHA, "1.0")
        await asyncio.to_thread(post_bot, one, bot_beat([BETA, "444"], "2.0"))
        pushed = await events_for(stream, 3)
    assert [(e.json()["guild"], e.json()["version"]) for e in pushed[:1]] == [(ALPHA, "1.0")]
    assert {e.json()["guild"] for e in pushed[1:]} == {BETA, "444"}
    await asyncio.to_thread(one.heartbeat, GAMMA, "3.0")
    # Resume on the other replica: only what came after the last id seen on replica 2.
    async with open_stream(one, "", url=shared_url(one), last_event_id=pushed[-1].id) as stream:
        replayed, ready = await first_part(stream)
    assert [(e.json()["guild"], e.json()["version"]) for e in replayed] == [(GAMMA, "3.0")]
    assert ready.json() == {"guilds": 4, "resumed": True}
    # A fresh connection on replica 1 has every guild, each with the id that set it.
    async with open_stream(one, "", url=shared_url(one)) as stream:
        fresh, _ = await first_part(stream)
    latest = {e.json()["guild"]: e.id for e in statuses + pushed + replayed}
    assert {e.json()["guild"]: e.id for e in fresh} == latest


@pytest.mark.sqlite_only
async def test_hypercorn_serves_the_shared_stream_over_http2(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(http2=True)
    headers = {**server.auth, "Accept": "text/event-stream"}
    async with (
        httpx.AsyncClient(http1=False, http2=True, timeout=10) as client,
        client.stream("GET", shared_url(server), headers=headers) as response,
    ):
        assert response.http_version == "HTTP/2"
        assert response.headers["content-type"] == "text/event-stream"
        stream = SseReader(response)
        try:
            statuses, ready = await first_part(stream)
            await asyncio.to_thread(server.heartbeat, BETA, "2.0")
            pushed = await stream.next_event()
        finally:
            await stream.close()
    assert {event.json()["guild"] for event in statuses} == ALL
    assert ready.json() == {"guilds": 3, "resumed": False}
    assert (pushed.json()["guild"], pushed.json()["version"]) == (BETA, "2.0")
