"""Fault injection, driven over HTTP exactly as a test in another process would."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.harness import GUILDS, RunningServer
from tests.server.sse import SseReader, open_stream

GUILD = GUILDS[0][0]


async def test_drop_after_ends_the_stream_after_n_events(real_server: RunningServer) -> None:
    real_server.set_fault(GUILD, drop_after=2)
    async with open_stream(real_server, GUILD) as stream:
        await stream.next_event()
        await asyncio.to_thread(real_server.heartbeat, GUILD, "9.9.9")
        second = await stream.next_event()
        with pytest.raises(EOFError):
            await stream.next_event()
    assert second.json()["version"] == "9.9.9"


async def _read_until_eof(stream: SseReader, most: int = 50) -> None:
    for _ in range(most):
        await stream.next_item()


async def test_drop_after_zero_drops_open_streams_and_new_ones(real_server: RunningServer) -> None:
    async with open_stream(real_server, GUILD) as stream:
        await stream.next_event()
        await asyncio.to_thread(real_server.set_fault, GUILD, drop_after=0)
        # A heartbeat comment already on its way may arrive before the drop: read on to EOF.
        with pytest.raises(EOFError):
            await _read_until_eof(stream)
    async with open_stream(real_server, GUILD) as stream:
        with pytest.raises(EOFError):
            await stream.next_item()
    real_server.heal(GUILD)
    async with open_stream(real_server, GUILD) as stream:
        assert (await stream.next_event()).json()["healthy"] is False


async def test_stall_sends_no_bytes_not_even_headers(real_server: RunningServer) -> None:
    real_server.set_fault(GUILD, stall=True)
    async with httpx.AsyncClient(timeout=10) as client:
        request = client.stream("GET", real_server.stream_url(GUILD), headers=real_server.auth)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0), request:
                pass
        real_server.heal(GUILD)
        async with (
            asyncio.timeout(10),
            client.stream("GET", real_server.stream_url(GUILD), headers=real_server.auth) as ok,
        ):
            assert ok.status_code == 200


async def test_stall_silences_an_open_stream_and_heal_ends_it(real_server: RunningServer) -> None:
    async with open_stream(real_server, GUILD) as stream:
        await stream.next_event()
        await asyncio.to_thread(real_server.set_fault, GUILD, stall=True)
        # Whatever was already on the wire arrives, then silence.
        await stream.until_silent(quiet=1.0)
        await asyncio.to_thread(real_server.heartbeat, GUILD, "1.0.0")
        with pytest.raises(TimeoutError):
            await stream.next_item(timeout=1.0)
        await asyncio.to_thread(real_server.heal, GUILD)
        # The stream ends (a heartbeat comment may slip out first; no event does).
        rest = await stream.read_to_end()
        assert all(item.comment == "heartbeat" for item in rest)


@pytest.mark.parametrize(
    ("malformed", "data"),
    [
        (True, '{"healthy": tru'),
        ("type", '{"healthy":"yes","lastHeartbeat":null,"version":null}'),
    ],
)
async def test_malformed_events(real_server: RunningServer, malformed: object, data: str) -> None:
    real_server.set_fault(GUILD, malformed=malformed)
    async with open_stream(real_server, GUILD) as stream:
        first = await stream.next_event()
        assert first.data == data
        assert first.id is not None
        await asyncio.to_thread(real_server.heartbeat, GUILD)
        assert (await stream.next_event()).data == data
        await asyncio.to_thread(real_server.heal, GUILD)
        await asyncio.to_thread(real_server.heartbeat, GUILD, "2.0.0")
        assert (await stream.next_event()).json()["version"] == "2.0.0"


async def test_status_fault_answers_with_retry_after_and_ends_open_streams(
    real_server: RunningServer,
) -> None:
    async with open_stream(real_server, GUILD) as stream:
        await stream.next_event()
        await asyncio.to_thread(real_server.set_fault, GUILD, status=503, retry_after=2)
        with pytest.raises(EOFError):
            await _read_until_eof(stream)
    for url in (real_server.stream_url(GUILD), real_server.status_url(GUILD)):
        answer = httpx.get(url, headers=real_server.auth, timeout=10)
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "2"
        assert answer.json()["error"] == "injected"
    real_server.heal(GUILD)
    assert real_server.status(GUILD)["healthy"] is False


def test_status_204_has_no_body(real_server: RunningServer) -> None:
    real_server.set_fault(GUILD, status=204)
    answer = httpx.get(real_server.stream_url(GUILD), headers=real_server.auth, timeout=10)
    assert answer.status_code == 204
    assert answer.content == b""


def test_content_type_fault_serves_a_portal_page(real_server: RunningServer) -> None:
    real_server.set_fault(GUILD, content_type="text/html")
    answer = httpx.get(real_server.stream_url(GUILD), headers=real_server.auth, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html"
    assert "<html>" in answer.text


def test_faults_are_per_guild(real_server: RunningServer) -> None:
    real_server.set_fault(GUILD, status=500)
    other = GUILDS[1][0]
    assert httpx.get(real_server.status_url(other), headers=real_server.auth).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'{"nope": 1}',
        b'{"stall": "yes"}',
        b'{"status": 302}',
        b'{"status": 700}',
        b'{"drop_after": -1}',
        b'{"drop_after": true}',
        b'{"malformed": "html"}',
        b'{"content_type": ""}',
        b"{not json",
    ],
)
def test_bad_fault_bodies_are_422(real_server: RunningServer, body: bytes) -> None:
    answer = httpx.post(
        f"{real_server.url}/api/v1/_faults/{GUILD}",
        content=body,
        headers=real_server.bot_auth,
        timeout=10,
    )
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_body"
    assert real_server.status(GUILD)["healthy"] is False


def test_fault_endpoint_needs_a_bot_token(real_server: RunningServer) -> None:
    url = f"{real_server.url}/api/v1/_faults/{GUILD}"
    answer = httpx.post(url, json={"stall": True}, headers=real_server.auth, timeout=10)
    assert answer.status_code == 401


def test_fault_endpoint_is_404_without_the_flag(server_factory: ServerFactory) -> None:
    server = server_factory(faults=False)
    url = f"{server.url}/api/v1/_faults/{GUILD}"
    answer = httpx.post(url, json={"stall": True}, headers=server.bot_auth, timeout=10)
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"


async def test_stalled_request_gets_503_when_the_server_stops(
    server_factory: ServerFactory,
) -> None:
    server = server_factory()
    server.set_fault(GUILD, stall=True)
    async with httpx.AsyncClient(timeout=10) as client:
        request = asyncio.create_task(client.get(server.stream_url(GUILD), headers=server.auth))
        done, _ = await asyncio.wait({request}, timeout=0.5)
        assert not done  # stalled: no answer yet
        await asyncio.to_thread(server.stop)
        answer = await asyncio.wait_for(request, 10)
    assert answer.status_code == 503
    assert answer.json()["error"] == "stopping"
