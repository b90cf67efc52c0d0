"""``b``: the bot as a whole, from ``/api/v1/bot/status``: its word, uptime and every shard.

The engine's bot watcher writes ``store.bot``; this screen follows it with a subscription of
its own and repaints only the parts whose text changed. The endpoint is optional: a server
that answers 404 is said so calmly, not as a failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from guildwatch.display import STATE_WORDS, safe
from guildwatch.ui._footer import KeysFooter
from guildwatch.ui._guild_detail import exact, uptime
from guildwatch.ui._shards import SHARD_LEGEND, shard_grid, worst_first
from guildwatch.ui._ticking import TICK_INTERVAL

if TYPE_CHECKING:
    from datetime import datetime

    from textual.app import ComposeResult

    from guildwatch.store import BotSnapshot, Clock, StatusStore
    from guildwatch.ui._engine import EngineLike

NO_BOT_STATUS = "This server reports no bot status (it has no /api/v1/bot/status)."


def bot_headline(bot: BotSnapshot, warn_ms: float) -> str:
    """One line: "Bot · Online · 2 of 3 shards connected", or why there is nothing to show."""
    status = bot.status
    if bot.availability == "absent":
        return "Bot · no bot status on this server"
    if status is None:
        if bot.connection == "error":
            return "Bot · Connection lost"
        if bot.connection == "connected":
            return "Bot · waiting for its first heartbeat"
        return "Bot · Connecting…"
    if bot.connection not in ("connected",) and bot.source != "poll":
        word = "Connection lost" if bot.connection == "error" else "Reconnecting…"
        return f"Bot · {word} (last known below)"
    if not status.healthy:
        return "Bot · Offline"
    state = status.bot_state
    connected = sum(1 for s in status.shards if s.connected)
    word = "Online" if state == "up" else STATE_WORDS.get(state, "Degraded")
    if status.shards and connected < len(status.shards) and state == "up":
        word = "Degraded"
    shards = f" · {connected} of {len(status.shards)} shards connected" if status.shards else ""
    slow = sum(1 for s in status.shards if s.connected and (s.latency_ms or 0.0) > warn_ms)
    if slow:
        shards += f" · {slow} over {warn_ms:g} ms"
    return f"Bot · {word}{shards}"


def bot_facts(bot: BotSnapshot, now: datetime) -> list[str]:
    """The bot's "label  value" lines; server text made safe."""
    status = bot.status
    if bot.availability == "absent":
        return [NO_BOT_STATUS, "Each guild's own status still shows its shard."]
    lines = []
    if status is not None:
        version = f"v{safe(status.version, 60)}" if status.version else "no version"
        said = safe(status.state, 32) if status.state else "up"
        if status.message:
            said += f" · {safe(status.message, 200)}"
        lines.append(f"Bot         {version} · says {said}")
        if status.started_at is not None:
            lines.append(f"Started     {exact(status.started_at)} (uptime {uptime(status, now)})")
        if status.last_heartbeat is not None:
            lines.append(f"Heartbeat   {exact(status.last_heartbeat)}")
        lines.append(f"Guilds      {status.guild_count} on {status.shard_count} shards")
    if bot.error is not None and bot.connection != "connected":
        lines.append(f"Error       {safe(bot.error.message, 200)}")
    if bot.warning is not None:
        lines.append(f"Warning     {safe(bot.warning.message, 200)}")
    return lines


class BotView(Screen[None]):
    """The bot-level view: headline, facts, and all shards in a grid, worst first.

    Args:
        store: Where ``store.bot`` is read.
        engine: ``r`` here retries the bot status stream, if the engine has one.
        clock: Source of "now" for the uptime.
    """

    DEFAULT_CSS = """
    BotView VerticalScroll {
        padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    BotView Static {
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    BotView #bot-title {
        text-style: bold;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,b", "close", "Close"),
        Binding("r", "retry", "Retry"),
    ]

    def __init__(self, store: StatusStore, engine: EngineLike, clock: Clock) -> None:
        super().__init__()
        self.store = store
        self._engine = engine
        self._clock = clock
        self._shown: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="bot-title", markup=False)
            yield Static(id="bot-facts", markup=False)
            yield Static(id="bot-shards", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        # The engine watches the bot only once someone looks (one more stream otherwise).
        watch_bot = getattr(self._engine, "watch_bot", None)
        if callable(watch_bot):
            watch_bot()
        subscription = self.store.subscribe_bot(max_rate=10.0)

        async def follow() -> None:
            try:
                async for _ in subscription:
                    self.refresh_from_store()
            finally:
                subscription.close()

        self.run_worker(follow(), name="bot-view", group="bot-view")
        self.refresh_from_store()
        self.set_interval(TICK_INTERVAL, self.refresh_from_store)

    def texts(self) -> dict[str, str]:
        """What each part of the screen says now (the tests read this too)."""
        bot = self.store.bot
        now = self._clock()
        width = max(20, self.size.width - 3)
        shards: list[str] = []
        if bot.status is not None and bot.status.shards:
            warn = self.store.latency_warn
            grid = shard_grid(worst_first(bot.status.shards, warn), width, warn, guilds=True)
            shards = ["Shards, worst first (id, latency, guilds)", *grid, SHARD_LEGEND]
        return {
            "bot-title": bot_headline(bot, self.store.latency_warn),
            "bot-facts": "\n".join(bot_facts(bot, now)),
            "bot-shards": "\n".join(shards),
        }

    def refresh_from_store(self) -> None:
        """Re-read the bot; update only the parts whose text changed."""
        for part, text in self.texts().items():
            if self._shown.get(part) != text:
                self._shown[part] = text
                self.query_one(f"#{part}", Static).update(Content(text))

    def action_close(self) -> None:
        """Back to where ``b`` was pressed."""
        self.dismiss()

    def action_retry(self) -> None:
        """Retry the bot status stream now."""
        retry_bot = getattr(self._engine, "retry_bot", None)
        if callable(retry_bot):
            retry_bot()
