"""Regression: the server must not wait for the client's delayed ACK between writes.

Found by ``bench/server_load.py``: every answer on a keep-alive connection and every SSE event
that followed another write took ~40-50 ms, because the listening socket was made with
``proto=0`` and asyncio sets ``TCP_NODELAY`` only on sockets whose ``proto`` is TCP, so Nagle's
algorithm held each second small write until the client's delayed ACK.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from tests.harness import RunningServer

DELAYED_ACK = 0.040
"""Linux's minimum delayed-ACK time: what a Nagle stall costs per write."""


async def test_answers_on_a_keep_alive_connection_do_not_wait_for_a_delayed_ack(
    real_server: RunningServer,
) -> None:
    host, port = real_server.url.removeprefix("http://").rsplit(":", 1)
    guild = real_server.guild_ids[0]
    request = (
        f"GET /api/v1/guilds/{guild}/status HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {real_server.token}\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection(host, int(port))
    took: list[float] = []
    try:
        for _ in range(20):
            started = time.monotonic()
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            body = await asyncio.wait_for(reader.readexactly(length), 10)
            took.append(time.monotonic() - started)
            assert b'"healthy"' in body
    finally:
        writer.close()
    # Each answer is headers then body, two writes: with Nagle on, every one stalls >= 40 ms.
    assert statistics.median(took) < DELAYED_ACK / 2, took
