"""Every line that moves with the clock shares the app's one tick (ui/_ticking.py)."""

from __future__ import annotations

from textual.timer import Timer

from guildwatch.ui import GuildwatchApp
from guildwatch.ui._last_seen import LastSeen
from guildwatch.ui._silence import SilenceMark
from guildwatch.ui._ticking import ticker
from tests.ui.support import FakeClock, RecordingEngine, seeded_store, wait_for


def quiet_app(clock: FakeClock) -> GuildwatchApp:
    """One Online guild, pulse off."""
    store = seeded_store("online", clock)
    return GuildwatchApp(store, RecordingEngine(), animation=False, clock=clock)


def running_timers(app: GuildwatchApp) -> list[Timer]:
    """Timers of the app and every widget that are not paused."""
    owners = [app, *app.screen.walk_children()]
    return [t for owner in owners for t in owner._timers if t._active.is_set()]


async def test_one_timer_for_every_ticking_line() -> None:
    clock = FakeClock()
    app = quiet_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        listeners = ticker(app)._listeners
        assert app.query_one(LastSeen) in listeners
        assert app.query_one(SilenceMark) in listeners
        # With the pulse off, the one tick is the only timer that runs.
        names = [t.name for t in running_timers(app)]
        assert names.count("tick") == 1
        assert [n for n in names if n != "tick" and "screen" not in n] == []
        # The one tick still moves every line on.
        clock.advance(5 * 60)
        await wait_for(pilot, lambda: "5 minutes ago" in app.query_one(LastSeen).text, "tick")


async def test_the_tick_pauses_when_no_line_listens() -> None:
    clock = FakeClock()
    app = quiet_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shared = ticker(app)
        for key in list(shared._listeners):
            shared.ignore(key)
        assert "tick" not in [t.name for t in running_timers(app)]
        shared.listen("again", lambda: None)
        assert "tick" in [t.name for t in running_timers(app)]
