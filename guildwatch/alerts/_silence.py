"""Silences: the operator's "not now" for a guild's alerts, as plain data and rules.

A silence holds a guild's alerts for a fixed time (15 min, 1 h, 4 h) or "until back": until
the guild is next seen online after being seen down. A bot that declares a maintenance
(``bot_state == "maintenance"``) is silenced while it lasts, without any entry.

No I/O and no Textual: the clock is injected, and whoever owns the state file passes a
callback that is told after every change (``_silence_file`` writes it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from guildwatch.durations import UNTIL_BACK, format_left
from guildwatch.store import Clock, GuildSnapshot, utc_now

CHOICES: tuple[tuple[str, timedelta | None], ...] = (
    ("15m", timedelta(minutes=15)),
    ("1h", timedelta(hours=1)),
    ("4h", timedelta(hours=4)),
    (UNTIL_BACK, None),
)
"""What the screen's picker offers (None: until back)."""

Reason = Literal["operator", "maintenance"]


@dataclass(frozen=True, slots=True)
class Silence:
    """One operator silence of one guild."""

    guild_id: str
    since: datetime
    until: datetime | None
    """When it ends (aware UTC); None: until the guild is back online."""
    seen_down: bool = False
    """"Until back" ends on the first online after a down: set once the guild was down, so a
    silence made while it was still online waits for the outage and its end."""

    @property
    def until_back(self) -> bool:
        """Whether this ends when the guild is back, not at a time."""
        return self.until is None


@dataclass(frozen=True, slots=True)
class SilenceState:
    """The answer to "is this guild's alert silenced now, and until when"."""

    reason: Reason
    until: datetime | None
    """When it ends; None for "until back" and for a maintenance (it ends when the bot says)."""

    @property
    def until_back(self) -> bool:
        """An operator's "until back" silence."""
        return self.reason == "operator" and self.until is None

    def left(self, now: datetime) -> str:
        """``silenced 14m``, ``silenced until back``, ``no alerts`` (a maintenance: the status
        word already says "Maintenance"): the screen's words."""
        if self.reason == "maintenance":
            return "no alerts"
        if self.until is None:
            return "silenced until back"
        return f"silenced {format_left(self.until - now)}"

    def short(self, now: datetime) -> str:
        """``14m``, ``back``, ``maint``: what fits next to a status word in a narrow pane."""
        if self.reason == "maintenance":
            return "maint"
        if self.until is None:
            return "back"
        return format_left(self.until - now)


def in_maintenance(snapshot: GuildSnapshot | None) -> bool:
    """The bot says it is in maintenance (its last valid status)."""
    return (
        snapshot is not None
        and snapshot.status is not None
        and snapshot.status.bot_state == "maintenance"
    )


class Silences:
    """Every guild's operator silence, with expiry by the injected clock.

    Args:
        clock: Source of "now" (aware UTC), injectable for tests.
        entries: Silences to start with (e.g. from the state file); expired ones are dropped.
        on_change: Called with every live silence after each change (to save them).
    """

    def __init__(
        self,
        *,
        clock: Clock = utc_now,
        entries: Iterable[Silence] = (),
        on_change: Callable[[tuple[Silence, ...]], object] | None = None,
    ) -> None:
        self.clock = clock
        self.on_change = on_change
        self.listeners: list[Callable[[tuple[Silence, ...]], object]] = []
        """Also told after each change (the alert service wakes up to re-check)."""
        now = clock()
        self._entries: dict[str, Silence] = {
            entry.guild_id: entry for entry in entries if not _expired(entry, now)
        }

    def entries(self) -> tuple[Silence, ...]:
        """The silences not expired by now, in the order they were made."""
        self.prune()
        return tuple(self._entries.values())

    def silence(
        self,
        guild_ids: Iterable[str],
        duration: timedelta | None,
        *,
        down: Callable[[str], bool] = lambda guild_id: False,
    ) -> None:
        """Silence each guild for ``duration`` (None: until back); replaces any silence it had.

        Args:
            guild_ids: One guild, or every guild for "silence all".
            duration: How long; None ends when the guild is back online.
            down: Whether a guild is down now (an "until back" then ends at its next online).
        """
        # Whole seconds: the state file keeps no more, and a reload must show the same end.
        now = self.clock().replace(microsecond=0)
        until = None if duration is None else now + duration
        for guild_id in guild_ids:
            seen_down = duration is None and down(guild_id)
            self._entries.pop(guild_id, None)  # re-made: it moves to the end
            self._entries[guild_id] = Silence(guild_id, now, until, seen_down)
        self._changed()

    def unsilence(self, guild_ids: Iterable[str]) -> None:
        """End the silences of these guilds (those without one are left alone)."""
        removed = [self._entries.pop(g) for g in guild_ids if g in self._entries]
        if removed:
            self._changed()

    def get(self, guild_id: str) -> Silence | None:
        """The guild's live operator silence, if any."""
        entry = self._entries.get(guild_id)
        if entry is not None and _expired(entry, self.clock()):
            self.prune()
            return None
        return entry

    def state(self, guild_id: str, snapshot: GuildSnapshot | None = None) -> SilenceState | None:
        """Whether the guild's alerts are silenced now, why, and until when.

        An operator's silence comes first (it has an end to show); a maintenance the bot
        declared in ``snapshot`` silences without one.
        """
        entry = self.get(guild_id)
        if entry is not None:
            return SilenceState("operator", entry.until)
        if in_maintenance(snapshot):
            return SilenceState("maintenance", None)
        return None

    def observe(self, guild_id: str, up: bool | None) -> bool:
        """Tell the silences what the guild is now: up, down, or unknown (None).

        Ends an "until back" silence at the first ``up`` after a down. Returns whether a
        silence ended.
        """
        entry = self._entries.get(guild_id)
        if entry is None or not entry.until_back or up is None:
            return False
        if not up:
            if not entry.seen_down:
                self._entries[guild_id] = replace(entry, seen_down=True)
                self._changed()
            return False
        if not entry.seen_down:
            return False
        del self._entries[guild_id]
        self._changed()
        return True

    def next_expiry(self) -> datetime | None:
        """When the next timed silence ends (None: none will by time alone)."""
        return min((e.until for e in self._entries.values() if e.until is not None), default=None)

    def prune(self) -> bool:
        """Drop the silences whose time is up; returns whether any was."""
        now = self.clock()
        expired = [g for g, entry in self._entries.items() if _expired(entry, now)]
        for guild_id in expired:
            del self._entries[guild_id]
        if expired:
            self._changed()
        return bool(expired)

    def _changed(self) -> None:
        entries = tuple(self._entries.values())
        if self.on_change is not None:
            self.on_change(entries)
        for listener in self.listeners:
            listener(entries)


def _expired(entry: Silence, now: datetime) -> bool:
    return entry.until is not None and entry.until <= now
