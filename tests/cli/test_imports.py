"""Headless runs never load Textual, and only ``--demo`` loads the reference server.

Each check runs in a fresh interpreter, so modules imported by other tests cannot hide one.
"""

from __future__ import annotations

import subprocess
import sys

CLI_MODULES = "guildwatch.cli.main, guildwatch.cli._run, guildwatch.cli._headless"


def _imported_after(statement: str) -> set[str]:
    code = f"{statement}; import sys; print('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    return set(result.stdout.split())


def test_the_headless_path_imports_neither_textual_nor_the_server() -> None:
    imported = _imported_after(f"import {CLI_MODULES}")
    assert "guildwatch.engine" in imported
    assert not {name for name in imported if name.split(".")[0] == "textual"}
    assert not {name for name in imported if name.startswith("guildwatch.server")}
    assert not {name for name in imported if name.split(".")[0] in ("starlette", "uvicorn")}


def test_checking_the_command_line_loads_no_network_stack() -> None:
    # A mistyped flag is answered before httpx, rich or Textual are imported (start-up time).
    imported = _imported_after("import guildwatch.cli.main")
    assert not {name for name in imported if name.split(".")[0] in ("httpx", "rich", "textual")}


def test_the_screen_imports_only_what_one_guilds_first_frame_shows() -> None:
    # The list, detail, bot and help views load when first used: ~20 ms before the first paint.
    imported = _imported_after("import guildwatch.cli._run, guildwatch.ui")
    assert "guildwatch.ui.app" in imported
    later = {"_many", "_guild_list", "_guild_detail", "_bot_view", "_help", "_shards"}
    assert not {f"guildwatch.ui.{name}" for name in later} & imported


def test_the_screen_loads_the_alert_service_only_when_a_sink_is_on() -> None:
    # Alerts are opt-in: without a sink the first frame does not wait for the service's imports.
    imported = _imported_after("import guildwatch.cli._run, guildwatch.ui")
    assert "guildwatch.alerts._silence" in imported
    assert not {"guildwatch.alerts._service", "guildwatch.alerts._command"} & imported


def test_every_alerts_name_is_importable() -> None:
    import guildwatch.alerts as alerts

    for name in alerts.__all__:
        assert getattr(alerts, name) is not None
