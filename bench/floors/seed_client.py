"""A seed-style client: the floor for spawn-to-Online.

``python -m bench.floors.seed_client API GUILD`` (token in ``GUILDWATCH_TOKEN``): a Textual app
with one label and a worker that opens the guild's stream with ``httpx_sse.aconnect_sse``,
``json.loads`` each event and shows the first version as ``Online v1.2.3``. It is what anyone
would write first, with the one guard it needs to survive at all: httpx-sse hands over an event
with empty data for the server's ``: heartbeat`` comment, and ``json.loads("")`` would end the
app. No reconnecting, no polling, no error states, no store: only the work on the path from
spawn to a painted "Online".
"""

from __future__ import annotations

import json
import os
import sys

import httpx
from httpx_sse import aconnect_sse
from textual.app import App, ComposeResult
from textual.widgets import Label


class SeedClient(App[None]):
    def __init__(self, api: str, guild: str, token: str) -> None:
        super().__init__()
        self._url = f"{api.rstrip('/')}/api/v1/guilds/{guild}/status/stream"
        self._token = token

    def compose(self) -> ComposeResult:
        yield Label("Connecting…", id="status")

    def on_mount(self) -> None:
        self.run_worker(self._watch())

    async def _watch(self) -> None:
        label = self.query_one("#status", Label)
        headers = {"Authorization": f"Bearer {self._token}"}
        async with (
            httpx.AsyncClient(timeout=None) as client,
            aconnect_sse(client, "GET", self._url, headers=headers) as source,
        ):
            async for event in source.aiter_sse():
                if not event.data:  # the heartbeat comment
                    continue
                status = json.loads(event.data)
                label.update(f"Online v{status['version']}")


def main() -> None:
    api, guild = sys.argv[1:3]
    SeedClient(api, guild, os.environ["GUILDWATCH_TOKEN"]).run()


if __name__ == "__main__":
    main()
