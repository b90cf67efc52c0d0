"""What the start-up does before the first frame and the first connection: nothing it can avoid.

bench/startup.py measures the time; these check the mechanisms behind it. Before these, the
first frame of one guild paid a blur and a focus restyle (Textual's "*" focused the scroll
container, on_mount moved the focus to the line), a whole-tree restyle when the first resize
added the breakpoint classes, and ten FooterKey restyles (their ``compact`` went True, then
False) delayed the engine's start; then the engine imported httpx's command-line tool.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable

import pytest
from textual.css.stylesheet import Stylesheet
from textual.dom import DOMNode
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from guildwatch.ui import GuildwatchApp
from guildwatch.ui._compositor import LeanScreen
from guildwatch.ui._status_line import StatusLine
from tests.ui.support import FakeClock, RecordingEngine, seeded_store, wait_for


def _recording_restyles(monkeypatch: pytest.MonkeyPatch) -> list[list[DOMNode]]:
    restyled: list[list[DOMNode]] = []
    update_nodes = Stylesheet.update_nodes

    def recorded(self: Stylesheet, nodes: Iterable[DOMNode], animate: bool = False) -> None:
        nodes = list(nodes)
        restyled.append(nodes)
        update_nodes(self, nodes, animate)

    monkeypatch.setattr(Stylesheet, "update_nodes", recorded)
    return restyled


@pytest.mark.parametrize(
    ("size", "classes"), [((80, 24), {"-wide", "-tall"}), ((20, 3), {"-narrow", "-short"})]
)
async def test_one_guild_starts_with_one_whole_screen_restyle_and_none_of_the_footer(
    size: tuple[int, int], classes: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    restyled = _recording_restyles(monkeypatch)
    clock = FakeClock()
    app = GuildwatchApp(seeded_store("connecting", clock), RecordingEngine(), clock=clock)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LeanScreen)
        assert classes <= screen.classes
        assert isinstance(app.focused, StatusLine)
        whole = [nodes for nodes in restyled if nodes and nodes[0] is screen]
        # The screen's resume restyles it once; a second pass was the breakpoint classes.
        assert len(whole) == 1
        assert not any(isinstance(node, FooterKey) for nodes in restyled for node in nodes)
        # Focus went straight to the line: the scroll container was never focused or blurred.
        scroll = screen.query_one("#guilds")
        assert not any(nodes[0] is scroll for nodes in restyled if nodes)
        if size[1] >= 6:  # a short pane has no footer
            await wait_for(pilot, lambda: bool(app.query(FooterKey).nodes), "the footer's keys")
        keys = app.query(FooterKey).nodes
        footer = app.query_one(Footer)
        assert all(key.compact is footer.compact for key in keys)
        assert not any(key.has_class("-compact") for key in keys)


def test_the_engine_imports_httpx_without_its_command_line_tool_or_trio() -> None:
    # In a fresh interpreter: this one imported httpx long ago.
    script = """
import sys
from guildwatch.engine import Engine
import httpx
assert "httpx._main" not in sys.modules, "httpx's CLI was imported"
assert "click" not in sys.modules, "click was imported"
assert "trio" not in sys.modules, "httpcore imported trio"
assert callable(httpx.main) and httpx.AsyncClient and Engine
import httpx._main  # the placeholders are gone: the real modules still import
assert sys.modules["httpx._main"] is not None
import importlib.util
if importlib.util.find_spec("trio") is not None:  # installed (selenium brings it): importable
    import trio
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
