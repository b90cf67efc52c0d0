"""The connection engine: SSE stream consumer, poller and backoff, in plain asyncio."""

from guildwatch.engine._settings import EngineSettings

__all__ = ["EngineSettings"]
