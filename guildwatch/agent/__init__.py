"""The bot's side of guildwatch: heartbeats with the bot's vitals, sent from inside the bot.

Plain asyncio and httpx: no Textual, nothing of the client or the reference server. The library
adapters (:mod:`guildwatch.agent.discordpy`, :mod:`guildwatch.agent.hikari`) read a running
bot's public attributes into :class:`Vitals`; :class:`Heartbeat` sends them.
"""

from __future__ import annotations

from guildwatch.agent._heartbeat import Answer, Heartbeat, VitalsSource
from guildwatch.agent._vitals import (
    MAX_MESSAGE_CHARS,
    STATES,
    ShardVitals,
    State,
    Vitals,
    VitalsError,
    bot_body,
    guild_body,
    latency_ms,
)

__all__ = [
    "MAX_MESSAGE_CHARS",
    "STATES",
    "Answer",
    "Heartbeat",
    "ShardVitals",
    "State",
    "Vitals",
    "VitalsError",
    "VitalsSource",
    "bot_body",
    "guild_body",
    "latency_ms",
]
