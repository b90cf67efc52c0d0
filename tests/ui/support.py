"""Shared pieces for the screen's tests: a fixed clock, a recording engine, seeded stores."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from rich.console import Console
from textual.app import App
from textual.pilot import Pilot

from guildwatch.store import BotStatus, Problem, Shard, StatusStore

NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)
GUILD = "123456789012345678"

WAIT = 20.0
"""Upper bound for anything that normally takes milliseconds (2 shared cores)."""


async def wait_for(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    """Let the app run until ``condition`` holds; fail after :data:`WAIT` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.02)


State = Literal[
    "connecting",
    "online",
    "offline",
    "reconnecting",
    "polled",
    "lost",
    "hostile",
    "waiting",
    "online_latency",
    "degraded_shard",
    "degraded_latency",
    "maintenance",
]
STATES: tuple[State, ...] = (
    "connecting",
    "online",
    "offline",
    "reconnecting",
    "polled",
    "lost",
    "hostile",
)

VITALS_STATES: tuple[State, ...] = (
    "online_latency",
    "degraded_shard",
    "degraded_latency",
    "maintenance",
    "offline",
    "lost",
)
"""The states of a bot that reports vitals, for the vitals screen's snapshots."""

HOSTILE = (
    "[bold red]pwn[/] \x1b[31mred\x1b[0m \x1b]0;title\x07 [@click=app.quit]click[/] "
    "\u202eevil\u202c $(rm) " + "A" * 5000
)
"""Markup, escape sequences, bidi override and a huge tail: must all be shown inert."""


class FakeClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class RecordingEngine:
    """An ``EngineLike`` that only records what the screen asked of it (a view-test seam)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        self.calls.append(("run", None))
        await self._stopped.wait()

    def retry(self, guild_id: str | None = None) -> None:
        self.calls.append(("retry", guild_id))

    async def stop(self) -> None:
        self.calls.append(("stop", None))
        self._stopped.set()

    @property
    def retries(self) -> list[str | None]:
        return [guild for call, guild in self.calls if call == "retry"]


def seeded_store(state: State, clock: FakeClock, guild_id: str = GUILD) -> StatusStore:
    """A store with one guild in ``state``, as the engine would have left it at ``clock.now``."""
    store = StatusStore(clock=clock)
    now = clock.now
    if state == "hostile":
        store.add_guild(guild_id, name=HOSTILE)
    else:
        store.add_guild(guild_id, name="Test Guild")
    put_in_state(store, state, clock, guild_id)
    assert clock.now == now
    return store


def put_in_state(store: StatusStore, state: State, clock: FakeClock, guild_id: str = GUILD) -> None:
    """Drive ``store`` for one guild into ``state`` the way the engine writes it."""
    now = clock.now
    up = BotStatus(True, now - timedelta(seconds=20), "1.2.3")
    vitals = up._replace(
        latency_ms=42.0, shard=Shard(3, 8), started_at=now - timedelta(hours=2, minutes=5)
    )
    if state == "online_latency":
        store.set_connection(guild_id, "connected")
        store.apply_status(guild_id, vitals, source="stream")
    elif state == "degraded_shard":
        store.set_connection(guild_id, "connected")
        down = vitals._replace(latency_ms=None, shard=Shard(3, 8, connected=False))
        store.apply_status(guild_id, down._replace(state="degraded"), source="stream")
    elif state == "degraded_latency":
        store.set_connection(guild_id, "connected")
        # Forty seconds of a slow gateway, one heartbeat a second, ending now.
        for second in range(40, -1, -1):
            clock.now = now - timedelta(seconds=second)
            slow = vitals._replace(latency_ms=812.0 + (40 - second) % 3)
            store.apply_status(guild_id, slow, source="stream")
        clock.now = now
    elif state == "maintenance":
        store.set_connection(guild_id, "connected")
        said = vitals._replace(latency_ms=None, state="maintenance", message="deploying v1.3")
        store.apply_status(guild_id, said, source="stream")
    elif state == "connecting":
        store.set_connection(guild_id, "connecting")
    elif state == "waiting":
        store.set_connection(guild_id, "connected")
    elif state == "online":
        store.set_connection(guild_id, "connected")
        store.apply_status(guild_id, up, source="stream")
    elif state == "offline":
        store.set_connection(guild_id, "connected")
        store.apply_status(
            guild_id, BotStatus(False, now - timedelta(minutes=5), "1.2.3"), source="stream"
        )
    elif state == "reconnecting":
        store.apply_status(guild_id, up, source="stream")
        store.set_connection(
            guild_id,
            "disconnected",
            error=Problem("network", "Connection refused by 127.0.0.1:8765"),
            attempt=2,
            next_retry_at=now + timedelta(seconds=4),
        )
    elif state == "polled":
        store.set_connection(
            guild_id,
            "disconnected",
            error=Problem("network", "Connection reset by 127.0.0.1:8765"),
            attempt=3,
            next_retry_at=now + timedelta(seconds=12),
        )
        clock.now = now - timedelta(seconds=30)
        store.apply_status(
            guild_id, BotStatus(True, now - timedelta(minutes=2), "1.2.3"), source="poll"
        )
        clock.now = now
    elif state == "lost":
        store.apply_status(guild_id, up, source="stream")
        store.set_connection(
            guild_id,
            "error",
            error=Problem("auth", "The server rejected the token (401 Unauthorized)."),
            attempt=3,
        )
    elif state == "hostile":
        store.apply_status(
            guild_id, BotStatus(False, now - timedelta(hours=3), HOSTILE), source="stream"
        )
        store.set_connection(guild_id, "error", error=Problem("payload", HOSTILE), attempt=3)


def screen_text(app: App[Any]) -> str:
    """What the terminal shows now, as plain text (like ``export_screenshot``, minus SVG)."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), force_terminal=True, record=True
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


