"""The Textual app: composes one StatusLine per guild, runs the engine, forwards snapshots.

A thin view (issue 6): it never talks HTTP. The engine runs in an async worker and writes into
the :class:`~guildwatch.store.StatusStore`; a second worker follows ``store.subscribe`` (which
coalesces bursts) and hands each changed guild's snapshot to its row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

from textual.app import App
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from guildwatch.display import safe
from guildwatch.errors import GuildwatchError
from guildwatch.store import Clock, StatusStore, Subscription
from guildwatch.ui._engine import EngineLike
from guildwatch.ui._help import HelpScreen
from guildwatch.ui._notices import NoticeTracker
from guildwatch.ui._signals import ExitSignals
from guildwatch.ui._status_line import StatusLine

if TYPE_CHECKING:
    from textual.app import ComposeResult


class AlertsLike(Protocol):
    """What the screen needs from ``guildwatch.alerts.AlertService`` (issue 8's alerts)."""

    async def run(
        self,
        store: StatusStore,
        *,
        terminal: Callable[[str], None],
        report: Callable[[str], None],
    ) -> None:
        """Follow the store and announce changes until cancelled."""


REDRAW_RATE = 10.0
"""At most this many store wake-ups a second: a burst of events costs one repaint."""

TOAST_MIN_SIZE = (60, 12)
"""Terminal size (columns, rows) from which toasts are shown."""

STOP_TIMEOUT = 5.0
"""Quit never hangs on an engine that does not stop; the process is ending anyway."""


class GuildwatchApp(App[None]):
    """Shows every watched guild's bot status, live, and lets the operator retry.

    Args:
        store: The status store the engine writes and this view reads.
        engine: Started in a worker on mount, asked to retry on ``r``, stopped on quit.
        animation: False turns the pulse (and Textual's own animations) off.
        clock: Source of "now" for relative times; defaults to the store's clock.
        bell: Ring the terminal bell on bad news (connection lost, bot offline).
        alerts: Debounced alerts (bell, OSC notification, ``--on-change``), run in a worker.
    """

    # Absolute, so subclasses in other directories (tests, benches) find it too.
    CSS_PATH = Path(__file__).with_name("guildwatch.tcss")
    TITLE = "guildwatch"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "retry", "Retry"),
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        # No text input here, so Ctrl+C can mean what people expect: quit cleanly.
        Binding("ctrl+c", "quit", show=False, priority=True),
        Binding("up", "app.focus_previous", show=False),
        Binding("down", "app.focus_next", show=False),
    ]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (6, "-tall")]  # noqa: RUF012 (Textual's API)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (30, "-wide")]  # noqa: RUF012

    def __init__(
        self,
        store: StatusStore,
        engine: EngineLike,
        *,
        animation: bool = True,
        clock: Clock | None = None,
        bell: bool = False,
        alerts: AlertsLike | None = None,
    ) -> None:
        super().__init__()
        self.alerts = alerts
        self.store = store
        self.engine = engine
        self.clock: Clock = clock or store.clock
        self.bell_on_bad_news = bell
        if not animation:
            # One switch for the pulse and Textual's own animations (pitfalls: Textual 8).
            self.animation_level = "none"
        self._notices = NoticeTracker()
        self._engine_stopped = False
        self._exit_signals = ExitSignals(self._on_exit_signal)
        self._lines: dict[str, StatusLine] = {}
        """Rows by guild id, so a burst over many guilds costs no DOM queries."""
        self.engine_error: BaseException | None = None
        """What ``engine.run()`` raised, if it crashed (a bug): for the CLI's ``--debug``."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="guilds"):
            for snapshot in self.store.snapshots():
                yield StatusLine(snapshot, self.clock)
        yield Footer()

    def on_mount(self) -> None:
        # Subscribe before the engine starts and then catch up, so no write can fall between
        # what compose() showed and the first wake-up of the subscription.
        subscription = self.store.subscribe(max_rate=REDRAW_RATE)
        for line in self.query(StatusLine):
            self._lines[line.guild_id] = line
            snapshot = self.store.get(line.guild_id)
            line.show(snapshot)
            self._notices.seed(snapshot)
        self._sync_several()
        if lines := self.query(StatusLine):
            lines.first().focus()
        self._exit_signals.install()
        self.run_worker(self._follow_store(subscription), name="store", group="store")
        # Network trouble never raises out of engine.run(): anything that does is a bug, which
        # on_worker_state_changed turns into a clean exit with a message (not a dead screen).
        self.run_worker(self.engine.run(), name="engine", group="engine", exit_on_error=False)
        if self.alerts is not None:
            alerts = self.alerts.run(
                self.store, terminal=self._write_terminal, report=self._report_alert_problem
            )
            self.run_worker(alerts, name="alerts", group="alerts", exit_on_error=False)

    def _write_terminal(self, sequence: str) -> None:
        # As App.bell() and copy_to_clipboard() write: straight to the driver, between frames.
        if not self.is_headless and self._driver is not None:
            self._driver.write(sequence)

    def _report_alert_problem(self, message: str) -> None:
        self.log.warning(message)
        if self._room_for_toasts():
            self.notify(message, title="Alert", severity="warning", markup=False)

    async def on_unmount(self) -> None:
        self._exit_signals.remove()
        await self._stop_engine()

    # -- store -> rows -------------------------------------------------------------------

    async def _follow_store(self, subscription: Subscription) -> None:
        try:
            async for changed in subscription:
                for guild_id in changed:
                    await self._show(guild_id)
        finally:
            subscription.close()

    async def _show(self, guild_id: str) -> None:
        snapshot = self.store.get(guild_id)
        line = self._lines.get(guild_id)
        if line is None:
            # A guild added after start (e.g. "watch all my guilds"): give it a row.
            line = self._lines[guild_id] = StatusLine(snapshot, self.clock)
            await self.query_one("#guilds").mount(line)
            self._sync_several()
        else:
            line.show(snapshot)
        for notice in self._notices.update(snapshot):
            if self._room_for_toasts():
                self.notify(
                    notice.message, title=notice.title, severity=notice.severity, markup=False
                )
            if self.bell_on_bad_news and notice.severity != "information":
                self.bell()

    def _room_for_toasts(self) -> bool:
        # A toast is ~20 columns by 4-5 rows: in a small pane it covers the very status it
        # announces (seen at 40x10 in tmux), so there the row alone is the news.
        width, height = self.size
        return width >= TOAST_MIN_SIZE[0] and height >= TOAST_MIN_SIZE[1]

    def _sync_several(self) -> None:
        # The selection highlight only means something when there is a choice.
        self.query_one("#guilds").set_class(len(self._lines) > 1, "-several")

    # -- actions -------------------------------------------------------------------------

    def action_retry(self) -> None:
        """Retry the selected guild now (resets backoff, cancels the wait)."""
        focused = self.focused
        self.engine.retry(focused.guild_id if isinstance(focused, StatusLine) else None)

    def on_status_line_retry_requested(self, message: StatusLine.RetryRequested) -> None:
        self.engine.retry(message.guild_id)

    def action_help(self) -> None:
        """Show the keys and the meaning of each state."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        """Stop the engine (bounded), then leave, restoring the terminal."""
        await self._stop_engine()
        self.exit()

    async def _stop_engine(self) -> None:
        if self._engine_stopped:
            return
        self._engine_stopped = True
        try:
            await asyncio.wait_for(self.engine.stop(), STOP_TIMEOUT)
        except TimeoutError:
            self.log.warning("engine did not stop in time; quitting anyway")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "engine" or event.state != WorkerState.ERROR:
            return
        error = self.engine_error = worker.error
        if isinstance(error, GuildwatchError):
            reason = error.user_message
        else:
            reason = f"internal error: {type(error).__name__}: {error}"
        self.exit(return_code=1, message=safe(f"guildwatch stopped: {reason}", 300))

    def _on_exit_signal(self) -> None:
        self.call_later(self.action_quit)
