"""The silences' state file, so a silence outlives a restart of guildwatch.

``silences.json`` in the directory the CLI picks (``$XDG_STATE_HOME/guildwatch``), written
whole each time, atomically: a temporary file in the same directory, fsync, ``os.replace``,
so a reader (or a second guildwatch writing at the same moment) sees the old file or the new
one, never half of one; the last writer wins. Mode 0600: it says which guilds someone watches.

Nothing here is ever fatal: a file that is corrupt, unreadable or unwritable is reported once
through the ``report`` callback and otherwise ignored (the silences then live in memory).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from guildwatch.alerts._silence import Silence

FILE_NAME = "silences.json"
MAX_BYTES = 1024 * 1024
"""A bigger file is not one guildwatch wrote."""
FORMAT = 1


def _time(text: object) -> datetime:
    if not isinstance(text, str):
        raise ValueError("a time must be a string")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a time needs its offset")
    return moment.astimezone(UTC)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def to_json(entries: Iterable[Silence]) -> dict[str, Any]:
    """The file's content for these silences."""
    return {
        "format": FORMAT,
        "silences": [
            {
                "guild": entry.guild_id,
                "since": _rfc3339(entry.since),
                "until": None if entry.until is None else _rfc3339(entry.until),
                "seenDown": entry.seen_down,
            }
            for entry in entries
        ],
    }


def from_json(data: object) -> list[Silence]:
    """The silences in a parsed file.

    Raises:
        ValueError: not what :func:`to_json` writes.
    """
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not a format {FORMAT} silences file")
    items = data.get("silences")
    if not isinstance(items, list):
        raise ValueError("'silences' is not a list")
    entries = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("guild"), str):
            raise ValueError("a silence without a guild")
        until = item.get("until")
        seen_down = item.get("seenDown", False)
        if not isinstance(seen_down, bool):
            raise ValueError("'seenDown' is not true or false")
        entries.append(
            Silence(
                guild_id=item["guild"],
                since=_time(item.get("since")),
                until=None if until is None else _time(until),
                seen_down=seen_down,
            )
        )
    return entries


class SilenceFile:
    """Loads and saves the silences, reporting each kind of trouble once.

    Args:
        directory: Where the file lives (created, mode 0700, on the first save).
        report: Told one plain sentence per problem (a toast, a stderr line); must not raise.
    """

    def __init__(self, directory: Path, *, report: Callable[[str], None]) -> None:
        self.path = directory / FILE_NAME
        self._report = report
        self._reported: set[str] = set()

    def _problem(self, kind: str, message: str) -> None:
        if kind not in self._reported:
            self._reported.add(kind)
            self._report(message)

    def load(self) -> list[Silence]:
        """The saved silences (expired ones too: the model drops them); [] on any trouble."""
        try:
            with open(self.path, "rb") as file:
                data = file.read(MAX_BYTES + 1)
        except FileNotFoundError:
            return []
        except OSError as exc:
            self._problem("read", f"cannot read silences from {self.path}: {_why(exc)}; ignored")
            return []
        try:
            if len(data) > MAX_BYTES:
                raise ValueError("larger than 1 MiB")
            return from_json(json.loads(data.decode("utf-8")))
        except (ValueError, UnicodeDecodeError) as exc:
            reason = str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__
            self._problem("corrupt", f"silences file {self.path} is corrupt ({reason}); ignored")
            return []

    def save(self, entries: Iterable[Silence]) -> bool:
        """Write the silences atomically; False (and reported once) if that failed."""
        text = json.dumps(to_json(entries), indent=1, ensure_ascii=True) + "\n"
        directory = self.path.parent
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            # mkstemp creates the file 0600, and in the same directory: os.replace is atomic.
            fd, temp = tempfile.mkstemp(prefix=".silences-", suffix=".tmp", dir=directory)
        except OSError as exc:
            self._problem("write", f"cannot save silences in {directory}: {_why(exc)}")
            return False
        try:
            with os.fdopen(fd, "w", encoding="ascii") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            self._problem("write", f"cannot save silences to {self.path}: {_why(exc)}")
            return False
        _sync_directory(directory)
        return True


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _sync_directory(directory: Path) -> None:
    # The rename itself is durable only once the directory is; best effort (not on every OS).
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class ReportRelay:
    """Holds reports until a view can show them, then forwards them (the screen's toasts
    exist only once the app runs, but the state file is read before it starts)."""

    def __init__(self) -> None:
        self.pending: list[str] = []
        self._target: Callable[[str], None] | None = None

    def __call__(self, message: str) -> None:
        if self._target is None:
            self.pending.append(message)
        else:
            self._target(message)

    def connect(self, target: Callable[[str], None]) -> None:
        """Send the held reports to ``target``, and every later one."""
        self._target = target
        pending, self.pending = self.pending, []
        for message in pending:
            target(message)
