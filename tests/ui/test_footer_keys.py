"""The footer rebuilds its keys only when they change.

Textual asks the footer to recompose on every focus change and binding refresh; a recompose that
yields the same keys cost ~20 ms each, five or six times between the first frame and the first
status (bench/startup.py).
"""

from __future__ import annotations

from textual.widgets._footer import FooterKey

from guildwatch.ui import GuildwatchApp
from guildwatch.ui._footer import KeysFooter
from tests.ui.support import FakeClock, RecordingEngine, put_in_state, seeded_store, wait_for


def _keys(app: GuildwatchApp) -> list[FooterKey]:
    return list(app.query_one(KeysFooter).query(FooterKey))


async def test_a_binding_refresh_that_changes_nothing_keeps_the_keys() -> None:
    clock = FakeClock()
    app = GuildwatchApp(seeded_store("online", clock), RecordingEngine(), clock=clock)
    async with app.run_test(size=(100, 24)) as pilot:
        await wait_for(pilot, lambda: bool(_keys(app)), "the footer's keys")
        await pilot.pause()
        before = _keys(app)
        app.screen.refresh_bindings()
        if (focused := app.screen.focused) is not None:
            focused.focus()  # a focus "change" to the same widget, as at start-up
        await pilot.pause()
        await pilot.pause()
        assert _keys(app) == before
        assert all(new is old for new, old in zip(_keys(app), before, strict=True))


async def test_keys_that_change_are_rebuilt() -> None:
    clock = FakeClock()
    store = seeded_store("online", clock)
    app = GuildwatchApp(store, RecordingEngine(), clock=clock)
    async with app.run_test(size=(100, 24)) as pilot:
        await wait_for(pilot, lambda: bool(_keys(app)), "the footer's keys")
        assert "retry_all" not in [key.action for key in _keys(app)]
        store.add_guild("222", name="Guild 222")  # a second guild: the list, with "Retry all"
        put_in_state(store, "offline", clock, "222")
        await wait_for(
            pilot,
            lambda: "retry_all" in [key.action for key in _keys(app)],
            "Retry all in the footer",
        )
