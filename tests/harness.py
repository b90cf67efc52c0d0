"""Test harness: the real reference server on 127.0.0.1, in a thread or in a subprocess.

Every network test in guildwatch talks to this server over real sockets. Two ways to run it:

- in a daemon thread with its own event loop (default): fast to start, shares nothing with the
  test's loop, stopped within a bounded time;
- as a ``guildwatch-server`` subprocess (``subprocess=True``): for SIGTERM/SIGKILL, restart
  and "what does it print" tests.

:class:`RunningServer` carries the URL, the tokens and helpers that go through real HTTP
(``heartbeat``, ``set_fault``, ``heal``) plus ``restart`` (same port, same database) and
``stop``. An independent SSE reader for server tests lives in ``tests/server/sse.py``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from sse_starlette.sse import AppStatus

from guildwatch.server import ReferenceServer, ServerConfig

GUILDS: tuple[tuple[str, str | None], ...] = (
    ("111111111111111111", "Alpha"),
    ("222222222222222222", "Beta"),
    ("333333333333333333", None),
)
"""Guilds every test server serves from the start (id, name)."""

START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0


def make_config(**overrides: Any) -> ServerConfig:
    """A :class:`ServerConfig` suited to tests, with fresh random tokens.

    Defaults: port 0, heartbeat comments every 0.2 s, ``retry: 100``, in-memory database,
    faults on, one unrestricted client token, one bot token, the :data:`GUILDS`.
    """
    token = "client-" + secrets.token_hex(12)
    defaults: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "tokens": {token: None},
        "bot_tokens": frozenset({"bot-" + secrets.token_hex(12)}),
        "guilds": GUILDS,
        "db": ":memory:",
        "heartbeat_interval": 0.2,
        "retry_ms": 100,
        "faults": True,
        "flush_interval": 0.05,
        "shutdown_timeout": 3.0,
        "send_timeout": 3.0,
    }
    defaults.update(overrides)
    return ServerConfig(**defaults)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``predicate`` (every 10 ms) until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.01)


class ThreadRunner:
    """A :class:`ReferenceServer` in a daemon thread with its own loop."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.url = ""
        self.guild_ids: list[str] = []
        self.server: ReferenceServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name="guildwatch-test-server", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise AssertionError("test server did not start in time")
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = ReferenceServer(self.config)
        try:
            self.url = await server.start()
            self.guild_ids = server.guild_ids
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self.server = server
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await server.stop()

    def call(self, func: Callable[[ReferenceServer], Any]) -> Any:
        """Run ``func(server)`` on the server's loop and return its result (tests' backdoor)."""
        assert self._loop is not None
        assert self.server is not None
        server = self.server

        async def run() -> Any:
            return func(server)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(STOP_TIMEOUT)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(STOP_TIMEOUT)
        # sse-starlette's flag is process-global: never let one server's stop leak into the
        # next test's server (docs/upstream-defects.md).
        AppStatus.should_exit = False
        if self._thread.is_alive():
            raise AssertionError("test server thread did not stop in time")


