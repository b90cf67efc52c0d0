"""A small, independent SSE reader for server tests (not the client's parser, on purpose).

The server is checked against the spec, not against our own client, so these tests keep their
own reader: comments are items too (``: heartbeat`` is visible), and a background task reads
the body so that a timed-out wait never cancels the read itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from tests.harness import RunningServer


@dataclass(frozen=True, slots=True)
class SseItem:
    """One dispatched event, or one comment line (``comment`` set, the rest empty)."""

    id: str | None = None
    data: str | None = None
    event: str | None = None
    retry: int | None = None
    comment: str | None = None

    def json(self) -> Any:
        assert self.data is not None
        return json.loads(self.data)


class SseReader:
    """A minimal SSE reader over an open httpx response, for server tests.

    It yields comments as items too, so tests can see ``: heartbeat``. Not the client's
    parser on purpose: the server is checked against the spec, not against our own client.
    A background task reads the body, so a timed-out wait never cancels the read itself.
    """

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._items: asyncio.Queue[SseItem | None] = asyncio.Queue()
        self._pump = asyncio.create_task(self._read())

    async def next_item(self, timeout: float = 10.0) -> SseItem:
        """The next event or comment; TimeoutError after ``timeout`` s, EOFError at the end."""
        item = await asyncio.wait_for(self._items.get(), timeout)
        if item is None:
            self._items.put_nowait(None)
            raise EOFError("stream ended")
        return item

    async def next_event(self, timeout: float = 10.0) -> SseItem:
        """The next event, skipping comments."""
        async with asyncio.timeout(timeout):
            while True:
                item = await self.next_item(timeout)
                if item.comment is None:
                    return item

    async def read_to_end(self, timeout: float = 10.0) -> list[SseItem]:
        """Everything until the stream ends; TimeoutError if it has not ended in time."""
        items: list[SseItem] = []
        async with asyncio.timeout(timeout):
            while True:
                try:
                    items.append(await self.next_item(timeout))
                except EOFError:
                    return items

    async def until_silent(self, quiet: float = 1.0, timeout: float = 10.0) -> list[SseItem]:
        """Items until none came for ``quiet`` seconds; TimeoutError if never quiet in time."""
        items: list[SseItem] = []
        async with asyncio.timeout(timeout):
            while True:
                try:
                    items.append(await self.next_item(quiet))
                except TimeoutError:
                    return items

    async def close(self) -> None:
        """Stop reading."""
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump

    async def _read(self) -> None:
        fields: dict[str, str] = {}
        data: list[str] = []
        try:
            async for line in self.response.aiter_lines():
                if line.startswith(":"):
                    self._items.put_nowait(SseItem(comment=line[1:].strip()))
                elif not line:
                    if data or fields:
                        retry = fields.get("retry")
                        self._items.put_nowait(
                            SseItem(
                                id=fields.get("id"),
                                data="\n".join(data) if data else None,
                                event=fields.get("event"),
                                retry=int(retry) if retry is not None else None,
                            )
                        )
                    fields, data = {}, []
                else:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "data":
                        data.append(value)
                    else:
                        fields[name] = value
        except httpx.HTTPError:
            pass  # a cut connection ends the stream like EOF, for these tests
        finally:
            self._items.put_nowait(None)


@contextlib.asynccontextmanager
async def open_stream(
    server: RunningServer,
    guild_id: str,
    *,
    last_event_id: str | None = None,
    token: str | None = None,
    url: str | None = None,
) -> AsyncIterator[SseReader]:
    """Open ``guild_id``'s stream (or ``url``) as a client would; yields a reader (200 only)."""
    headers = {
        "Authorization": f"Bearer {token or server.token}",
        "Accept": "text/event-stream",
        "Cache-Control": "no-cache",
    }
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    timeout = httpx.Timeout(10.0)
    async with (
        httpx.AsyncClient(timeout=timeout) as client,
        client.stream("GET", url or server.stream_url(guild_id), headers=headers) as response,
    ):
        assert response.status_code == 200, await response.aread()
        reader = SseReader(response)
        try:
            yield reader
        finally:
            await reader.close()
