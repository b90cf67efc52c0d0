"""The alert loop: follows the store, debounces with an Alerter, fires the sinks.

It subscribes to the store itself, so the screen and the headless view only give it two
callables: one that writes a control sequence to the terminal, one that shows a problem.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from guildwatch.alerts._alerter import DEFAULT_HOLD_DOWN, Alerter, Change
from guildwatch.alerts._command import DEFAULT_MAX_RUNNING, DEFAULT_TIMEOUT, CommandRunner
from guildwatch.alerts._gate import AlertGate
from guildwatch.alerts._silence import Silences
from guildwatch.alerts._terminal import BEL, DesktopStyle, desktop_sequence
from guildwatch.store import StatusStore, Subscription

log = logging.getLogger("guildwatch.alerts")

MAX_RATE = 20.0
"""Store wake-ups per second for the alert loop (changes are coalesced, then debounced)."""


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """Which sinks fire, and how the hold-down and the command are bounded."""

    bell: bool = True
    desktop: DesktopStyle | None = None
    on_change: tuple[str, ...] | None = None
    """The user's configured argv (``shlex.split`` of their string), never server data."""
    hold_down: float = DEFAULT_HOLD_DOWN
    command_timeout: float = DEFAULT_TIMEOUT
    max_running: int = DEFAULT_MAX_RUNNING
    repeat: float = 0.0
    """Seconds between reminders while a guild stays down (``--alert-repeat``); 0: off."""

    @property
    def enabled(self) -> bool:
        """Whether any sink would fire (else there is no need to run the service)."""
        return self.bell or self.desktop is not None or self.on_change is not None


class AlertService:
    """Announces debounced changes of the store's guilds through the configured sinks.

    Args:
        settings: Which sinks, the hold-down and the command's bounds.
        clock: Monotonic seconds (tests inject their own).
        env: The command's environment (default: ours without the token's variables).
        silences: The operator's silences, shared with the view (None: only maintenances).
    """

    def __init__(
        self,
        settings: AlertSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        env: Mapping[str, str] | None = None,
        silences: Silences | None = None,
    ) -> None:
        self.settings = settings
        self.alerter = Alerter(settings.hold_down, clock=clock)
        self.gate = AlertGate(silences, repeat=settings.repeat, clock=clock)
        self._poked = asyncio.Event()
        self.gate.silences.listeners.append(lambda entries: self._poked.set())
        self._clock = clock
        self._env = env
        self.runner: CommandRunner | None = None
        """The ``--on-change`` runner while :meth:`run` runs (None without a command)."""
        self.sent: list[Change] = []
        """Every change announced so far (reminders too), oldest first; a silence's held
        changes are in ``gate.held``."""

    async def run(
        self,
        store: StatusStore,
        *,
        terminal: Callable[[str], None],
        report: Callable[[str], None],
    ) -> None:
        """Announce changes until cancelled.

        Args:
            store: The store to follow; its current snapshots are taken in first.
            terminal: Writes a control sequence (bell, OSC) to the terminal, or drops it.
            report: Shows a problem to the user (a toast, a stderr line); must not raise.
        """
        self.alerter.wall_clock = store.clock  # change times as the store stamps everything
        if self.settings.on_change is not None:
            self.runner = CommandRunner(
                self.settings.on_change,
                timeout=self.settings.command_timeout,
                max_running=self.settings.max_running,
                report=report,
                env=self._env,
            )
        subscription = store.subscribe(max_rate=MAX_RATE)
        try:
            changes: list[Change] = []
            for snapshot in store.snapshots():
                self.gate.observe(snapshot)
                changes += self.alerter.update(snapshot)
            while True:
                self._fire(self.gate.admit(changes) + self.gate.due(), terminal)
                changes = await self._next(store, subscription)
        finally:
            subscription.close()
            if self.runner is not None:
                await self.runner.close()

    async def _next(self, store: StatusStore, subscription: Subscription) -> list[Change]:
        """Wait for a store change, a change of the silences, or the next deadline (hold-down,
        reminder, a silence's end), whichever comes first."""
        deadlines = [self.alerter.next_deadline(), self.gate.next_deadline()]
        deadline = min((d for d in deadlines if d is not None), default=None)
        delay = None if deadline is None else max(0.0, deadline - self._clock())
        self._poked.clear()
        changed_task = asyncio.ensure_future(anext(subscription))
        poked_task = asyncio.ensure_future(self._poked.wait())
        try:
            await asyncio.wait(
                {changed_task, poked_task}, timeout=delay, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            poked_task.cancel()
            if not changed_task.done():
                changed_task.cancel()
            await asyncio.gather(changed_task, poked_task, return_exceptions=True)
        changes: list[Change] = []
        if changed_task.done() and not changed_task.cancelled():
            for guild_id in changed_task.result():
                snapshot = store.get(guild_id)
                self.gate.observe(snapshot)
                changes += self.alerter.update(snapshot)
        return changes + self.alerter.due()

    def _fire(self, changes: list[Change], terminal: Callable[[str], None]) -> None:
        for change in changes:
            self.sent.append(change)
            log.info("alert: %s", change.summary())
            if self.settings.bell:
                terminal(BEL)
            if self.settings.desktop is not None:
                terminal(desktop_sequence(self.settings.desktop, change))
            if self.runner is not None:
                self.runner.submit(change.to_json())