MIXED: tuple[tuple[str, str, State], ...] = (
    ("100000000000000001", "Aurora", "online"),
    ("100000000000000002", "Basalt", "offline"),
    ("100000000000000003", "Cinder", "reconnecting"),
    ("100000000000000004", "Dunmore", "lost"),
    ("100000000000000005", "Ember", "connecting"),
    ("100000000000000006", "Fjord", "polled"),
    ("100000000000000007", "Grove", "online"),
    ("100000000000000008", "Harbor", "offline"),
)
"""Eight guilds, one or two per state, for the list's tests and snapshots."""


CINDER_HOUR: tuple[tuple[int, State], ...] = (
    (60, "online"),
    (45, "offline"),
    (40, "online"),
    (20, "reconnecting"),
    (18, "lost"),
    (10, "online"),
)
"""Cinder's last hour (minutes before :data:`NOW`, state), before it ends up reconnecting."""


MIXED_WORST_FIRST = ["Dunmore", "Basalt", "Harbor", "Cinder", "Ember", "Aurora", "Fjord", "Grove"]
"""The :data:`MIXED` names sorted worst first: lost, offline x2 (store order),
connecting/reconnecting (store order), online x3."""


def mixed_store(clock: FakeClock) -> StatusStore:
    """A store with the :data:`MIXED` guilds, each driven into its state.

    Watching started an hour before ``clock.now``; Cinder (the third guild) went through
    :data:`CINDER_HOUR` meanwhile, so its detail view has a timeline, uptime and outages.
    """
    now = clock.now
    store = StatusStore(clock=clock)
    clock.now = now - timedelta(hours=1)
    for guild_id, name, _ in MIXED:
        store.add_guild(guild_id, name=name)
    cinder = MIXED[2][0]
    for minutes_before, state in CINDER_HOUR:
        clock.now = now - timedelta(minutes=minutes_before)
        put_in_state(store, state, clock, cinder)
    clock.now = now
    for guild_id, _, state in MIXED:
        put_in_state(store, state, clock, guild_id)
    return store


def seed_bot(
    store: StatusStore, clock: FakeClock, *, shards: int = 8, down: int = 3, slow: int = 1
) -> None:
    """The bot as the bot watcher leaves it: ``shards`` shards, shard ``down`` disconnected
    (-1: none), shard ``slow`` over the threshold (-1: none), 2,500 guilds on each."""
    from guildwatch.store import BotOverview, ShardVitals

    now = clock.now
    vitals = tuple(
        ShardVitals(
            i,
            i != down,
            None if i == down else (812.0 if i == slow else 40.0 + i),
            2500 + i,
            now - timedelta(seconds=5),
        )
        for i in range(shards)
    )
    overview = BotOverview(
        True,
        now - timedelta(seconds=5),
        "1.3.0",
        now - timedelta(hours=2, minutes=5),
        "up",
        None,
        sum(s.guilds or 0 for s in vitals),
        shards,
        vitals,
    )
    store.update_bot(connection="connected")
    store.update_bot(status=overview, source="stream")


def seed_bot_state(store: StatusStore, clock: FakeClock, state: State) -> None:
    """The bot as a whole in the same state as the guild in ``state`` (for the bot view)."""
    from guildwatch.store import BotOverview

    if state == "lost":
        seed_bot(store, clock, down=-1)
        store.update_bot(
            connection="error",
            error=Problem("network", "Connection refused by 127.0.0.1:8765"),
            attempt=3,
        )
        return
    down = 3 if state == "degraded_shard" else -1
    seed_bot(store, clock, down=down, slow=3 if state == "degraded_latency" else -1)
    bot = store.bot.status
    assert bot is not None
    changes: dict[str, Any] = {}
    if state == "maintenance":
        changes.update(state="maintenance", message="deploying v1.3")
    if state == "offline":
        changes.update(healthy=False)
    overview: BotOverview = bot._replace(**changes)
    store.update_bot(status=overview)
