"""The Textual screen: a thin view that renders the status store."""

from __future__ import annotations

import os

from guildwatch.alerts import ReportRelay, Silences
from guildwatch.store import StatusStore
from guildwatch.ui._engine import EngineLike
from guildwatch.ui._signals import HANGUP_GRACE
from guildwatch.ui.app import AlertsLike, GuildwatchApp

__all__ = ["AlertsLike", "EngineLike", "GuildwatchApp", "run_tui"]


def run_tui(
    store: StatusStore,
    engine: EngineLike,
    *,
    animation: bool = True,
    inline: bool = False,
    mouse: bool = True,
    alerts: AlertsLike | None = None,
    silences: Silences | None = None,
    silence_reports: ReportRelay | None = None,
) -> int:
    """Run the screen until the operator quits; the CLI's one entry point into Textual.

    Args:
        store: The store the engine writes into (guilds already added).
        engine: Started by the app in a worker and stopped on quit.
        animation: False (``--no-animation``) turns the pulse off.
        inline: Draw below the prompt instead of taking the whole terminal (best effort:
            Textual falls back to full screen on Windows). The last frame stays printed on exit.
        mouse: False (``--no-mouse``) leaves the mouse to the terminal, so selecting text
            needs no Shift.
        alerts: Run in a worker; rings the bell, writes OSC notifications through Textual's
            driver and shows its problems (e.g. a failing ``--on-change``) as toasts.
        silences: The silences ``s`` and ``S`` change (shared with ``alerts``).
        silence_reports: Problems with the silences' state file, shown as toasts.

    Returns:
        The process exit code: 0 after a normal quit (also SIGTERM, SIGHUP), 130 after Ctrl+C.
    """
    # shutil.get_terminal_size() (Textual's size source) prefers COLUMNS/LINES over the tty,
    # so an inherited pair (GNU readline exports them, e.g. from a parent Python) would pin the
    # size and ignore every resize of a tmux pane. The tty is the truth for a full-screen app.
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)
    app = GuildwatchApp(
        store,
        engine,
        animation=animation,
        alerts=alerts,
        hangup_grace=HANGUP_GRACE,
        silences=silences,
        silence_reports=silence_reports,
        freeze_heap=True,
    )
    try:
        # inline_no_clear: the final state stays under the prompt, like any command's output.
        app.run(inline=inline, inline_no_clear=inline, mouse=mouse)
    finally:
        app.disarm_hangup_exit()
    return app.return_code or 0
