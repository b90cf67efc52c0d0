"""The status stream over real sockets: framing, first event, heartbeats, replay, push."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import statistics
import time

import httpx
import pytest

from guildwatch.server import ReferenceServer
from tests.conftest import ServerFactory
from tests.harness import GUILDS, RunningServer, ThreadRunner, wait_until
from tests.server.sse import open_stream

GUILD = GUILDS[0][0]

pytestmark = pytest.mark.both_storages


async def test_byte_level_framing(real_server: RunningServer) -> None:
    headers = {**real_server.auth, "Accept": "text/event-stream"}
    async with (
        httpx.AsyncClient(timeout=10) as client,
        client.stream("GET", real_server.stream_url(GUILD), headers=headers) as response,
    ):
        raw_type = dict(response.headers.raw)[b"content-type"]
        assert raw_type == b"text/event-stream"
        assert "no-cache" in response.headers["cache-control"]
        assert response.headers["x-accel-buffering"] == "no"
        received = b""
        async with asyncio.timeout(10):
            async for chunk in response.aiter_bytes():
                received += chunk
                if b": heartbeat\n\n" in received:
                    break
    assert not received.startswith(b"\xef\xbb\xbf")
    first, _, rest = received.partition(b"\n\n")
    lines = first.split(b"\n")
    assert re.fullmatch(rb"id: \d+", lines[0])
    assert lines[1].startswith(b"data: ")
    assert json.loads(lines[1][6:]) == {"healthy": False, "lastHeartbeat": None, "version": None}
    assert lines[1][6:] == b'{"healthy":false,"lastHeartbeat":null,"version":null}'
    assert lines[2] == b"retry: 100"
    assert len(lines) == 3
    assert not any(line.startswith(b"event:") for line in received.split(b"\n"))
    assert b": heartbeat\n\n" in rest


async def test_first_event_is_current_status(real_server: RunningServer) -> None:
    real_server.heartbeat(GUILD, "2.0.1")
    async with open_stream(real_server, GUILD) as stream:
        first = await stream.next_event()
    status = first.json()
    assert status["healthy"] is True
    assert status["version"] == "2.0.1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", status["lastHeartbeat"])
    assert first.id is not None
    assert first.id.isdigit()
    assert status == real_server.status(GUILD)


async def test_heartbeat_comments_arrive_at_the_configured_interval(
    real_server: RunningServer,
) -> None:
    async with open_stream(real_server, GUILD) as stream:
        await stream.next_event()
        loop = asyncio.get_running_loop()
        started = loop.time()
        comments = [await stream.next_item(timeout=5) for _ in range(3)]
        elapsed = loop.time() - started
    assert all(item.comment == "heartbeat" for item in comments)
    # 3 comments at 0.2 s: well under a second even on a loaded machine.
    assert elapsed < 3


async def test_status_change_is_pushed_to_open_stream(real_server: RunningServer) -> None:
    async with open_stream(real_server, GUILD) as stream:
        first = await stream.next_event()
        await asyncio.to_thread(real_server.heartbeat, GUILD, "3.1.4")
        pushed = await stream.next_event()
    assert pushed.json()["healthy"] is True
    assert pushed.json()["version"] == "3.1.4"
    assert first.id is not None
    assert pushed.id is not None
    assert int(pushed.id) > int(first.id)


async def test_known_last_event_id_replays_only_later_events(real_server: RunningServer) -> None:
    async with open_stream(real_server, GUILD) as stream:
        first = await stream.next_event()
    assert first.id is not None
    real_server.heartbeat(GUILD, "1.0.0")
    real_server.heartbeat(GUILD, "1.0.1")
    async with open_stream(real_server, GUILD, last_event_id=first.id) as stream:
        replayed = [await stream.next_event(), await stream.next_event()]
    assert [event.json()["version"] for event in replayed] == ["1.0.0", "1.0.1"]
    ids = [int(event.id or 0) for event in replayed]
    assert int(first.id) < ids[0] < ids[1]


async def test_known_last_event_id_with_no_change_sends_nothing(
    real_server: RunningServer,
) -> None:
    async with open_stream(real_server, GUILD) as stream:
        first = await stream.next_event()
    async with open_stream(real_server, GUILD, last_event_id=first.id) as stream:
        # Only comments: three heartbeats in a row, no event.
        items = [await stream.next_item(timeout=5) for _ in range(3)]
    assert [item.comment for item in items] == ["heartbeat"] * 3


@pytest.mark.parametrize("last_event_id", ["1", "99999999999999999999", "garbage", ""])
async def test_unknown_last_event_id_gets_current_status(
    real_server: RunningServer, last_event_id: str
) -> None:
    real_server.heartbeat(GUILD, "4.0.0")
    async with open_stream(real_server, GUILD, last_event_id=last_event_id) as stream:
        first = await stream.next_event()
    assert first.json()["version"] == "4.0.0"


async def test_missed_heartbeat_is_pushed_as_offline(server_factory: ServerFactory) -> None:
    server = server_factory(offline_after=0.3)
    server.heartbeat(GUILD, "5.0.0")
    async with open_stream(server, GUILD) as stream:
        online = await stream.next_event()
        assert online.json()["healthy"] is True
        loop = asyncio.get_running_loop()
        started = loop.time()
        offline = await stream.next_event(timeout=10)
        elapsed = loop.time() - started
    assert offline.json() == {**online.json(), "healthy": False}
    # Pushed by a timer at the threshold, not on a later request or heartbeat comment.
    assert elapsed < 2.0


@pytest.mark.sqlite_only
async def test_a_client_too_far_behind_is_dropped(
    server_factory: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="guildwatch.server")
    server = server_factory(queue_size=4)
    async with open_stream(server, GUILD) as stream:
        await stream.next_event()

        def burst(srv: ReferenceServer) -> None:
            # One loop callback: the stream cannot drain in between, so its queue overflows.
            for number in range(20):
                srv.model.heartbeat(GUILD, f"burst-{number}")

        runner = server.runner
        assert isinstance(runner, ThreadRunner)
        await asyncio.to_thread(runner.call, burst)
        rest = await stream.read_to_end()
    assert not [item for item in rest if item.comment is None]
    assert server.status(GUILD)["version"] == "burst-19"
    # One line says why (it used to end silently).
    dropped = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert [(r.levelno, r.getMessage()) for r in dropped] == [
        (logging.WARNING, f"stream for guild {GUILD} dropped: client more than 4 events behind")
    ]


def test_head_on_the_stream_answers_headers_only(real_server: RunningServer) -> None:
    answer = httpx.head(real_server.stream_url(GUILD), headers=real_server.auth, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/event-stream"
    assert answer.content == b""


def test_responses_are_not_held_back_by_nagle(real_server: RunningServer) -> None:
    # Regression: a listening socket without proto=IPPROTO_TCP made asyncio skip TCP_NODELAY,
    # and Nagle + delayed ACK put a 40 ms floor under every response.
    with httpx.Client(headers=real_server.auth, timeout=10) as client:
        client.get(real_server.status_url(GUILD))
        durations = []
        for _ in range(21):
            started = time.perf_counter()
            client.get(real_server.status_url(GUILD))
            durations.append(time.perf_counter() - started)
    assert statistics.median(durations) < 0.03


@pytest.mark.sqlite_only
async def test_a_client_that_stops_reading_is_dropped_with_one_line_and_no_error(
    server_factory: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # A queue deep enough that the socket, not the queue, fills up: the send times out.
    server = server_factory(queue_size=1_000_000, send_timeout=1.0)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    try:
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(
            f"GET /api/v1/guilds/{GUILD}/status/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {server.token}\r\n\r\n".encode()
        )
        assert sock.recv(12) == b"HTTP/1.1 200"

        def burst(srv: ReferenceServer) -> None:
            for number in range(20_000):
                srv.model.heartbeat(GUILD, f"{number:0>90}")

        runner = server.runner
        assert isinstance(runner, ThreadRunner)
        await asyncio.to_thread(runner.call, burst)

        def dropped() -> bool:
            return any("not reading" in record.getMessage() for record in caplog.records)

        await asyncio.to_thread(wait_until, dropped, 20, "the stuck stream to be dropped")
    finally:
        sock.close()
    lines = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert lines == [f"stream for guild {GUILD} dropped: client not reading"]
    # The data and the ping timing out together used to escape as an ASGI error.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
