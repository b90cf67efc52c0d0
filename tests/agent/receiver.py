"""A tiny real HTTP/1.1 receiver on loopback that records what the agent sends, and the
protocol's rules for heartbeat bodies written out independently of the agent's code.

The receiver is a plain asyncio server (keep-alive, Content-Length bodies, which is what httpx
sends): it answers by a per-path rule and can stall (accept, never answer) to play a slow
server. The checks below are the test oracle for docs/protocol.md ("Endpoint written by the
bot"); they share nothing with ``guildwatch.agent``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

GUILD_ID = re.compile(r"[A-Za-z0-9._-]{1,100}")
STATES = {"up", "degraded", "starting", "maintenance"}


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return strict_json(self.body)


Rule = Callable[[Request], tuple[int, dict[str, str], bytes] | None]
"""(status, extra headers, body) for a request, or None to stall (never answer)."""


def ok_rule(request: Request) -> tuple[int, dict[str, str], bytes]:
    return 200, {}, b'{"ok": true}'


@dataclass
class Receiver:
    rule: Rule = ok_rule
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        for writer in list(self._writers):
            writer.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.wait(self._handlers)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Until at least ``count`` requests arrived (fails after ``timeout``)."""
        async with asyncio.timeout(timeout):
            while len(self.requests) < count:
                self.arrived.clear()
                await self.arrived.wait()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:
                request = await self._read(reader)
                if request is None:
                    return
                self.requests.append(request)
                self.arrived.set()
                answer = self.rule(request)
                if answer is None:
                    await asyncio.Event().wait()  # a slow server: never answers
                    return
                status, headers, body = answer
                head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}"]
                head += ["Content-Type: application/json"]
                head += [f"{name}: {value}" for name, value in headers.items()]
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._handlers.discard(task)
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Request | None:
        line = await reader.readline()
        if not line:
            return None
        method, path, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return Request(method, path, headers, body)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(data: bytes) -> Any:
    """Parse as RFC 8259 JSON: NaN and Infinity literals are errors (Python accepts them)."""
    return json.loads(data.decode("utf-8"), parse_constant=_no_constants)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _latency_ok(value: Any) -> bool:
    if value is None:
        return True
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return number and math.isfinite(value) and value >= 0


def _rfc3339_ok(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, str) or not re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value
    ):
        return False
    datetime.fromisoformat(value)
    return True


def _common(body: dict[str, Any]) -> None:
    version = body.get("version")
    assert version is None or (isinstance(version, str) and len(version) <= 256), version
    assert body.get("state") is None or body["state"] in STATES, body.get("state")
    message = body.get("message")
    assert message is None or (isinstance(message, str) and len(message) <= 200), message
    assert _rfc3339_ok(body.get("startedAt")), body.get("startedAt")


def check_guild_body(body: Any) -> None:
    """A valid ``POST /api/v1/guilds/{guild}/heartbeat`` body, or an AssertionError."""
    assert isinstance(body, dict)
    _common(body)
    assert _latency_ok(body.get("latencyMs")), body.get("latencyMs")
    shard = body.get("shard")
    if shard is not None:
        assert isinstance(shard, dict)
        assert _is_int(shard["id"])
        assert shard["id"] >= 0
        assert _is_int(shard["count"])
        assert shard["count"] >= 1
        assert shard["id"] < shard["count"]
        assert isinstance(shard.get("connected", True), bool)


def check_bot_body(body: Any) -> None:
    """A valid ``POST /api/v1/bot/heartbeat`` body, or an AssertionError."""
    assert isinstance(body, dict)
    _common(body)
    shards = body.get("shards", [])
    assert isinstance(shards, list)
    assert len(shards) <= 10_000
    ids = set()
    for shard in shards:
        assert isinstance(shard, dict)
        assert _is_int(shard["id"])
        assert shard["id"] >= 0
        assert isinstance(shard.get("connected", True), bool)
        assert _latency_ok(shard.get("latencyMs"))
        ids.add(shard["id"])
    assert len(ids) == len(shards), "a shard listed twice"
    count = body.get("shardCount", len(shards))
    assert _is_int(count)
    assert all(shard_id < count for shard_id in ids)
    guilds = body.get("guilds", {})
    assert isinstance(guilds, dict)
    assert len(guilds) <= 100_000
    for guild, shard_id in guilds.items():
        assert GUILD_ID.fullmatch(guild), guild
        assert _is_int(shard_id), (guild, shard_id)
        assert shard_id in ids, (guild, shard_id)
