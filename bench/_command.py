"""The real ``guildwatch`` command line for benchmarks, as a user would start it.

The token goes through ``GUILDWATCH_TOKEN`` (the command has no ``--token``), and
``XDG_CONFIG_HOME`` points at an empty directory so that no user configuration changes what is
measured.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

_EMPTY_CONFIG_HOME = tempfile.mkdtemp(prefix="guildwatch-bench-")


def command_name() -> str:
    """What the report says was measured."""
    return "`guildwatch`"


def guildwatch(
    api: str, token: str, guilds: Sequence[str], *flags: str
) -> tuple[list[str], dict[str, str]]:
    """argv and environment overrides that run ``guildwatch --api API FLAGS GUILDS``."""
    # The console script next to this interpreter: the venv's, as a user would run it.
    script = Path(sys.executable).with_name("guildwatch")
    program = [str(script)] if script.exists() else [shutil.which("guildwatch") or "guildwatch"]
    env = {"GUILDWATCH_TOKEN": token, "XDG_CONFIG_HOME": _EMPTY_CONFIG_HOME}
    return [*program, "--api", api, *flags, *guilds], env
