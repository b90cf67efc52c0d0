"""The screen's alert hook: the app runs the alert service and shows its problems as toasts."""

from __future__ import annotations

import asyncio
import inspect

from guildwatch.alerts import AlertService, AlertSettings
from guildwatch.ui import GuildwatchApp, run_tui
from tests.ui.support import GUILD, FakeClock, RecordingEngine, put_in_state, seeded_store


async def test_screen_runs_alerts_and_toasts_a_failing_command() -> None:
    clock = FakeClock()
    store = seeded_store("online", clock)
    settings = AlertSettings(bell=True, on_change=("no-such-pager",), hold_down=0.0)
    alerts = AlertService(settings)
    app = GuildwatchApp(store, RecordingEngine(), animation=False, alerts=alerts)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        assert alerts.sent == []  # online at start: no news
        put_in_state(store, "offline", clock)
        async with asyncio.timeout(20):
            while not any("no-such-pager" in n.message for n in app._notifications):
                await pilot.pause(0.05)
        assert [(c.guild_id, c.before, c.after) for c in alerts.sent] == [
            (GUILD, "online", "offline")
        ]
        (toast,) = [n for n in app._notifications if "no-such-pager" in n.message]
        assert toast.severity == "warning"
        assert toast.message == (
            "on-change command no-such-pager could not be started (No such file or directory)"
        )
        assert app.is_running  # a failing hook is never fatal


def test_the_screen_rings_only_through_the_alert_service() -> None:
    # A second, undebounced bell switch on the app (that no caller set) would ring once per
    # toast, beside the alert service's debounced bell: there is one way to ring.
    assert "bell" not in inspect.signature(GuildwatchApp).parameters
    assert "bell" not in inspect.signature(run_tui).parameters
