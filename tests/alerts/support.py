"""Shared pieces for the alert tests: fake clocks, snapshots in each alert state, and a
``--on-change`` command that records what it was given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from guildwatch.store import BotStatus, GuildSnapshot, Problem, Shard

T0 = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)

Kind = Literal["online", "degraded", "maintenance", "offline", "lost", "reconnecting", "connecting"]


class FakeMonotonic:
    """Monotonic seconds that move only when a test says so; ``wall`` follows along."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.now - 1000.0)

    def advance(self, seconds: float) -> None:
        self.now += seconds


def snapshot(
    kind: Kind, guild_id: str = "g", *, version: str | None = "1.0", name: str | None = None
) -> GuildSnapshot:
    """A snapshot that ``display.status_kind`` reads as ``kind``."""
    status = BotStatus(healthy=kind != "offline", last_heartbeat=T0, version=version)
    if kind == "degraded":
        status = status._replace(latency_ms=None, shard=Shard(3, 8, connected=False))
    if kind == "maintenance":
        status = status._replace(state="maintenance", message="deploying v1.3")
    if kind in ("online", "offline", "degraded", "maintenance"):
        return GuildSnapshot(
            guild_id, name=name, connection="connected", status=status, source="stream"
        )
    if kind == "lost":
        return GuildSnapshot(
            guild_id,
            name=name,
            connection="error",
            status=status,
            source="stream",
            error=Problem("network", "Connection lost after 4 attempts: refused"),
        )
    if kind == "reconnecting":
        return GuildSnapshot(
            guild_id,
            name=name,
            connection="disconnected",
            status=status,
            source="stream",
            error=Problem("network", "reset"),
        )
    return GuildSnapshot(guild_id, name=name, connection="connecting")


# A real --on-change command: records its argv, stdin and token variable, one JSON line each.
RECORDER = """\
import json, os, sys
out = sys.argv[sys.argv.index("--out") + 1]
record = {"argv": sys.argv[1:], "stdin": sys.stdin.read(), "pid": os.getpid(),
          "env_token": os.environ.get("GUILDWATCH_TOKEN")}
with open(out, "a") as file:
    file.write(json.dumps(record) + "\\n")
"""
