"""SQLite persistence: last heartbeat, version and vitals per guild, the bot, the newest event id.

A database written by an older server lacks the ``vitals`` column: it is added on open, so an
existing file keeps its guilds. The vitals are one JSON text per guild (their ints may exceed
SQLite's 64 bits); the bot-level status is one JSON text in ``meta``.

Stdlib :mod:`sqlite3` only. Writes are batched (the model collects dirty guilds, the server
flushes them every ``flush_interval`` and on stop) and run in a worker thread, so a slow disk
never blocks the event loop. The connection is shared between that thread and the loop's
thread, so every use holds :attr:`Database._lock`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from guildwatch.server._config import MEMORY_DB, ConfigError
from guildwatch.server._model import GuildRecord
from guildwatch.server._vitals import Vitals

_SCHEMA = """
CREATE TABLE IF NOT EXISTS guilds (
    id TEXT PRIMARY KEY,
    name TEXT,
    last_heartbeat TEXT,
    version TEXT,
    vitals TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_ADDED_COLUMNS = {"vitals": "TEXT"}
"""Columns later versions added to ``guilds``; an older file gets them on open."""


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
            self._migrate()
            if path != MEMORY_DB:
                self._conn.execute("PRAGMA journal_mode=WAL")
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"--db: cannot use {path}: {exc}") from None

    def _migrate(self) -> None:
        present = {row[1] for row in self._conn.execute("PRAGMA table_info(guilds)")}
        for column, kind in _ADDED_COLUMNS.items():
            if column not in present:
                self._conn.execute(f"ALTER TABLE guilds ADD COLUMN {column} {kind}")
        self._conn.commit()

    def load(self) -> tuple[list[GuildRecord], int]:
        """All stored guilds (in insertion order) and the newest event id stored (0 if none)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, name, last_heartbeat, version, vitals FROM guilds ORDER BY rowid"
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
                vitals=Vitals.from_record(vitals),
            )
            for guild_id, name, seen, version, vitals in rows
        ]
        return records, int(meta[0]) if meta else 0

    def load_bot(self) -> dict[str, Any] | None:
        """The stored bot-level status, or None (never reported, or unreadable)."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'bot'").fetchone()
        if row is None:
            return None
        try:
            record = json.loads(row[0])
        except ValueError:
            return None
        return record if isinstance(record, dict) else None

    def save(
        self,
        records: list[GuildRecord],
        last_event_id: int,
        bot: dict[str, Any] | None = None,
    ) -> None:
        """Upsert changed guilds, the newest event id and the bot in one transaction (blocking)."""
        encoded: dict[int, str | None] = {}  # guilds of one shard share one Vitals object

        def vitals(record: GuildRecord) -> str | None:
            if record.vitals is None:
                return None
            key = id(record.vitals)
            if key not in encoded:
                encoded[key] = record.vitals.as_record()
            return encoded[key]

        rows = [
            (
                r.guild_id,
                r.name,
                r.last_heartbeat.isoformat() if r.last_heartbeat else None,
                r.version,
                vitals(r),
            )
            for r in records
        ]
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT INTO guilds (id, name, last_heartbeat, version, vitals) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET name = excluded.name, "
                "last_heartbeat = excluded.last_heartbeat, version = excluded.version, "
                "vitals = excluded.vitals",
                rows,
            )
            if bot is not None:
                self._conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('bot', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (json.dumps(bot),),
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
