"""The connection engine: SSE stream consumer, poller and backoff, in plain asyncio.

``Engine`` watches the guilds of a :class:`~guildwatch.store.StatusStore` and writes every
outcome into it; ``parse_status`` is the payload validation it uses, exported for the CLI's
one-shot mode. Nothing here imports Textual.
"""

from guildwatch.engine._engine import Engine
from guildwatch.engine._payload import parse_status
from guildwatch.engine._settings import EngineSettings, start_jitter_for

__all__ = ["Engine", "EngineSettings", "parse_status", "start_jitter_for"]
