"""``GET /metrics`` of the reference server over real sockets, checked by promtool."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest

from guildwatch.server._config import ConfigError, config_from_args
from tests.conftest import ServerFactory
from tests.harness import GUILDS, RunningServer
from tests.metrics.test_exposition import value
from tests.metrics.tools import promtool_check
from tests.server.sse import open_stream

ALPHA, BETA = GUILDS[0][0], GUILDS[1][0]


async def _scrape(server: RunningServer, headers: dict[str, str] | None = None) -> str:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{server.url}/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return answer.text


async def test_streams_heartbeats_events_and_refusals_are_counted(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(max_streams_per_token=3)
    await asyncio.to_thread(server.heartbeat, ALPHA)
    async with (
        open_stream(server, ALPHA) as first,
        open_stream(server, ALPHA) as second,
        open_stream(server, BETA) as third,
    ):
        for stream in (first, second, third):
            await stream.next_event()
        text = await _scrape(server)
        assert value(text, "guildwatch_server_open_streams", guild=ALPHA) == 2
        assert value(text, "guildwatch_server_open_streams", guild=BETA) == 1
        assert value(text, "guildwatch_server_open_streams_all_guilds") == 3
        async with httpx.AsyncClient(timeout=10) as client:
            over = await client.get(server.stream_url(ALPHA), headers=server.auth)
            assert over.status_code == 429
            bad = await client.get(server.status_url(ALPHA), headers={"Authorization": "Bearer x"})
            assert bad.status_code == 401
        await asyncio.to_thread(server.heartbeat, ALPHA, "2.0")
        await first.next_event()
        await second.next_event()
        text = await _scrape(server)
    assert value(text, "guildwatch_server_heartbeats_received_total", guild=ALPHA) == 2
    assert value(text, "guildwatch_server_events_sent_total", guild=ALPHA) == 4
    assert value(text, "guildwatch_server_events_sent_total", guild=BETA) == 1
    assert value(text, "guildwatch_server_rate_limited_total") == 1
    assert value(text, "guildwatch_server_auth_failures_total") == 1
    assert server.token not in text
    promtool_check(text)
    # Closed streams go back to 0 (the series stays).
    for _ in range(100):
        text = await _scrape(server)
        if value(text, "guildwatch_server_open_streams_all_guilds") == 0:
            break
        await asyncio.sleep(0.05)
    assert value(text, "guildwatch_server_open_streams", guild=ALPHA) == 0


async def test_a_metrics_token_is_required_once_configured(server_factory: ServerFactory) -> None:
    server = server_factory(metrics_token="scrape-Qx81")
    async with httpx.AsyncClient(timeout=10) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, server.auth):
            answer = await client.get(f"{server.url}/metrics", headers=headers)
            assert answer.status_code == 401
            assert "scrape-Qx81" not in answer.text
    text = await _scrape(server, {"Authorization": "Bearer scrape-Qx81"})
    assert value(text, "guildwatch_server_auth_failures_total") == 3


def _outside_address() -> str | None:
    """This machine's address on its default route (no packet is sent), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            address: str = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


async def test_other_hosts_need_the_metrics_token(server_factory: ServerFactory) -> None:
    address = _outside_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to connect from")
    server = server_factory(host="0.0.0.0")
    url = f"http://{address}:{server.port}/metrics"
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(url)
    assert answer.status_code == 403
    assert "--metrics-token-file" in answer.json()["message"]
    guarded = server_factory(host="0.0.0.0", metrics_token="scrape-Qx81")
    url = f"http://{address}:{guarded.port}/metrics"
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(url, headers={"Authorization": "Bearer scrape-Qx81"})
    assert answer.status_code == 200


def test_metrics_token_comes_from_a_file_or_the_environment(tmp_path: Path) -> None:
    env = {"GUILDWATCH_SERVER_TOKENS": "client"}
    assert config_from_args([], env).metrics_token is None
    from_env = config_from_args([], env | {"GUILDWATCH_SERVER_METRICS_TOKEN": "e1"})
    assert from_env.metrics_token == "e1"
    token_file = tmp_path / "metrics-token"
    token_file.write_text("# for Prometheus\nf1\n")
    from_file = config_from_args(["--metrics-token-file", str(token_file)], env)
    assert from_file.metrics_token == "f1"
    assert "f1" not in repr(from_file)
    token_file.write_text("# nothing\n")
    with pytest.raises(ConfigError, match="holds no token"):
        config_from_args(["--metrics-token-file", str(token_file)], env)


def test_the_command_says_where_metrics_are_and_reads_the_token_from_its_environment(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(subprocess=True, metrics_token="scrape-Qx81")
    answer = httpx.get(f"{server.url}/metrics", timeout=10)
    assert answer.status_code == 401
    headers = {"Authorization": "Bearer scrape-Qx81"}
    assert httpx.get(f"{server.url}/metrics", headers=headers, timeout=10).status_code == 200
    server.stop()
    output = server.runner.output()  # type: ignore[union-attr]
    assert f"metrics at {server.url}/metrics (bearer token required)" in output
    assert "scrape-Qx81" not in output
