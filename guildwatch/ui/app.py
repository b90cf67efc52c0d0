"""The Textual app: shows the guilds, runs the engine, forwards snapshots.

A thin view: it never talks HTTP. The engine runs in an async worker and writes into
the :class:`~guildwatch.store.StatusStore`; a second worker follows ``store.subscribe`` (which
coalesces bursts) and hands each wake-up's changed snapshots to the view. One guild gets the
roomy :class:`StatusLine`; several get one compact row each in :class:`ManyGuilds`,
sorted worst first, with a filter and a detail view.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.app import App
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.containers import VerticalScroll
from textual.filter import LineFilter, Monochrome, NoColor
from textual.worker import Worker, WorkerState

from guildwatch.alerts import ReportRelay, Silences, alert_state
from guildwatch.display import safe
from guildwatch.durations import UNTIL_BACK, parse_duration
from guildwatch.errors import GuildwatchError
from guildwatch.store import Clock, GuildSnapshot, StatusStore, Subscription
from guildwatch.ui._compositor import LeanScreen
from guildwatch.ui._engine import EngineLike
from guildwatch.ui._footer import KeysFooter
from guildwatch.ui._notices import Notice, NoticeTracker
from guildwatch.ui._signals import ExitSignals
from guildwatch.ui._silence import UNSILENCE, SilenceMark, SilencePicker
from guildwatch.ui._status_line import StatusLine

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from guildwatch.ui._guild_detail import GuildDetail
    from guildwatch.ui._guild_list import GuildList
    from guildwatch.ui._many import ManyGuilds


class AlertsLike(Protocol):
    """What the screen needs from ``guildwatch.alerts.AlertService``."""

    async def run(
        self,
        store: StatusStore,
        *,
        terminal: Callable[[str], None],
        report: Callable[[str], None],
    ) -> None:
        """Follow the store and announce changes until cancelled."""


REDRAW_RATE = 20.0
"""At most this many store wake-ups a second: a burst of events costs one repaint per 50 ms,
so the screen trails the stream by at most that plus a frame (bench/burst.py; at 10 a second
it trailed a 10,000-event burst by 109 ms, at 20 by 61 ms)."""

TOAST_MIN_SIZE = (60, 12)
"""Terminal size (columns, rows) from which toasts are shown."""

INTERRUPTED = 130
"""Exit code after Ctrl+C: 128 + SIGINT, what shells report for an interrupted command."""

STOP_TIMEOUT = 5.0
"""Quit never hangs on an engine that does not stop; the process is ending anyway."""


class NoColour(LineFilter):
    """Drops every colour and keeps bold, dim, reverse, underline: https://no-color.org.

    Textual's own NO_COLOR filter turns colours grey, still as 256-colour or RGB codes, so a
    terminal that honours NO_COLOR would get colour anyway.
    """

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        base = background.rich_color
        return [
            Segment(text, None if style is None else _without_colour(style, base), control)
            for text, style, control in segments
        ]


def _without_colour(style: Style, base: RichColor) -> Style:
    # A background of its own (the selected row, a toast) is what sets it apart: keep that
    # as reverse video, or the selection would vanish with the colour.
    plain = style.without_color
    if style.bgcolor is not None and not style.bgcolor.is_default and style.bgcolor != base:
        return plain + _REVERSE
    return plain


_REVERSE = Style(reverse=True)


def no_color_wanted() -> bool:
    """NO_COLOR set to anything but the empty string (the spec; Textual also counts "")."""
    return bool(os.environ.get("NO_COLOR"))


class GuildwatchApp(App[None]):
    """Shows every watched guild's bot status, live, and lets the operator retry.

    Args:
        store: The status store the engine writes and this view reads.
        engine: Started in a worker on mount, asked to retry on ``r``, stopped on quit.
        animation: False turns the pulse (and Textual's own animations) off.
        clock: Source of "now" for relative times; defaults to the store's clock.
        hangup_grace: After SIGHUP, force the process out if the shutdown takes longer than
            this (see ``_signals``); None (in-process use, tests) never forces an exit.
        alerts: Debounced alerts (bell, OSC notification, ``--on-change``), run in a worker.
        silences: What ``s`` and ``S`` change, shared with ``alerts`` (default: a new,
            unsaved set on the app's clock).
        silence_reports: Problems with the silences' state file, shown once the app runs.
    """

    # Absolute, so subclasses in other directories (tests, benches) find it too.
    CSS_PATH = Path(__file__).with_name("guildwatch.tcss")
    TITLE = "guildwatch"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "retry", "Retry"),
        Binding("R", "retry_all", "Retry all"),
        Binding("enter", "details", "Details"),
        Binding("s", "silence", "Silence"),
        Binding("S", "silence_all", "Silence all"),
        Binding("b", "bot", "Bot", show=False),  # in the help; the footer is full at 40 columns
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        # No text input here, so Ctrl+C can mean what people expect: quit cleanly, with the
        # shell's code for an interrupt (130), as the headless modes do.
        Binding("ctrl+c", "interrupt", show=False, priority=True),
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
        alerts: AlertsLike | None = None,
        hangup_grace: float | None = None,
        silences: Silences | None = None,
        silence_reports: ReportRelay | None = None,
        freeze_heap: bool = False,
    ) -> None:
        super().__init__()
        self._freeze_heap = freeze_heap
        self.no_color = no_color_wanted()
        self._filters = [f for f in self._filters if not isinstance(f, NoColor | Monochrome)]
        if self.no_color:
            self._filters.append(NoColour())
        self.alerts = alerts
        self.store = store
        self.engine = engine
        self.clock: Clock = clock or store.clock
        self.silences = silences if silences is not None else Silences(clock=self.clock)
        self._silence_reports = silence_reports
        if not animation:
            # One switch for the pulse and Textual's animations (docs/upstream-defects.md).
            self.animation_level = "none"
        self._notices = NoticeTracker()
        self._engine_stopped = False
        self._exit_signals = ExitSignals(self._on_exit_signal, hangup_grace=hangup_grace)
        self._lines: dict[str, StatusLine] = {}
        """Rows by guild id, so a burst over many guilds costs no DOM queries."""
        self._many: ManyGuilds | None = None
        """The several-guilds view once there is one (it is never taken down again)."""
        self.engine_error: BaseException | None = None
        """What ``engine.run()`` raised, if it crashed (a bug): for the CLI's ``--debug``."""

    @property
    def many(self) -> ManyGuilds | None:
        """The several-guilds view, or None while one guild has the whole screen."""
        return self._many

    def _detail(self) -> GuildDetail | None:
        """The guild detail view if it is the screen on top."""
        if len(self.screen_stack) == 1:  # the main screen: no need to import the detail view
            return None
        from guildwatch.ui._guild_detail import GuildDetail

        return self.screen if isinstance(self.screen, GuildDetail) else None

    def get_default_screen(self) -> LeanScreen:
        # Same screen, leaner partial repaints: an idle screen's pulse renders 5 widgets, not 9.
        screen = LeanScreen(id="_default")
        # Before the first frame, the first resize added the breakpoint classes: a restyle of
        # the whole tree (2-5 ms, bench/startup.py). Start with the classes it would set (a
        # resize that changes nothing restyles nothing). LeanScreen.AUTO_FOCUS: the same for
        # the focus.
        width, height = self.size
        screen.add_class(
            *screen._get_breakpoint_classes(width, self.HORIZONTAL_BREAKPOINTS),
            *screen._get_breakpoint_classes(height, self.VERTICAL_BREAKPOINTS),
            update=False,
        )
        return screen

    # The views one guild's first frame does not show are imported when first needed: the
    # list, the detail, bot and help screens cost ~20 ms of imports before the first paint.

    def compose(self) -> ComposeResult:
        snapshots = self.store.snapshots()
        if len(snapshots) > 1:
            from guildwatch.ui._many import ManyGuilds

            self._many = ManyGuilds(snapshots, self.clock, id="many")
            yield self._many
        else:
            with VerticalScroll(id="guilds"):
                for snapshot in snapshots:
                    yield StatusLine(snapshot, self.clock)
        yield KeysFooter()

    def on_mount(self) -> None:
        # Subscribe before the engine starts and then catch up, so no write can fall between
        # what compose() showed and the first wake-up of the subscription.
        subscription = self.store.subscribe(max_rate=REDRAW_RATE)
        for line in self.query(StatusLine):
            self._lines[line.guild_id] = line
        for snapshot in self.store.snapshots():
            self._notices.seed(snapshot)
        if self._silence_reports is not None:
            self._silence_reports.connect(self._report_silence_problem)
        for snapshot in self.store.snapshots():
            self._observe(snapshot)
        if (many := self.many) is not None:
            many.guild_list.silences = self.silences
            many.update(self.store.snapshots())
            many.guild_list.focus()
        else:
            for line in self._lines.values():
                line.show(self.store.get(line.guild_id))
            if lines := self.query(StatusLine):
                lines.first().focus()
        self._exit_signals.install()
        self.run_worker(self._follow_store(subscription), name="store", group="store")
        # After the first frame: the CLI's engine imports httpx on its first run (~0.2 s), and
        # the operator should see "Connecting…" meanwhile, not a blank terminal.
        self.call_after_refresh(self._start_engine)
        if self.alerts is not None:
            alerts = self.alerts.run(
                self.store, terminal=self._write_terminal, report=self._report_alert_problem
            )
            self.run_worker(alerts, name="alerts", group="alerts", exit_on_error=False)

    def _start_engine(self) -> None:
        if self._engine_stopped:  # quit before the first frame
            return
        if self._freeze_heap:
            # Everything made so far (Textual, the widgets, every guild's first snapshot)
            # lives as long as the process: kept out of the collector's full passes, which
            # otherwise rescan it all, 20-70 ms with 10,000 guilds, inside a wake-up. The
            # process's own choice (run_tui), never a library side effect on its host.
            gc.freeze()
        # Network trouble never raises out of engine.run(): anything that does is a bug, which
        # on_worker_state_changed turns into a clean exit with a message (not a dead screen).
        self.run_worker(self.engine.run(), name="engine", group="engine", exit_on_error=False)

    def _write_terminal(self, sequence: str) -> None:
        # As App.bell() and copy_to_clipboard() write: straight to the driver, between frames.
        if not self.is_headless and self._driver is not None:
            self._driver.write(sequence)

    def _report_silence_problem(self, message: str) -> None:
        self.log.warning(message)
        if self._room_for_toasts():
            self.notify(message, title="Silences", severity="warning", markup=False)

    def _observe(self, snapshot: GuildSnapshot) -> None:
        # An "until back" silence ends when the guild is back, alerts on or off.
        state = alert_state(snapshot)
        self.silences.observe(snapshot.guild_id, None if state is None else state == "online")

    def _report_alert_problem(self, message: str) -> None:
        self.log.warning(message)
        if self._room_for_toasts():
            self.notify(message, title="Alert", severity="warning", markup=False)

    def disarm_hangup_exit(self) -> None:
        """Called once ``run`` returned: the shutdown did not hang."""
        self._exit_signals.disarm()

    async def on_unmount(self) -> None:
        self._exit_signals.remove()
        await self._stop_engine()

    # -- store -> rows -------------------------------------------------------------------

    async def _follow_store(self, subscription: Subscription) -> None:
        try:
            async for changed in subscription:
                await self._show(changed)
        finally:
            subscription.close()

    async def _show(self, changed: frozenset[str]) -> None:
        # In the store's order, so merged toasts and ties read the same way every time.
        snapshots = self.store.snapshots_of(changed)
        # Only an "until back" silence listens (observe is a no-op for any other guild): with
        # none, a wake-up over 10,000 guilds costs no alert_state per guild.
        listening = {e.guild_id for e in self.silences.entries() if e.until_back}
        if listening:
            for snapshot in snapshots:
                if snapshot.guild_id in listening:
                    self._observe(snapshot)
        screen = self.screen
        if isinstance(screen, LeanScreen):
            # News goes out in the wake-up's own frame, not the next 60 Hz slot (_compositor).
            screen.paint_promptly()
        many = self.many
        if many is None and self.store.guild_count > 1:
            # A second guild arrived (e.g. "watch all my guilds"): switch to the list.
            await self.query_one("#guilds").remove()
            self._lines.clear()
            from guildwatch.ui._many import ManyGuilds

            many = self._many = ManyGuilds(self.store.snapshots(), self.clock, id="many")
            many.guild_list.silences = self.silences
            await self.mount(many, before=self.query_one(KeysFooter))
            many.guild_list.focus()
        if many is not None:
            many.update(snapshots)
        else:
            for snapshot in snapshots:
                if (line := self._lines.get(snapshot.guild_id)) is not None:
                    line.show(snapshot)
        if (detail := self._detail()) is not None and detail.guild_id in changed:
            detail.refresh_from_store()
        self._announce(self._notices.wake(snapshots))

    def _announce(self, notices: list[Notice]) -> None:
        # Already merged (NoticeTracker.wake): a server restart with 1,000 guilds is one
        # piece of news, not 1,000 toasts.
        for notice in notices:
            if self._room_for_toasts():
                self.notify(
                    notice.message, title=notice.title, severity=notice.severity, markup=False
                )

    def on_resize(self, event: events.Resize) -> None:
        # Toasts raised in a roomy pane would cover the rows once it shrinks: drop them there.
        if not self._room_for_toasts(event.size.width, event.size.height):
            self.clear_notifications()

    def _room_for_toasts(self, width: int | None = None, height: int | None = None) -> bool:
        # A toast is ~20 columns by 4-5 rows: in a small pane it covers the very status it
        # announces (seen at 40x10 in tmux), so there the row alone is the news.
        if width is None or height is None:
            width, height = self.size
        return width >= TOAST_MIN_SIZE[0] and height >= TOAST_MIN_SIZE[1]

    # -- actions -------------------------------------------------------------------------

    def action_retry(self) -> None:
        """Retry the selected guild now (resets backoff, cancels the wait)."""
        if (many := self.many) is not None:
            if (selected := many.guild_list.selected) is not None:
                self.engine.retry(selected)
                self._say_if_nothing_to_retry([selected])
            return
        focused = self.focused
        guild_id = focused.guild_id if isinstance(focused, StatusLine) else None
        self.engine.retry(guild_id)
        self._say_if_nothing_to_retry([guild_id] if guild_id else list(self.store.guild_ids))

    def action_retry_all(self) -> None:
        """Retry every guild whose stream is down (``engine.retry(None)``: error or waiting)."""
        self.engine.retry(None)
        self._say_if_nothing_to_retry(list(self.store.guild_ids))

    def _say_if_nothing_to_retry(self, guild_ids: list[str]) -> None:
        # A key that visibly does nothing reads as a broken key: say why instead.
        from guildwatch.ui._guild_detail import RETRYABLE, say_nothing_to_retry

        if not any(self.store.get(g).connection in RETRYABLE for g in guild_ids):
            say_nothing_to_retry(self)

    def action_details(self) -> None:
        """One guild on screen: Enter opens its detail view, as a row of the list does."""
        if self.many is None and (ids := self.store.guild_ids):
            from guildwatch.ui._guild_detail import GuildDetail

            self.push_screen(GuildDetail(self.store, ids[0], self.engine, self.clock))

    def _target_guild(self) -> str | None:
        """The guild ``s`` acts on: the selected row, the focused line, or the only guild."""
        if (detail := self._detail()) is not None:
            return detail.guild_id
        if (many := self.many) is not None:
            return many.guild_list.selected
        focused = self.focused
        if isinstance(focused, StatusLine):
            return focused.guild_id
        ids = self.store.guild_ids
        return ids[0] if ids else None

    def action_silence(self) -> None:
        """Silence the selected guild's alerts: a picker asks how long."""
        guild_id = self._target_guild()
        if guild_id is None:
            return
        label = self.store.get(guild_id).label
        silenced = self.silences.get(guild_id) is not None
        picker = SilencePicker(f"Silence {label}", silenced=silenced)
        self.push_screen(picker, lambda answer: self._silence([guild_id], answer))

    def action_silence_all(self) -> None:
        """Silence every guild's alerts: a picker asks how long."""
        ids = list(self.store.guild_ids)
        silenced = any(self.silences.get(g) is not None for g in ids)
        picker = SilencePicker(f"Silence all {len(ids)} guilds", silenced=silenced)
        self.push_screen(picker, lambda answer: self._silence(ids, answer))

    def _silence(self, guild_ids: list[str], answer: str | None) -> None:
        if answer is None:
            return
        if answer == UNSILENCE:
            self.silences.unsilence(guild_ids)
        else:
            duration = None if answer == UNTIL_BACK else parse_duration(answer)
            self.silences.silence(guild_ids, duration, down=self._is_down)
        self._repaint_rows()

    def _is_down(self, guild_id: str) -> bool:
        state = alert_state(self.store.get(guild_id))
        return state is not None and state != "online"

    def _repaint_rows(self) -> None:
        if (many := self.many) is not None:
            many.guild_list.refresh()
        for mark in self.query(SilenceMark):
            mark.refresh(layout=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # With one guild, r already retries everything there is; in the detail view r is the
        # guild's own retry. Neither needs a second key in the footer (Textual 8: False hides
        # the binding, None would only dim it). Enter is the app's only with one guild on the
        # main screen; with several, the list's own Enter opens the selected row.
        if action == "details":
            return self.many is None and len(self.screen_stack) == 1
        if action == "silence_all":
            return self.many is not None and self._detail() is None
        if action != "retry_all":
            return True
        return self.many is not None and self._detail() is None

    def on_guild_list_detail_requested(self, message: GuildList.DetailRequested) -> None:
        from guildwatch.ui._guild_detail import GuildDetail

        self.push_screen(GuildDetail(self.store, message.guild_id, self.engine, self.clock))

    def on_status_line_retry_requested(self, message: StatusLine.RetryRequested) -> None:
        self.engine.retry(message.guild_id)

    def action_bot(self) -> None:
        """The bot as a whole: its word, uptime and every shard."""
        from guildwatch.ui._bot_view import BotView

        if not isinstance(self.screen, BotView):
            self.push_screen(BotView(self.store, self.engine, self.clock))

    def action_help(self) -> None:
        """Show the keys and the meaning of each state."""
        from guildwatch.ui._help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        """Stop the engine (bounded), then leave, restoring the terminal."""
        await self._stop_engine()
        self.exit()

    async def action_interrupt(self) -> None:
        """Ctrl+C: quit as ``q`` does, with exit code 130 (128 + SIGINT)."""
        await self._stop_engine()
        self.exit(return_code=INTERRUPTED)

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
