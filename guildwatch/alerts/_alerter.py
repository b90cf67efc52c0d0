"""The debouncing decision: which changes of a guild's state are announced, and when.

Pure logic over snapshots and an injectable monotonic clock, so the hold-down is tested with a
fake clock and no sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from guildwatch import defaults, display
from guildwatch.store import Clock, GuildSnapshot, Problem, utc_now

AlertState = Literal["online", "degraded", "offline", "lost"]
"""What an alert can say about a guild; the screen's words are Online, Degraded, Offline,
Connection lost."""

DEFAULT_HOLD_DOWN = defaults.ALERT_HOLD_DOWN.value
"""Seconds a change must hold before it is announced: longer than one 1 Hz flap."""

_SEVERITY: dict[AlertState, int] = {"online": 0, "degraded": 1, "offline": 2, "lost": 3}
"""Worse is higher: a flapping guild escalates to the worst it visited."""
_WORDS: dict[AlertState | None, str] = {
    None: "unknown",
    "online": "Online",
    "degraded": "Degraded",
    "offline": "Offline",
    "lost": "Connection lost",
}


def alert_state(snapshot: GuildSnapshot) -> AlertState | None:
    """The state an alert can speak of, or None while it is not known (connecting, retrying).

    Uses the screen's rule (``display.status_kind``): a stream that is down does not vouch for
    the last health it saw, but a poll does. Degraded (a shard down, a latency judged too high
    over its window, the bot's word) is a state of its own, with the same hold-down; a
    maintenance the bot declared is no news either way.
    """
    kind = display.status_kind(snapshot)
    if kind in ("online", "degraded", "offline", "lost"):
        return kind
    return None


@dataclass(frozen=True, slots=True)
class Change:
    """One announced change of a guild's state."""

    guild_id: str
    name: str | None
    before: AlertState | None
    """The state announced before (None: nothing announced yet, e.g. found down at start)."""
    after: AlertState
    at: datetime
    """When the guild entered the new state (wall clock, UTC)."""
    version: str | None
    """The bot's version as the server sent it (raw: data for JSON, sanitised for display)."""
    error: Problem | None = None
    """The connection problem, if any (raw server-derived text: data, not display)."""
    reminder: bool = False
    """Sent again because the guild stayed down (``--alert-repeat``), not a new change."""

    def to_json(self) -> dict[str, Any]:
        """The object ``--on-change`` reads on stdin (add fields, never rename)."""
        return {
            "guild": self.guild_id,
            "name": self.name,
            "from": self.before,
            "to": self.after,
            "time": _rfc3339(self.at),
            "version": self.version,
            "error": None
            if self.error is None
            else {"kind": self.error.kind, "message": self.error.message},
            "reminder": self.reminder,
        }

    def summary(self) -> str:
        """One sanitised line for people: ``My guild: Offline (was Online)``."""
        label = display.safe(self.name or self.guild_id, 40)
        if self.reminder:
            return f"{label}: still {_WORDS[self.after]}"
        if self.after == "online":
            return f"{label}: back Online (was {_WORDS[self.before]})"
        was = f" (was {_WORDS[self.before]})" if self.before is not None else ""
        return f"{label}: {_WORDS[self.after]}{was}"


@dataclass(slots=True)
class _Guild:
    """What the Alerter remembers about one guild."""

    announced: AlertState | None = None
    """The last state announced; None until the first one (a quiet Online counts)."""
    observed: AlertState | None = None
    observed_since: float = 0.0
    observed_at: datetime | None = None
    left_at: float | None = None
    """When the guild last left home without settling back (an excursion), else None."""
    worst: AlertState = "online"
    """The worst state seen during the excursion, home included."""
    snapshot: GuildSnapshot | None = field(default=None, repr=False)

    @property
    def home(self) -> AlertState:
        """Where the guild is taken to be: the announced state, Online before any."""
        return self.announced or "online"


class Alerter:
    """Decides when a guild's change is announced: debounced by a hold-down.

    Rules, per guild, with "home" the announced state (Online before the first one):

    - a state other than home that has held ``hold_down`` seconds is announced (either way);
      so a guild found Offline or lost at start is announced (from None) once that holds,
      and a pager learns of a bot that was already down, while Online at start is quiet;
    - if the guild left home ``hold_down`` seconds ago, is away now and has not settled
      (flapping), the worst state it visited is announced, but only if that is *worse* than
      home: getting better always needs a state that holds;
    - a guild back home before either happens made no news (a blip).

    Args:
        hold_down: Seconds a change must hold (0: announce at once).
        clock: Monotonic seconds, injectable for tests.
        wall_clock: For the time of a change.
    """

    def __init__(
        self,
        hold_down: float = DEFAULT_HOLD_DOWN,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Clock = utc_now,
    ) -> None:
        self.hold_down = hold_down
        self._clock = clock
        self.wall_clock = wall_clock
        """Stamps :attr:`Change.at`; the alert service sets it to the store's clock."""
        self._guilds: dict[str, _Guild] = {}

    def update(self, snapshot: GuildSnapshot) -> list[Change]:
        """Take a guild's latest snapshot; returns the changes now due (all guilds)."""
        now = self._clock()
        guild = self._guilds.setdefault(snapshot.guild_id, _Guild())
        guild.snapshot = snapshot
        state = alert_state(snapshot)
        if state is not None:  # connecting or retrying: no evidence either way
            if guild.announced is None and guild.left_at is None and state == "online":
                guild.announced = "online"  # found Online: the quiet baseline
            if state != guild.observed:
                guild.observed, guild.observed_since = state, now
                guild.observed_at = self.wall_clock()
            if state != guild.home and guild.left_at is None:
                guild.left_at, guild.worst = now, guild.home
            if guild.left_at is not None:
                guild.worst = _worse(guild.worst, state)
        return self.due()

    def due(self) -> list[Change]:
        """The changes whose hold-down has passed by now (call again at :meth:`next_deadline`)."""
        now = self._clock()
        changes: list[Change] = []
        for guild_id, guild in self._guilds.items():
            change = self._decide(guild_id, guild, now)
            if change is not None:
                changes.append(change)
        return changes

    def next_deadline(self) -> float | None:
        """When (in ``clock`` seconds) :meth:`due` may next have something; None: nothing."""
        deadlines = [
            deadline
            for guild in self._guilds.values()
            if (deadline := _deadline(guild, self.hold_down)) is not None
        ]
        return min(deadlines, default=None)

    def _decide(self, guild_id: str, guild: _Guild, now: float) -> Change | None:
        if guild.left_at is None or guild.observed is None:
            return None
        settled = now - guild.observed_since >= self.hold_down
        if guild.observed == guild.home:
            if settled:  # came back and stayed: no news
                guild.left_at = None
                guild.announced = guild.home
            return None
        if settled:
            target = guild.observed
        elif now - guild.left_at >= self.hold_down and _escalates(guild):
            target = guild.worst  # flapping: escalate once, to the worst state seen
        else:
            return None
        before, guild.announced = guild.announced, target
        if guild.observed == target:
            guild.left_at = None
        else:  # still flapping: a new excursion from the new home began with this state
            guild.left_at, guild.worst = guild.observed_since, _worse(target, guild.observed)
        return self._change(guild_id, guild, before, target)

    def _change(
        self, guild_id: str, guild: _Guild, before: AlertState | None, after: AlertState
    ) -> Change:
        snapshot = guild.snapshot
        assert snapshot is not None  # set by update() before any state is observed
        status = snapshot.status
        at = guild.observed_at if guild.observed == after and guild.observed_at else None
        return Change(
            guild_id=guild_id,
            name=snapshot.name,
            before=before,
            after=after,
            at=at or self.wall_clock(),
            version=status.version if status else None,
            error=snapshot.error,
        )


def _rfc3339(moment: datetime) -> str:
    # As the headless JSON lines write times: UTC, "Z", milliseconds only when there are any.
    utc = moment.astimezone(UTC)
    text = utc.isoformat(timespec="milliseconds" if utc.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def _worse(a: AlertState, b: AlertState) -> AlertState:
    return a if _SEVERITY[a] >= _SEVERITY[b] else b


def _escalates(guild: _Guild) -> bool:
    return _SEVERITY[guild.worst] > _SEVERITY[guild.home]


def _deadline(guild: _Guild, hold_down: float) -> float | None:
    if guild.left_at is None or guild.observed is None:
        return None
    settle = guild.observed_since + hold_down
    if guild.observed == guild.home or not _escalates(guild):
        return settle
    return min(settle, guild.left_at + hold_down)
