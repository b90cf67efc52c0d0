"""SQLite persistence: last heartbeat and version per guild, and the newest event id.

Stdlib :mod:`sqlite3` only. Writes are batched (the model collects dirty guilds, the server
flushes them every ``flush_interval`` and on stop) and run in a worker thread, so a slow disk
never blocks the event loop. The connection is shared between that thread and the loop's
thread, so every use holds :attr:`Database._lock`.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from pathlib import Path

from guildwatch.server._config import MEMORY_DB, ConfigError
from guildwatch.server._model import GuildRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS guilds (
    id TEXT PRIMARY KEY,
    name TEXT,
    last_heartbeat TEXT,
    version TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Database:
    """One SQLite file (or ``:memory:``) holding what a restart must not forget.

    Args:
        path: File path or ``:memory:``; the parent directory is created if missing.

    Raises:
        ConfigError: The file cannot be opened or is not a guildwatch database.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            if path != MEMORY_DB:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, check_same_thread=False)
            self._conn.executescript(_SCHEMA)
            if path != MEMORY_DB:
                self._conn.execute("PRAGMA journal_mode=WAL")
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"--db: cannot use {path}: {exc}") from None

    def load(self) -> tuple[list[GuildRecord], int]:
        """All stored guilds (in insertion order) and the newest event id stored (0 if none)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, name, last_heartbeat, version FROM guilds ORDER BY rowid"
            ).fetchall()
            meta = self._conn.execute(
                "SELECT value FROM meta WHERE key = 'last_event_id'"
            ).fetchone()
        records = [
            GuildRecord(
                guild_id=str(guild_id),
                name=name,
                last_heartbeat=datetime.fromisoformat(seen) if seen else None,
                version=version,
            )
            for guild_id, name, seen, version in rows
        ]
        return records, int(meta[0]) if meta else 0

    def save(self, records: list[GuildRecord], last_event_id: int) -> None:
        """Upsert changed guilds and the newest event id in one transaction (blocking)."""
        rows = [
            (
                r.guild_id,
                r.name,
                r.last_heartbeat.isoformat() if r.last_heartbeat else None,
                r.version,
            )
            for r in records
        ]
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT INTO guilds (id, name, last_heartbeat, version) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET name = excluded.name, "
                "last_heartbeat = excluded.last_heartbeat, version = excluded.version",
                rows,
            )
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES ('last_event_id', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(last_event_id),),
            )

    def close(self) -> None:
        """Close the connection (further calls fail)."""
        with self._lock:
            self._conn.close()
