"""``guildwatch --serve`` through a real websocket client (aiohttp), as a browser tab talks.

Every tab is a process of its own; the tests count processes and sockets of the serving
process before and after, and look for the token everywhere a browser could see it.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from pathlib import Path

import aiohttp
import httpx
import pytest

from tests.cli.conftest import Run, assert_one_line_error
from tests.harness import RunningServer, wait_until
from tests.metrics.test_exposition import value
from tests.metrics.tools import without_module
from tests.web.support import GUILDS, children, serving, sockets

TABS = 20
ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]")


async def _open_tab(url: str, token: str) -> aiohttp.ClientWebSocketResponse:
    """One tab: the page, then its websocket, until the screen shows Online."""
    session = aiohttp.ClientSession()
    page = await (await session.get(url)).text()
    assert token not in page
    ws = await session.ws_connect(url.replace("http://", "ws://") + "ws?width=100&height=30")
    await ws.send_json(["resize", {"width": 100, "height": 30}])
    seen = b""
    async with asyncio.timeout(90):
        while b"Online" not in ANSI.sub(b"", seen):
            message = await ws.receive()
            assert message.type == aiohttp.WSMsgType.BINARY, message
            seen += message.data
            assert token.encode() not in seen
    ws._guildwatch_session = session  # type: ignore[attr-defined]  # closed with the tab
    return ws


def _api_streams(server: RunningServer) -> float | None:
    """Open streams on the API server (per-guild and shared), from its own /metrics."""
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    per_guild = value(text, "guildwatch_server_open_streams_all_guilds")
    shared = value(text, "guildwatch_server_open_shared_streams")
    return None if per_guild is None or shared is None else per_guild + shared


async def _close_tab(ws: aiohttp.ClientWebSocketResponse) -> None:
    await ws.close()
    await ws._guildwatch_session.close()  # type: ignore[attr-defined]


@pytest.mark.timeout(240)
def test_twenty_tabs_opened_and_closed_leave_no_process_or_socket(
    real_server: RunningServer, home: Path
) -> None:
    for guild in GUILDS:
        real_server.heartbeat(guild)
    with serving(real_server, home) as (process, url):
        baseline = sockets(process.pid)
        assert children(process.pid) == []

        async def tabs() -> None:
            opened = await asyncio.gather(*(_open_tab(url, real_server.token) for _ in range(TABS)))
            tab_processes = children(process.pid)
            assert len(tab_processes) == TABS
            for pid in tab_processes:  # the token is in no command line
                assert real_server.token not in Path(f"/proc/{pid}/cmdline").read_text()
            # One shared stream per tab carries its guilds (--multiplex auto).
            wait_until(lambda: _api_streams(real_server) == TABS, 30, "one stream per tab")
            await asyncio.gather(*(_close_tab(ws) for ws in opened))

        asyncio.run(tabs())
        wait_until(lambda: children(process.pid) == [], 60, "every tab's process to end")
        wait_until(lambda: sockets(process.pid) == baseline, 30, "the tabs' sockets to close")
        # And on the API's side, every stream the tabs held is closed.
        wait_until(lambda: _api_streams(real_server) == 0, 30, "the API's streams to close")
        process.send_signal(2)
        assert process.wait(30) == 0


def test_q_in_a_tab_ends_its_screen_and_closes_the_websocket(
    real_server: RunningServer, home: Path
) -> None:
    real_server.heartbeat(GUILDS[0])
    with serving(real_server, home) as (process, url):

        async def tab() -> None:
            ws = await _open_tab(url, real_server.token)
            assert len(children(process.pid)) == 1
            await ws.send_json(["stdin", "q"])
            async with asyncio.timeout(30):
                while not ws.closed:
                    await ws.receive()
            await _close_tab(ws)

        asyncio.run(tab())
        wait_until(lambda: children(process.pid) == [], 30, "the tab's process to end")


def test_stopping_the_server_ends_the_open_tabs(real_server: RunningServer, home: Path) -> None:
    real_server.heartbeat(GUILDS[0])
    with serving(real_server, home) as (process, url):

        async def tabs() -> None:
            opened = [await _open_tab(url, real_server.token) for _ in range(2)]
            assert len(children(process.pid)) == 2
            process.send_signal(2)
            for ws in opened:
                async with asyncio.timeout(30):
                    while not ws.closed:
                        await ws.receive()
                await _close_tab(ws)

        asyncio.run(tabs())
        assert process.wait(30) == 0
        stderr = process.stderr.read() if process.stderr else ""
        assert "Traceback" not in stderr


def test_a_websocket_from_another_origin_is_refused(real_server: RunningServer, home: Path) -> None:
    with serving(real_server, home) as (process, url):

        async def attempt(origin: str) -> int:
            async with aiohttp.ClientSession() as session:
                try:
                    async with session.ws_connect(url + "ws", origin=origin) as ws:
                        await ws.close()
                        return 101
                except aiohttp.WSServerHandshakeError as exc:
                    return exc.status

        assert asyncio.run(attempt("http://evil.example")) == 403
        assert children(process.pid) == []


def test_a_rebound_host_name_is_refused_unless_a_proxy_forwarded_it(
    real_server: RunningServer, home: Path
) -> None:
    """DNS rebinding: evil.example resolves to 127.0.0.1; its page's Origin matches its Host."""
    real_server.heartbeat(GUILDS[0])
    with serving(real_server, home) as (process, url):
        port = url.rstrip("/").rsplit(":", 1)[1]

        async def attempt(host: str, extra: dict[str, str]) -> int:
            headers = {"Host": host, "Origin": f"http://{host}", **extra}
            async with aiohttp.ClientSession() as session:
                try:
                    async with session.ws_connect(url + "ws", headers=headers) as ws:
                        await ws.close()
                        return 101
                except aiohttp.WSServerHandshakeError as exc:
                    return exc.status

        assert asyncio.run(attempt(f"evil.example:{port}", {})) == 403
        assert asyncio.run(attempt(f"localhost:{port}", {})) == 101
        proxy = {"X-Forwarded-Proto": "https"}
        assert asyncio.run(attempt("status.example.com", proxy)) == 101
        wait_until(lambda: children(process.pid) == [], 30, "the accepted tabs to end")
        time.sleep(0.2)
        assert children(process.pid) == []


