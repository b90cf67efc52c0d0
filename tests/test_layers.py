"""Layers are kept apart by a check, not by hope.

The store and the engine must not import Textual (they run headless and are tested alone), and
no client module may import the reference server. Each check runs in a fresh interpreter so
that modules imported by other tests cannot hide a violation.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

CLIENT_MODULES = ["guildwatch.store", "guildwatch.errors", "guildwatch.engine"]


def _imported_after(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    return set(result.stdout.split())


@pytest.mark.parametrize("module", CLIENT_MODULES)
def test_headless_layers_do_not_import_textual(module: str) -> None:
    imported = _imported_after(module)
    # httpx imports its optional command-line client (httpx._main), and with it rich, whenever
    # click and pygments are installed (uvicorn brings click): that import is httpx's, not ours.
    forbidden = {"textual"} if "httpx._main" in imported else {"textual", "rich"}
    assert not {name for name in imported if name.split(".")[0] in forbidden}


@pytest.mark.parametrize("module", CLIENT_MODULES)
def test_client_does_not_import_the_server(module: str) -> None:
    imported = _imported_after(module)
    assert not {name for name in imported if name.startswith("guildwatch.server")}
    assert not {name for name in imported if name.split(".")[0] in ("starlette", "uvicorn")}
