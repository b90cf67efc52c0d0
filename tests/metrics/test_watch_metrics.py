"""``guildwatch --watch --metrics``: the installed command against the real server, scraped by
curl-like HTTP, checked by promtool, and scraped by a real Prometheus.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.conftest import Run, assert_one_line_error
from tests.harness import RunningServer
from tests.metrics.test_exposition import value
from tests.metrics.tools import (
    free_port,
    guildwatch,
    need,
    promtool_check,
    read_line_with,
    without_module,
)

GUILD = "111111111111111111"


def _env(server: RunningServer) -> dict[str, str]:
    return {"GUILDWATCH_TOKEN": server.token, "GUILDWATCH_API": server.url}


def _metrics_url(process: subprocess.Popen[str]) -> str:
    line = read_line_with(process.stderr, "metrics at ")
    return line.split("metrics at ", 1)[1].strip()


def _scrape_until(url: str, fragment: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = httpx.get(url, timeout=5).text
        if fragment in text:
            return text
        time.sleep(0.05)
    raise AssertionError(f"{fragment!r} not in the metrics within {timeout} s:\n{text[:2000]}")


def test_watch_serves_metrics_that_promtool_accepts(real_server: RunningServer, home: Path) -> None:
    real_server.heartbeat(GUILD)
    args = ["--watch", "--metrics", "127.0.0.1:0", GUILD, "222222222222222222"]
    with guildwatch(args, home, _env(real_server)) as process:
        url = _metrics_url(process)
        text = _scrape_until(url, f'guildwatch_guild_up{{guild="{GUILD}",name=""}} 1')
        assert 'guildwatch_guild_connection_state{guild="222222222222222222"' in text
        assert real_server.token not in text
        promtool_check(text)
        answer = httpx.get(url, timeout=5)
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert httpx.get(url.replace("/metrics", "/other"), timeout=5).status_code == 404


def test_a_real_prometheus_scrapes_guild_up(
    real_server: RunningServer, home: Path, tmp_path: Path
) -> None:
    prometheus = need("prometheus", "prometheus")
    real_server.heartbeat(GUILD)
    port, web_port = free_port(), free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: guildwatch\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
    )
    with guildwatch(["--watch", "--metrics", str(port), GUILD], home, _env(real_server)):
        server = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{web_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            query = f"http://127.0.0.1:{web_port}/api/v1/query"
            deadline = time.monotonic() + 60
            result: list[dict[str, Any]] = []
            while time.monotonic() < deadline and not result:
                try:
                    answer = httpx.get(query, params={"query": "guildwatch_guild_up"}, timeout=5)
                    result = answer.json()["data"]["result"] if answer.status_code == 200 else []
                except httpx.TransportError:
                    pass  # Prometheus is still starting
                time.sleep(0.2)
            assert result, "Prometheus did not scrape guildwatch_guild_up within 60 s"
            assert result[0]["metric"] == {
                "__name__": "guildwatch_guild_up",
                "guild": GUILD,
                "instance": f"127.0.0.1:{port}",
                "job": "guildwatch",
            }
            assert result[0]["value"][1] == "1"
        finally:
            server.terminate()
            server.wait(20)


def test_metrics_port_in_use_is_one_line(run: Run, real_server: RunningServer) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("--watch", "--metrics", str(port), GUILD, env=_env(real_server))
    assert_one_line_error(result, f"--metrics: cannot listen on 127.0.0.1:{port}")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--watch", "--metrics", "1.2.3.4.5:80"], "--metrics: cannot listen on 1.2.3.4.5:80"),
        (["--watch", "--metrics", "70000"], "not [HOST:]PORT with a port 0-65535"),
        (["--watch", "--metrics", "host:"], "not [HOST:]PORT"),
        (["--watch", "--metrics", ":80"], "no host before the port"),
        (["--watch", "--metrics", "::1:80"], "write an IPv6 address in brackets"),
        (["--once", "--metrics", "0"], "--metrics needs a watcher that keeps running"),
    ],
)
def test_bad_metrics_addresses_are_one_line(
    run: Run, real_server: RunningServer, args: list[str], fragment: str
) -> None:
    result = run(*args, GUILD, env=_env(real_server))
    assert_one_line_error(result, fragment)


def test_metrics_without_the_extra_says_what_to_install(
    run: Run, real_server: RunningServer, home: Path
) -> None:
    env = _env(real_server) | without_module(home, "prometheus_client")
    result = run("--watch", "--metrics", "0", GUILD, env=env)
    assert_one_line_error(result, "pip install 'guildwatch[metrics]'")


def test_the_counters_follow_the_real_engine(real_server: RunningServer, home: Path) -> None:
    """Events and reconnects from a stream the server drops; polls from a poll-only guild."""
    streamed, polled = GUILD, "222222222222222222"
    real_server.heartbeat(streamed)
    real_server.heartbeat(polled)
    real_server.set_fault(streamed, drop_after=1)  # every connection ends after one event
    args = ["--watch", "--metrics", "127.0.0.1:0", streamed]
    with guildwatch(args, home, _env(real_server)) as process:
        url = _metrics_url(process)
        labels = f'{{guild="{streamed}",name=""}}'
        # One event, dropped, back (resumed: nothing new to replay, so the stream stays).
        text = _scrape_until(url, f"guildwatch_reconnects_total{labels} 1")
        assert value(text, "guildwatch_events_total", guild=streamed) == 1
        real_server.heartbeat(streamed, "2.0")  # one more event, one more drop
        text = _scrape_until(url, f"guildwatch_reconnects_total{labels} 2")
        assert value(text, "guildwatch_events_total", guild=streamed) == 2
    poll_only = ["--watch", "--no-stream", "--poll-interval", "0.2", "--metrics", "0", polled]
    with guildwatch(poll_only, home, _env(real_server)) as process:
        url = _metrics_url(process)
        text = _scrape_until(url, f'guildwatch_polls_total{{guild="{polled}",name=""}} 3')
        assert value(text, "guildwatch_events_total", guild=polled) == 0
        assert value(text, "guildwatch_guild_source", guild=polled, source="poll") == 1
