"""Layers are kept apart by a check, not by hope, and the check is shown to fail.

The rules (``tests/layering.py``): the engine and the store import no Textual; the engine, the
store, the UI and the alerts never import the server; the store does no I/O; the UI sees the
engine only as ``guildwatch.engine``; the CLI reaches the server only as ``guildwatch.server``;
nothing but the server imports starlette, uvicorn, sse_starlette or hypercorn; the agent (it
runs inside a bot) imports no Textual, no server, no discord/hikari, and of the rest of
guildwatch only the errors and the token readers.

Every module of the package is imported (``pkgutil.walk_packages``) and its source parsed, so
a module that a lazy ``__init__`` never loads is checked all the same. The checker takes
sources as data: each test below breaks one rule in a copy of the real sources.
"""

from __future__ import annotations

import subprocess
import sys
from functools import cache

import pytest

from tests.layering import Violation, check, imports_of, layer, package_sources


@cache
def _real() -> tuple[dict[str, str], frozenset[str]]:
    return package_sources()


def _modules(*layers: str) -> list[str]:
    return sorted(name for name in _real()[0] if layer(name) in layers)


def _check_with(module: str, extra: str) -> list[Violation]:
    """The real sources, with ``extra`` appended to ``module``."""
    sources, packages = _real()
    changed = {**sources, module: f"{sources[module]}\n{extra}\n"}
    return check(changed, packages)


def _rules_broken_by(module: str, extra: str) -> set[str]:
    return {v.rule for v in _check_with(module, extra) if v.module == module}


def test_every_module_was_found_and_imported() -> None:
    sources, packages = _real()
    # The engine's watcher is exactly what a lazy __init__ hides from an import-based check.
    assert "guildwatch.engine._watcher" in sources
    assert {"guildwatch.engine", "guildwatch.ui", "guildwatch.server"} <= packages
    assert {layer(name) for name in sources} == {
        "engine",
        "store",
        "ui",
        "alerts",
        "cli",
        "server",
        "agent",
        "shared",
    }


def test_the_package_keeps_its_layers() -> None:
    sources, packages = _real()
    assert [str(v) for v in check(sources, packages)] == []


@pytest.mark.parametrize("module", _modules("engine", "store"))
def test_textual_at_the_end_of_an_engine_or_store_module_fails(module: str) -> None:
    layer_name = layer(module)
    assert _rules_broken_by(module, "import textual.app") == {
        f"the {layer_name} imports no Textual"
    }


@pytest.mark.parametrize("module", _modules("engine", "store", "ui", "alerts"))
def test_the_server_imported_by_a_client_layer_fails(module: str) -> None:
    assert f"the {layer(module)} never imports the server" in _rules_broken_by(
        module, "import guildwatch.server"
    )


def test_an_import_inside_a_function_counts() -> None:
    extra = "def later() -> None:\n    from textual.widgets import Label  # noqa\n"
    assert _rules_broken_by("guildwatch.engine._poll", extra) == {"the engine imports no Textual"}


def test_an_import_through_a_shared_module_counts() -> None:
    # The engine imports guildwatch.errors; Textual there is Textual in the engine.
    violations = _check_with("guildwatch.errors", "import textual")
    engine = [v for v in violations if v.module == "guildwatch.engine._watcher"]
    assert engine
    assert engine[0].via == ("guildwatch.errors",)
    assert engine[0].rule == "the engine imports no Textual"
    assert not [v for v in violations if v.module == "guildwatch.errors"]  # shared may


def test_import_module_with_a_literal_name_counts() -> None:
    extra = 'import importlib\nimportlib.import_module("textual.app")'
    assert _rules_broken_by("guildwatch.engine._sse", extra) == {"the engine imports no Textual"}


@pytest.mark.parametrize(
    "extra",
    [
        "import socket",
        "import httpx",
        "from pathlib import Path",
        "import sqlite3",
        "import os.path",
        "import logging",
        "from asyncio import open_connection",
        "def save() -> None:\n    open('status.json', 'w')",
        "def show() -> None:\n    print('hi')",
        "async def dial() -> None:\n    await asyncio.open_connection('h', 1)",
        "async def ask(loop) -> None:\n    await loop.sock_recv(None, 1)",
    ],
)
def test_io_in_the_store_fails(extra: str) -> None:
    rules = _rules_broken_by("guildwatch.store", extra)
    assert len(rules) == 1
    assert next(iter(rules)).startswith("the store does no I/O")


def test_the_store_may_keep_its_events_and_clocks() -> None:
    extra = "import time\nasync def nap() -> None:\n    await asyncio.sleep(0)"
    assert _rules_broken_by("guildwatch.store", extra) == set()


