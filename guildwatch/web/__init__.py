"""``guildwatch --serve``: the real screen in web browsers, through textual-serve.

textual-serve starts one process per browser tab (the command below, through ``sh -c``) and
relays its terminal over a websocket; a tab that closes ends its process. That process gets
the options and the token through its environment (see ``_child``), so the token stays on
this machine: it is not in the page, the URL, the websocket or any command line.

Three things are added to textual-serve, which has no security of its own:

* the websocket refuses an ``Origin`` other than the page's own host, so a web page in the
  same browser cannot open a screen behind the user's back (websockets ignore the
  same-origin policy; this is the usual cross-site websocket hijacking check);
* bound to loopback, the websocket also refuses a ``Host`` that is not a loopback name,
  unless a reverse proxy says it forwarded the request: a page whose own name was made to
  resolve to 127.0.0.1 (DNS rebinding) passes the ``Origin`` check, but cannot set those
  headers on a websocket;
* the page's websocket URL follows the address the browser used (``Host``), so the screen
  also works through an SSH tunnel or a reverse proxy with a name of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import shlex
import signal
import socket
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from guildwatch.cli._listen import url_host
from guildwatch.errors import ConfigError

if TYPE_CHECKING:
    from aiohttp import web

    from guildwatch.cli._options import Options

SHUTDOWN_TIMEOUT = 5.0
"""Seconds the open tabs get to end their screens when the server stops."""


def child_command() -> str:
    """The shell command textual-serve runs per tab; ``exec`` so no shell stays in between."""
    return f"exec {shlex.quote(sys.executable)} -m guildwatch.web._child"


def _bind(host: str, port: int) -> socket.socket:
    """Bind before anything starts, so a busy port or a bad address is one line, exit 2."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"--serve: cannot resolve {host!r} ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        where = f"{url_host(host)}:{port}"
        raise ConfigError(f"--serve: cannot listen on {where}: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


_PROXY_HEADERS = ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded")


def _loopback_name(host_header: str) -> bool:
    name = urlsplit(f"//{host_header}").hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _make_server_class(public: bool) -> type[Any]:
    # Imported here: the extra is optional, and _serving checked it is installed.
    import aiohttp_jinja2
    from aiohttp import web
    from textual_serve.server import Server

    class GuildwatchServer(Server):
        """textual-serve's server with the two checks of the module docstring."""

        @aiohttp_jinja2.template("app_index.html")
        async def handle_index(self, request: web.Request) -> dict[str, Any]:
            scheme = "wss" if _https(request) else "ws"
            http = "https" if scheme == "wss" else "http"
            return {
                "font_size": 16,
                "app_websocket_url": f"{scheme}://{request.host}/ws",
                "config": {"static": {"url": f"{http}://{request.host}/static/"}},
                "application": {"name": self.title},
            }

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            origin = request.headers.get("Origin")
            if origin is not None and urlsplit(origin).netloc != request.host:
                # aiohttp turns a raised HTTP error into the response, before any upgrade.
                raise web.HTTPForbidden(text="cross-origin websocket refused\n")
            proxied = any(name in request.headers for name in _PROXY_HEADERS)
            if not (public or proxied or _loopback_name(request.host)):
                raise web.HTTPForbidden(text="not a loopback host name: use 127.0.0.1\n")
            return await super().handle_websocket(request)

        async def on_startup(self, app: web.Application) -> None:
            """Not textual-serve's banner: ``serve`` prints one line of its own."""

        def initialize_logging(self) -> None:
            """textual-serve's logging setup (a rich handler on the root logger) is not ours."""

    return GuildwatchServer


def _https(request: web.Request) -> bool:
    # A reverse proxy that ends TLS says so; the page must then use wss:// or it is blocked.
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


async def _serve_forever(server: Any, sock: socket.socket, url: str) -> None:
    from aiohttp import web

    app = await server._make_app()  # textual-serve builds its routes here
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await web.SockSite(runner, sock).start()
        print(f"guildwatch: serving the screen at {url} (Ctrl+C stops)", flush=True)
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runner.cleanup(), SHUTDOWN_TIMEOUT * 2)


def serve(options: Options) -> int:
    """Serve the screen of ``options`` to browsers until SIGINT or SIGTERM; returns 0.

    Raises:
        ConfigError: the address cannot be bound.
    """
    # Not at the top: `python -m guildwatch.web._child` imports this package first.
    from guildwatch.web._child import OPTIONS_VARIABLE, TOKEN_VARIABLE, encode_options

    address = options.serve
    if address is None or options.api_url is None or options.token is None:
        raise RuntimeError("serve() needs --serve, an API URL and a token")
    sock = _bind(address.host, address.port)
    host, port = sock.getsockname()[:2]
    url = f"http://{url_host(host)}:{port}/"
    # textual-serve copies this process's environment into every tab's process.
    os.environ[OPTIONS_VARIABLE] = encode_options(options)
    os.environ[TOKEN_VARIABLE] = options.token
    public = not address.is_loopback  # _serving let it through: --serve-public was given
    server_class = _make_server_class(public)
    server = server_class(child_command(), host=host, port=port, title="guildwatch")
    try:
        asyncio.run(_serve_forever(server, sock, url))
    finally:
        sock.close()
    print("guildwatch: stopped serving", flush=True)
    return 0