def config_to_argv(config: ServerConfig) -> tuple[list[str], dict[str, str]]:
    """The ``guildwatch-server`` flags and environment that reproduce ``config``."""
    argv = ["--host", config.host, "--port", str(config.port), "--db", config.db]
    argv += ["--heartbeat-interval", repr(config.heartbeat_interval)]
    argv += ["--retry-ms", str(config.retry_ms), "--offline-after", repr(config.offline_after)]
    argv += ["--max-streams-per-token", str(config.max_streams_per_token)]
    for guild_id, name in config.guilds:
        argv += ["--guild", f"{guild_id}={name}" if name else guild_id]
    if config.simulate:
        argv += ["--simulate", "--guilds", str(config.sim_guilds)]
        argv += ["--sim-period", repr(config.sim_period)]
        argv += ["--sim-shards", str(config.sim_shards)]
        argv += ["--sim-maintenance-every", repr(config.sim_maintenance_every)]
        argv += ["--sim-maintenance-for", repr(config.sim_maintenance_for)]
    if config.faults:
        argv.append("--faults")
    if config.redis is not None:
        argv += ["--redis", config.redis, "--redis-prefix", config.redis_prefix]
        argv += ["--replica-ttl", repr(config.replica_ttl)]
    entries = [
        token if guilds is None else f"{token}:{'|'.join(sorted(guilds))}"
        for token, guilds in config.tokens.items()
    ]
    env = {
        "GUILDWATCH_SERVER_TOKENS": ",".join(entries),
        "GUILDWATCH_SERVER_BOT_TOKENS": ",".join(sorted(config.bot_tokens)),
    }
    if config.metrics_token is not None:
        env["GUILDWATCH_SERVER_METRICS_TOKEN"] = config.metrics_token
    return argv, env


class ProcessRunner:
    """``python -m guildwatch.server.main`` as a child process; output captured."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.url = ""
        self.guild_ids: list[str] = []
        self.lines: list[str] = []
        """Everything the process wrote, stdout and stderr, line by line."""
        self.process: subprocess.Popen[str] | None = None
        self._readers: list[threading.Thread] = []

    def start(self) -> None:
        argv, env_extra = config_to_argv(self.config)
        env = {**os.environ, **env_extra, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "guildwatch.server.main", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for pipe in (self.process.stdout, self.process.stderr):
            reader = threading.Thread(target=self._pump, args=(pipe,), daemon=True)
            reader.start()
            self._readers.append(reader)
        wait_until(
            lambda: self._url_line() is not None or self.process is None or self.exited,
            START_TIMEOUT,
            "the server to print its URL",
        )
        line = self._url_line()
        if line is None:
            raise AssertionError(f"server did not start: {self.output()}")
        self.url = line.split()[-1]
        self.guild_ids = self._fetch_guild_ids()

    def _url_line(self) -> str | None:
        return next((ln for ln in list(self.lines) if " listening on " in ln), None)

    @property
    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def _pump(self, pipe: Any) -> None:
        for line in pipe:
            self.lines.append(line.rstrip("\n"))

    def _fetch_guild_ids(self) -> list[str]:
        token = next(iter(self.config.tokens))
        answer = httpx.get(
            f"{self.url}/api/v1/guilds", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        return [guild["id"] for guild in answer.json()["guilds"]]

    def output(self) -> str:
        """All output so far (complete once the process has exited and been waited for)."""
        return "\n".join(self.lines)

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        """Wait for exit, then for the output pipes to drain; returns the exit code."""
        assert self.process is not None
        code = self.process.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        return code

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.wait()
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.wait()
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


@dataclass
class RunningServer:
    """A started test server and what a test needs to talk to it."""

    url: str
    token: str = field(repr=False)
    """An unrestricted client token."""
    bot_token: str = field(repr=False)
    guild_ids: list[str]
    config: ServerConfig = field(repr=False)
    runner: ThreadRunner | ProcessRunner = field(repr=False)

    @property
    def auth(self) -> dict[str, str]:
        """``Authorization`` header for the client token."""
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def bot_auth(self) -> dict[str, str]:
        """``Authorization`` header for the bot token."""
        return {"Authorization": f"Bearer {self.bot_token}"}

    def status_url(self, guild_id: str) -> str:
        return f"{self.url}/api/v1/guilds/{guild_id}/status"

    def stream_url(self, guild_id: str) -> str:
        return f"{self.url}/api/v1/guilds/{guild_id}/status/stream"

    def heartbeat(self, guild_id: str, version: str | None = "1.2.3") -> httpx.Response:
        """POST a bot heartbeat over HTTP; fails the test unless the server accepted it."""
        answer = httpx.post(
            f"{self.url}/api/v1/guilds/{guild_id}/heartbeat",
            json={"version": version},
            headers=self.bot_auth,
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return answer

    def set_fault(self, guild_id: str, **fault: Any) -> None:
        """Inject a fault (see ``guildwatch.server._faults``), e.g. ``set_fault(g, stall=True)``."""
        answer = httpx.post(
            f"{self.url}/api/v1/_faults/{guild_id}", json=fault, headers=self.bot_auth, timeout=10
        )
        assert answer.status_code == 200, answer.text

    def heal(self, guild_id: str) -> None:
        """Clear every fault of the guild."""
        self.set_fault(guild_id)

    def status(self, guild_id: str) -> dict[str, Any]:
        """GET the guild's status object (fails the test on a non-200)."""
        answer = httpx.get(self.status_url(guild_id), headers=self.auth, timeout=10)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def start(self) -> None:
        """Start again after :meth:`stop` or :meth:`kill`: same port, same database file."""
        config = replace(self.config, port=self.port)
        runner: ThreadRunner | ProcessRunner = (
            ProcessRunner(config)
            if isinstance(self.runner, ProcessRunner)
            else ThreadRunner(config)
        )
        runner.start()
        self.runner = runner
        self.config = config
        self.url = runner.url
        self.guild_ids = runner.guild_ids

    def restart(self) -> None:
        """Stop (cleanly), then start again on the same port with the same database file."""
        self.runner.stop()
        self.start()

    def kill(self) -> None:
        """SIGKILL the server process: no clean end of streams, no final flush.

        Only for ``subprocess=True`` servers; an in-thread server cannot be killed.
        """
        if not isinstance(self.runner, ProcessRunner):
            raise TypeError("kill() needs server_factory(subprocess=True)")
        self.runner.signal(signal.SIGKILL)
        self.runner.wait()

    def stop(self) -> None:
        """Stop the server (bounded; idempotent)."""
        self.runner.stop()


