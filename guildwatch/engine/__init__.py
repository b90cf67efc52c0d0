"""The connection engine: SSE stream consumer, poller and backoff, in plain asyncio.

``Engine`` watches the guilds of a :class:`~guildwatch.store.StatusStore` and writes every
outcome into it; ``parse_status`` is the payload validation it uses, exported for the CLI's
one-shot mode. Nothing here imports Textual.

``Engine`` and ``parse_status`` are imported on first use (PEP 562): they pull in httpx and
dateutil, which the screen loads only after its first frame (see ``_deferred``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from guildwatch.engine._deferred import DeferredEngine
from guildwatch.engine._httpx import import_httpx
from guildwatch.engine._settings import EngineSettings, Multiplex, start_jitter_for
from guildwatch.engine._tls import prefetch_tls

if TYPE_CHECKING:
    from guildwatch.engine._engine import Engine
    from guildwatch.engine._payload import parse_status

__all__ = [
    "DeferredEngine",
    "Engine",
    "EngineSettings",
    "Multiplex",
    "parse_status",
    "prefetch_tls",
    "start_jitter_for",
]


def __getattr__(name: str) -> object:
    if name == "Engine":
        import_httpx()
        from guildwatch.engine._engine import Engine

        return Engine
    if name == "parse_status":
        from guildwatch.engine._payload import parse_status

        return parse_status
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