@pytest.mark.parametrize(
    "extra",
    [
        "from guildwatch.engine._settings import EngineSettings",
        "import guildwatch.engine._watcher",
        "from guildwatch.engine import _watcher",
        "from ..engine._engine import Engine",
    ],
)
def test_the_ui_reaching_into_the_engine_fails(extra: str) -> None:
    assert _rules_broken_by("guildwatch.ui.app", extra) == {
        "the UI sees the engine only through its public names (guildwatch.engine)"
    }


def test_the_ui_may_use_the_engines_public_names() -> None:
    extra = "from guildwatch.engine import EngineSettings, DeferredEngine"
    assert _rules_broken_by("guildwatch.ui.app", extra) == set()


@pytest.mark.parametrize(
    "extra",
    [
        "import guildwatch.server._server",  # what --demo did before this check
        "from guildwatch.server._config import ServerConfig",
        "from guildwatch.server import _server",
    ],
)
def test_the_cli_reaching_into_the_server_fails(extra: str) -> None:
    assert _rules_broken_by("guildwatch.cli._demo", extra) == {
        "the CLI reaches the server only through guildwatch.server"
    }


@pytest.mark.parametrize("package", ["starlette", "uvicorn", "sse_starlette", "hypercorn"])
@pytest.mark.parametrize(
    "module", ["guildwatch.cli._run", "guildwatch.display", "guildwatch.alerts._service"]
)
def test_the_servers_web_stack_outside_the_server_fails(package: str, module: str) -> None:
    assert (
        "nothing but the server imports starlette, uvicorn, sse_starlette or hypercorn"
        in _rules_broken_by(module, f"import {package}")
    )


def test_the_server_may_use_its_web_stack() -> None:
    assert _rules_broken_by("guildwatch.server._app", "import hypercorn") == set()


def test_relative_imports_are_resolved() -> None:
    found = imports_of("guildwatch.ui.app", "from ..engine import _x\nfrom . import _rows")
    assert {i.target for i in found} == {
        "guildwatch.engine",
        "guildwatch.engine._x",
        "guildwatch.ui",
        "guildwatch.ui._rows",
    }
    found = imports_of("guildwatch.ui", "from ._rows import Row", is_package=True)
    assert "guildwatch.ui._rows" in {i.target for i in found}


def test_loading_every_engine_and_store_module_loads_no_textual_or_server() -> None:
    # The same rules at run time, in a fresh interpreter (other tests' imports cannot hide
    # anything), importing every module rather than the packages' lazy faces.
    code = (
        "import importlib, pkgutil, sys, guildwatch.engine, guildwatch.store\n"
        "for info in pkgutil.walk_packages(guildwatch.engine.__path__, 'guildwatch.engine.'):\n"
        "    importlib.import_module(info.name)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(result.stdout.split())
    assert "guildwatch.engine._watcher" in loaded
    forbidden = {"textual", "starlette", "uvicorn", "sse_starlette", "hypercorn"}
    assert not {name for name in loaded if name.split(".")[0] in forbidden}
    assert not {name for name in loaded if name.startswith("guildwatch.server")}


_ONLY_AGENT = "the agent uses only guildwatch.agent, the errors and the token readers"
_AGENT_BREAKS = [
    ("import textual.app", "the agent imports no textual"),
    ("import discord", "the agent imports no discord"),
    ("from hikari import GatewayBot", "the agent imports no hikari"),
    ("import guildwatch.server", "the agent never imports the server"),
    ("from guildwatch.store import StatusStore", _ONLY_AGENT),
    ("import guildwatch.ui", _ONLY_AGENT),
]
_ADAPTER_LIBRARY = {"guildwatch.agent.discordpy": "discord", "guildwatch.agent.hikari": "hikari"}


@pytest.mark.parametrize(
    ("module", "extra", "rule"),
    [
        (module, extra, rule)
        for module in _modules("agent")
        for extra, rule in _AGENT_BREAKS
        # Each adapter may name its own library (see the next test).
        if not rule.endswith(f"no {_ADAPTER_LIBRARY.get(module)}")
    ],
)
def test_the_agent_crossing_a_layer_fails(module: str, extra: str, rule: str) -> None:
    assert rule in _rules_broken_by(module, extra)


def test_an_adapter_may_name_only_its_own_library() -> None:
    assert _rules_broken_by("guildwatch.agent.hikari", "import hikari") == set()
    assert _rules_broken_by("guildwatch.agent.hikari", "import discord") == {
        "the agent imports no discord"
    }


def test_the_agent_may_read_tokens_as_the_client_does() -> None:
    extra = "from guildwatch.cli._secrets import read_token_file"
    assert _rules_broken_by("guildwatch.agent.command", extra) == set()
