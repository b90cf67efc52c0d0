"""Which store changes deserve a toast: plain logic, no Textual, so it is tested alone.

Toasts announce "connection lost", "recovered" and "bot went offline/online", with
no toast storm: a stream that keeps failing while it retries is *one* outage, so it makes
one "connection lost" toast, not one per attempt. The tracker therefore remembers, per guild,
whether an outage has already been announced and the last bot health it reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from guildwatch.display import fatal_reason, safe
from guildwatch.store import GuildSnapshot, Health

Severity = Literal["information", "warning", "error"]
"""Textual's notification severities."""

_LABEL_CELLS = 40
_MESSAGE_CELLS = 120


@dataclass(frozen=True, slots=True)
class Notice:
    """One toast to show: plain text (the app passes ``markup=False``)."""

    title: str
    message: str
    """Already sanitised with :func:`guildwatch.display.safe`."""
    severity: Severity
    guild: str = ""
    """The guild's label (safe), so several notices can be merged into one."""


MERGE_ABOVE = 3
"""More notices than this in one store wake-up are merged, one per title."""


def merge_notices(notices: list[Notice]) -> list[Notice]:
    """At most one toast per title when many guilds change at once (a server restart).

    A handful stay as they are; above :data:`MERGE_ABOVE` each title becomes one notice that
    counts the guilds and names the first few, with the worst severity of the group.
    """
    if len(notices) <= MERGE_ABOVE:
        return notices
    groups: dict[str, list[Notice]] = {}
    for notice in notices:
        groups.setdefault(notice.title, []).append(notice)
    merged = []
    for title, group in groups.items():
        if len(group) == 1:
            merged.append(group[0])
            continue
        names = ", ".join(n.guild for n in group[:3]) + (", …" if len(group) > 3 else "")
        worst = max(group, key=lambda n: _SEVERITY_ORDER.index(n.severity)).severity
        merged.append(Notice(title, f"{len(group)} guilds: {names}", worst))
    return merged


_SEVERITY_ORDER: tuple[Severity, ...] = ("information", "warning", "error")


_Event = tuple[str, Severity, GuildSnapshot]
"""A notice not yet written out: its title, severity and the snapshot that caused it."""


_FLIPS: dict[Health, tuple[str, Severity]] = {
    "offline": ("Bot offline", "warning"),
    "online": ("Bot online", "information"),
}
"""A bot's health flip: the notice's title and severity."""


