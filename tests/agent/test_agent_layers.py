"""The agent runs inside a bot: it must not pull in Textual, the client, the reference server,
or the chat library itself (an adapter reads a bot's attributes; the bot already imported its
library). Each check runs in a fresh interpreter, so other tests' imports cannot hide one."""

from __future__ import annotations

import subprocess
import sys

import pytest

LIBRARY = ["guildwatch.agent", "guildwatch.agent.discordpy", "guildwatch.agent.hikari"]


def _imported_after(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    return set(result.stdout.split())


def _top(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


@pytest.mark.parametrize("module", LIBRARY)
def test_the_agent_imports_only_asyncio_and_httpx(module: str) -> None:
    imported = _imported_after(module)
    assert not _top(imported) & {"textual", "starlette", "uvicorn", "discord", "hikari"}
    ours = {name for name in imported if name.startswith("guildwatch.")}
    assert ours <= {
        "guildwatch.agent",
        *(f"guildwatch.agent.{m}" for m in ("_heartbeat", "_vitals", "discordpy", "hikari")),
    }, ours


def test_the_command_borrows_only_the_token_readers() -> None:
    imported = _imported_after("guildwatch.agent.command")
    assert not _top(imported) & {"textual", "starlette", "uvicorn", "discord", "hikari"}
    assert not {n for n in imported if n.startswith(("guildwatch.server", "guildwatch.ui"))}
