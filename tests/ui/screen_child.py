"""Run the real screen in a terminal for the pty/tmux tests: ``python -m tests.ui.screen_child``.

``STATE`` seeds one guild (see ``support.put_in_state``) with the real clock, ``--several``
the eight ``support.MIXED`` guilds instead; ``r`` makes the
scripted engine bring it Online, so a test can watch a retry land. Exits with ``run_tui``'s
code, which the tmux driver prints as ``[exit N]``.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from typing import get_args

from guildwatch.store import StatusStore
from guildwatch.ui import run_tui
from tests.ui.support import GUILD, FakeClock, State, mixed_store, put_in_state


class ScriptedEngine:
    """Waits until stopped; a retry puts the guild Online, as a successful reconnect would."""

    def __init__(self, store: StatusStore) -> None:
        self._store = store
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        await self._stopped.wait()

    def retry(self, guild_id: str | None = None) -> None:
        clock = FakeClock(datetime.now(UTC))
        for retried in [guild_id] if guild_id else self._store.guild_ids:
            put_in_state(self._store, "online", clock, retried)

    async def stop(self) -> None:
        self._stopped.set()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("state", choices=get_args(State))
    parser.add_argument("--inline", action="store_true")
    parser.add_argument("--no-animation", action="store_true")
    parser.add_argument("--several", action="store_true", help="the MIXED guilds, not STATE")
    args = parser.parse_args()
    if args.several:
        store = mixed_store(FakeClock(datetime.now(UTC)))
    else:
        store = StatusStore()
        store.add_guild(GUILD, name="Test Guild")
        put_in_state(store, args.state, FakeClock(datetime.now(UTC)))
    return run_tui(
        store, ScriptedEngine(store), animation=not args.no_animation, inline=args.inline
    )


if __name__ == "__main__":
    raise SystemExit(main())
