"""Between the Alerter's decisions and the sinks: silences and reminders.

The :class:`~guildwatch.alerts.Alerter` decides that a change happened; the gate decides
whether it is sent now:

- a guild that is silenced (by the operator, or by its bot's maintenance) sends nothing for
  going down; the change is still shown and printed, it only does not ring. If the silence ends
  while the guild is still down, the held alert is sent then;
- the way back ("back Online") is always sent once the outage was announced, and also when the
  silence ended at that moment (an "until back" silence ends exactly then);
- a guild that stays down is announced again every ``repeat`` seconds (0: never), except while
  silenced.

Pure logic over an injectable monotonic clock (and the silences' wall clock), like the Alerter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from guildwatch.alerts._alerter import AlertState, Change, alert_state
from guildwatch.alerts._silence import Silences
from guildwatch.store import GuildSnapshot


def is_up(state: AlertState | None) -> bool | None:
    """What the silences need to know: up, down, or not known (connecting, retrying)."""
    if state is None:
        return None
    return state == "online"


@dataclass(slots=True)
class _Down:
    """A guild whose last change was a down one."""

    change: Change
    announced: bool
    """Sent to the sinks (False: held by a silence)."""
    next_at: float | None = None
    """When the next reminder is due (monotonic seconds), if reminders are on."""


class AlertGate:
    """Lets through, holds back, or repeats the Alerter's changes.

    Args:
        silences: The operator's silences (None: nothing is ever silenced but a maintenance).
        repeat: Seconds between reminders while a guild stays down; 0 turns them off.
        clock: Monotonic seconds, injectable for tests (the Alerter's clock).
    """

    def __init__(
        self,
        silences: Silences | None = None,
        *,
        repeat: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.silences = silences if silences is not None else Silences()
        self.repeat = repeat
        self._clock = clock
        self._snapshots: dict[str, GuildSnapshot] = {}
        self._down: dict[str, _Down] = {}
        self.held: list[Change] = []
        """Every change a silence kept from the sinks, oldest first."""

    def observe(self, snapshot: GuildSnapshot) -> None:
        """Take a guild's latest snapshot (an "until back" silence may end with it)."""
        self._snapshots[snapshot.guild_id] = snapshot
        self.silences.observe(snapshot.guild_id, is_up(alert_state(snapshot)))

    def silenced(self, guild_id: str) -> bool:
        """Whether the guild's alerts are silenced now."""
        return self.silences.state(guild_id, self._snapshots.get(guild_id)) is not None

    def admit(self, changes: list[Change]) -> list[Change]:
        """The changes to send now, of those the Alerter just announced."""
        now = self._clock()
        sent: list[Change] = []
        for change in changes:
            guild_id = change.guild_id
            if change.after == "online":
                down = self._down.pop(guild_id, None)
                if down is None or down.announced or not self.silenced(guild_id):
                    sent.append(change)
                else:
                    self.held.append(change)
                continue
            if self.silenced(guild_id):
                self._down[guild_id] = _Down(change, announced=False)
                self.held.append(change)
            else:
                self._down[guild_id] = _Down(change, announced=True, next_at=self._next(now))
                sent.append(change)
        return sent

    def due(self) -> list[Change]:
        """Held alerts whose silence is over, and reminders whose time has come."""
        now = self._clock()
        sent: list[Change] = []
        for guild_id, down in self._down.items():
            silenced = self.silenced(guild_id)
            if not down.announced:
                # Back up already (an "until back" silence just ended): the way back is the
                # news, and the Alerter announces it once it holds.
                if not silenced and not self._up_now(guild_id):
                    down.announced, down.next_at = True, self._next(now)
                    sent.append(down.change)
                continue
            if down.next_at is None or now < down.next_at:
                continue
            down.next_at = self._next(now)
            if not silenced:
                sent.append(replace(down.change, reminder=True))
        return sent

    def next_deadline(self) -> float | None:
        """When :meth:`due` may next have something (monotonic seconds); None: nothing."""
        deadlines = [d.next_at for d in self._down.values() if d.announced and d.next_at]
        expiry = self.silences.next_expiry()
        if expiry is not None and any(not d.announced for d in self._down.values()):
            left = (expiry - self.silences.clock()).total_seconds()
            deadlines.append(self._clock() + max(0.0, left))
        return min(deadlines, default=None)

    def _up_now(self, guild_id: str) -> bool:
        snapshot = self._snapshots.get(guild_id)
        return snapshot is not None and alert_state(snapshot) == "online"

    def _next(self, now: float) -> float | None:
        return now + self.repeat if self.repeat > 0 else None