def _env(server: RunningServer) -> dict[str, str]:
    return {"GUILDWATCH_TOKEN": server.token, "GUILDWATCH_API": server.url}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--serve", "0.0.0.0:0"], "add --serve-public if that is meant"),
        (["--serve", "[::]:0"], "add --serve-public"),
        (["--serve", "1.2.3.4.5:80", "--serve-public"], "--serve: cannot resolve"),
        (["--serve", "203.0.113.9:80", "--serve-public"], "--serve: cannot listen on"),
        (["--serve", "0", "--watch"], "leave out --watch, --once and --json"),
        (["--serve", "0", "--metrics", "0"], "--metrics cannot go with --serve"),
        (["--serve-public"], "--serve-public goes with --serve"),
        (["--serve", "65536"], "a port 0-65535"),
    ],
)
def test_bad_serve_input_is_one_line(
    run: Run, real_server: RunningServer, args: list[str], fragment: str
) -> None:
    result = run(*args, GUILDS[0], env=_env(real_server))
    if "--serve-public" in args and "cannot" in fragment:
        # The public warning comes first, on its own line; the error is the last line.
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        *warning, error = result.stderr.splitlines()
        assert fragment in error
        assert all("no authentication" in line for line in warning)
        return
    assert_one_line_error(result, fragment)


def test_serve_port_in_use_is_one_line(run: Run, real_server: RunningServer) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("--serve", str(port), GUILDS[0], env=_env(real_server))
    assert_one_line_error(result, f"--serve: cannot listen on 127.0.0.1:{port}")


def test_serve_without_the_extra_says_what_to_install(
    run: Run, real_server: RunningServer, home: Path
) -> None:
    env = _env(real_server) | without_module(home, "textual_serve")
    result = run("--serve", "0", GUILDS[0], env=env)
    assert_one_line_error(result, "pip install 'guildwatch[web]'")


def test_serve_public_warns_that_there_is_no_authentication(
    real_server: RunningServer, home: Path
) -> None:
    env = {"GUILDWATCH_TOKEN": real_server.token, "GUILDWATCH_API": real_server.url}
    from tests.metrics.tools import guildwatch, read_line_with

    args = ["--serve", "0.0.0.0:0", "--serve-public", GUILDS[0]]
    with guildwatch(args, home, env) as process:
        line = read_line_with(process.stderr, "warning")
        assert "textual-serve has no authentication" in line
        assert "SSH tunnel or a reverse proxy" in line
