"""guildwatch: watch a Discord bot's status per guild from a terminal.

The package is laid out by layer, and the layers only import downwards:

- ``guildwatch.store``: the status store, the single source of truth (no I/O).
- ``guildwatch.engine``: the connection engine (SSE stream, poller, backoff); plain asyncio.
- ``guildwatch.ui``: the Textual screen, a thin view over the store.
- ``guildwatch.cli``: the command line, configuration, secrets and headless output.
- ``guildwatch.server``: the reference server for the protocol; never imported by the client.
"""

__version__ = "0.1.0"