class NoticeTracker:
    """Turns a stream of snapshots into the few notices a person wants to see."""

    def __init__(self) -> None:
        self._announced_outage: set[str] = set()
        """Guilds whose current outage already produced its one toast."""
        self._was_connected: set[str] = set()
        """Guilds that have been live at least once (a drop from live is an outage)."""
        self._health: dict[str, Literal["online", "offline"]] = {}
        """The last known bot health per guild, to toast only on a real flip."""
        self._seen: dict[str, tuple[str, Health]] = {}
        """The connection and health each guild was last seen with: the rest of a snapshot
        (a heartbeat's time, the latency) never makes a notice, so an unchanged pair is
        skipped at once."""
        self._labels: dict[str, tuple[str, str]] = {}
        """Each guild's label as shown and made safe."""

    def _label(self, snapshot: GuildSnapshot) -> str:
        # Made safe once per label and only for a notice: a bot that flips in 10,000 guilds
        # at once is one merged toast, not 10,000 times the sanitiser.
        raw = snapshot.label
        known = self._labels.get(snapshot.guild_id)
        if known is None or known[0] != raw:
            known = raw, safe(raw, _LABEL_CELLS)
            self._labels[snapshot.guild_id] = known
        return known[1]

    def seed(self, snapshot: GuildSnapshot) -> None:
        """Learn the state a guild is in when the screen opens, without any toast."""
        self._record(snapshot, [])

    def update(self, snapshot: GuildSnapshot) -> list[Notice]:
        """Record a guild's new snapshot and return the notices it causes (often none)."""
        events: list[_Event] = []
        self._record(snapshot, events)
        return [self._write(event) for event in events]

    def wake(self, snapshots: Iterable[GuildSnapshot]) -> list[Notice]:
        """One store wake-up's notices, merged as :func:`merge_notices` merges them.

        Only the notices that are shown get their text written: a flip in 10,000 guilds
        labels three of them, not 10,000.
        """
        events: list[_Event] = []
        record = self._record
        for snapshot in snapshots:
            record(snapshot, events)
        if len(events) <= MERGE_ABOVE:
            return [self._write(event) for event in events]
        groups: dict[str, list[_Event]] = {}
        for event in events:
            groups.setdefault(event[0], []).append(event)
        merged = []
        for title, group in groups.items():
            if len(group) == 1:
                merged.append(self._write(group[0]))
                continue
            names = ", ".join(self._label(e[2]) for e in group[:3])
            names += ", …" if len(group) > 3 else ""
            worst = max({e[1] for e in group}, key=_SEVERITY_ORDER.index)
            merged.append(Notice(title, f"{len(group)} guilds: {names}", worst))
        return merged

    def _record(self, snapshot: GuildSnapshot, events: list[_Event]) -> None:
        # Records the snapshot; appends what it announces to events, its text not yet written.
        guild_id, connection, status = snapshot.guild_id, snapshot.connection, snapshot.status
        health: Health = "unknown" if status is None else "online" if status.healthy else "offline"
        was = self._seen.get(guild_id)
        if was == (connection, health):
            return  # the same pair leaves every set below as it is: nothing to say
        self._seen[guild_id] = connection, health
        # Still live (a bot flipping in every guild): the outage sets were settled when it
        # connected, so only its health can be news.
        if was is None or not was[0] == connection == "connected":
            self._connection_events(snapshot, events)
        if health != "unknown":
            before = self._health.get(guild_id)
            self._health[guild_id] = health
            if before is not None and before != health:
                events.append((*_FLIPS[health], snapshot))

    def _connection_events(self, snapshot: GuildSnapshot, events: list[_Event]) -> None:
        guild_id, connection = snapshot.guild_id, snapshot.connection
        if connection == "connected":
            if guild_id in self._announced_outage:
                self._announced_outage.discard(guild_id)
                events.append(("Reconnected", "information", snapshot))
            self._was_connected.add(guild_id)
        elif guild_id not in self._announced_outage and (
            connection == "error"
            or (connection == "disconnected" and guild_id in self._was_connected)
        ):
            self._announced_outage.add(guild_id)
            if connection == "error":
                # A 401/403/404 is named, as in the row: "Connection lost" would hide the fix.
                events.append((fatal_reason(snapshot) or "Connection lost", "error", snapshot))
            else:
                events.append(("Connection lost", "warning", snapshot))

    def _write(self, event: _Event) -> Notice:
        title, severity, snapshot = event
        label = self._label(snapshot)
        if title == "Reconnected":
            return Notice(title, f"{label}: live again.", severity, label)
        if title == "Bot offline":
            return Notice(title, f"{label}: the bot went offline. Check Discord.", severity, label)
        if title == "Bot online":
            return Notice(title, f"{label}: the bot is back online.", severity, label)
        return _lost(snapshot, label)


def _lost(snapshot: GuildSnapshot, label: str) -> Notice:
    reason = safe(snapshot.error.message, _MESSAGE_CELLS) if snapshot.error else ""
    if snapshot.connection == "error":
        detail = f" {reason}" if reason else ""
        # A 401/403/404 is named, as in the row: "Connection lost" would hide the fix.
        title = fatal_reason(snapshot) or "Connection lost"
        return Notice(title, f"{label}:{detail} Press r to retry.", "error", label)
    detail = f" ({reason})" if reason else ""
    return Notice("Connection lost", f"{label}: reconnecting…{detail}", "warning", label)
