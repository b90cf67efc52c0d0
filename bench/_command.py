"""The real ``guildwatch`` command line for benchmarks, as a user would start it.

The token goes through ``GUILDWATCH_TOKEN`` (the command has no ``--token``), and
``XDG_CONFIG_HOME`` points at an empty directory so that no user configuration changes what is
measured. Until the CLI is installed (``guildwatch.cli.main``), :mod:`bench._screen` stands in:
the same screen and engine, started the way the CLI starts them.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

_EMPTY_CONFIG_HOME = tempfile.mkdtemp(prefix="guildwatch-bench-")


def cli_available() -> bool:
    """True once the ``guildwatch`` console script and its module are installed."""
    try:
        return importlib.util.find_spec("guildwatch.cli.main") is not None
    except ModuleNotFoundError:
        return False


def command_name() -> str:
    """What the report says was measured."""
    return "`guildwatch`" if cli_available() else "`python -m bench._screen` (CLI not merged yet)"


def guildwatch(
    api: str, token: str, guilds: Sequence[str], *flags: str
) -> tuple[list[str], dict[str, str]]:
    """argv and environment overrides that run ``guildwatch --api API FLAGS GUILDS``."""
    if cli_available():
        script = Path(sys.executable).with_name("guildwatch")
        program = [str(script)] if script.exists() else [shutil.which("guildwatch") or "guildwatch"]
    else:
        program = [sys.executable, "-m", "bench._screen"]
    env = {"GUILDWATCH_TOKEN": token, "XDG_CONFIG_HOME": _EMPTY_CONFIG_HOME}
    return [*program, "--api", api, *flags, *guilds], env
