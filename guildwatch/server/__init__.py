"""The reference server for the guildwatch protocol (``guildwatch-server``).

Its own subpackage: the client never imports it (checked by ``tests/test_layers.py``), except
``guildwatch --demo``, which starts one in-process.

Run it in-process from a running event loop with :class:`ReferenceServer`::

    from guildwatch.server import ReferenceServer, demo_config

    async with ReferenceServer(demo_config("throwaway-token")) as server:
        print(server.url, server.guild_ids)   # http://127.0.0.1:41234 ['900000000000000000', ...]

``demo_config(token)`` is a simulated bot on a free loopback port, in-memory database, short
offline threshold; any :class:`ServerConfig` works the same way. ``start()`` binds (``port=0``:
a free port) and returns the URL; ``stop()`` ends every stream
cleanly and flushes the database, within ``config.shutdown_timeout``. From a thread, run both in
that thread's own loop (see ``tests/harness.py``). Modules: ``_config`` (flags, tokens),
``_auth``, ``_model`` (statuses, event ring, offline timers), ``_store`` (the storage interface
and its in-process implementation), ``_db`` (SQLite), ``_redis`` (``--redis``: several
replicas on one Redis), ``_http`` /
``_app`` / ``_stream`` (routes), ``_faults``, ``_simulate``, ``_server`` (lifecycle), ``main``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from guildwatch.server._config import ConfigError, ServerConfig, demo_config

if TYPE_CHECKING:
    from guildwatch.server._server import ReferenceServer

__all__ = ["ConfigError", "ReferenceServer", "ServerConfig", "demo_config"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that ``guildwatch-server`` can say which extra is missing
    # instead of failing with a traceback while Python imports this package.
    if name == "ReferenceServer":
        from guildwatch.server._server import ReferenceServer

        return ReferenceServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