def start_server(*, subprocess: bool = False, **overrides: Any) -> RunningServer:
    """Start a test server with :func:`make_config` plus ``overrides``."""
    config = make_config(**overrides)
    runner: ThreadRunner | ProcessRunner = (
        ProcessRunner(config) if subprocess else ThreadRunner(config)
    )
    runner.start()
    unrestricted = [token for token, guilds in config.tokens.items() if guilds is None]
    return RunningServer(
        url=runner.url,
        token=(unrestricted or list(config.tokens))[0],
        bot_token=sorted(config.bot_tokens)[0] if config.bot_tokens else "",
        guild_ids=runner.guild_ids,
        config=config,
        runner=runner,
    )


def tmp_db(directory: Path) -> str:
    """A database file path inside a test's ``tmp_path``."""
    return str(directory / "server.sqlite3")


REDIS_SERVER = shutil.which("redis-server")
"""Debian's redis-server (``.ci/run`` installs it), or None."""


def free_port() -> int:
    """A loopback port that was free a moment ago (for programs that cannot take port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisProcess:
    """A real ``redis-server`` on a free loopback port with its own directory.

    Append-only file on, no RDB snapshots; ``fsync_always`` makes every write durable before
    Redis answers (``appendfsync always``), so that a kill -9 loses nothing acknowledged.
    :meth:`kill` and :meth:`start` again keep the port and the directory.
    """

    def __init__(self, directory: Path, *, fsync_always: bool = False) -> None:
        if REDIS_SERVER is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.directory = directory
        self.fsync_always = fsync_always
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--dir", str(self.directory), "--save", "", "--appendonly", "yes"]
        argv += ["--appendfsync", "always" if self.fsync_always else "everysec"]
        argv += ["--daemonize", "no", "--logfile", str(self.directory / "redis.log")]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self.ping, START_TIMEOUT, "redis-server to answer PING")

    def ping(self) -> bool:
        """Whether the server answers ``PING`` now (raw RESP, no client library)."""
        if self.process is None or self.process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final write."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None
