"""``guildwatch-server``: run the reference server until SIGINT or SIGTERM.

Prints its URL and the guild ids it serves (the first 20), never a token. On SIGINT/SIGTERM it
ends every open stream cleanly, flushes SQLite and exits 0, without a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from guildwatch.server._config import ConfigError, ServerConfig, config_from_args

if TYPE_CHECKING:
    from guildwatch.server._server import ReferenceServer

SHOWN_GUILDS = 20
EXIT_CONFIG = 2


def describe_guilds(guild_ids: Sequence[str], names: Sequence[str | None]) -> str:
    """``serving 3 guilds: a (Name), b, c``, truncated after :data:`SHOWN_GUILDS`."""
    if not guild_ids:
        return "serving no guilds yet (a bot heartbeat creates one)"
    shown = [
        f"{guild_id} ({name})" if name else guild_id
        for guild_id, name in zip(guild_ids[:SHOWN_GUILDS], names, strict=False)
    ]
    more = len(guild_ids) - len(shown)
    tail = f", … and {more} more" if more > 0 else ""
    return f"serving {len(guild_ids)} guilds: {', '.join(shown)}{tail}"


def missing_extra(exc: ImportError, extra: str = "server") -> str:
    """The one line for a plain ``pip install guildwatch``, worded as ``guildwatch --demo``'s."""
    return (
        f"the reference server needs its packages ({exc.name} is missing): "
        f"pip install 'guildwatch[{extra}]'"
    )


async def _serve(config: ServerConfig, server_class: type[ReferenceServer]) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Before anything starts, so that an early Ctrl+C is a clean stop too.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = server_class(config)
    try:
        url = await server.start()
        guilds = await server.store.guilds()
        ids = [guild_id for guild_id, _ in guilds]
        print(f"guildwatch-server listening on {url}", flush=True)
        print(describe_guilds(ids, [name for _, name in guilds[:SHOWN_GUILDS]]), flush=True)
        if config.redis:
            print("state in Redis: replicas on the same Redis serve one truth", flush=True)
        access = "bearer token required" if config.metrics_token else "loopback clients only"
        print(f"metrics at {url}/metrics ({access})", flush=True)
        mode = "simulated bot" if config.simulate else "waiting for bot heartbeats"
        print(f"{mode}; offline after {config.offline_after:g} s; Ctrl+C stops", flush=True)
        await stop.wait()
    finally:
        await server.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    print("guildwatch-server stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``guildwatch-server``; returns the exit code (2: bad configuration)."""
    logging.basicConfig(
        level=logging.WARNING, format="guildwatch-server: %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = config_from_args(sys.argv[1:] if argv is None else argv, os.environ)
    except ConfigError as exc:
        print(f"guildwatch-server: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        # After the flags, so --help works without the extra.
        from guildwatch.server._server import ReferenceServer
    except ImportError as exc:
        print(f"guildwatch-server: {missing_extra(exc)}", file=sys.stderr)
        return EXIT_CONFIG
    if config.redis:
        try:
            import guildwatch.server._redis  # noqa: F401  # only to name a missing extra
        except ImportError as exc:
            print(f"guildwatch-server: {missing_extra(exc, 'redis')}", file=sys.stderr)
            return EXIT_CONFIG
    try:
        return asyncio.run(_serve(config, ReferenceServer))
    except ConfigError as exc:
        print(f"guildwatch-server: {exc}", file=sys.stderr)
        return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
