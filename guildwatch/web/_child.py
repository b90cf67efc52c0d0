"""The process textual-serve starts for each browser tab: the screen, with the web driver.

It gets everything through its environment, never its command line (which ``ps`` shows every
user): the checked options as JSON in ``GUILDWATCH_SERVE_OPTIONS`` and the token in
``GUILDWATCH_TOKEN``. ``/proc/PID/environ`` is readable by the owner alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from guildwatch.cli._config import GuildSpec
from guildwatch.cli._options import Options

OPTIONS_VARIABLE = "GUILDWATCH_SERVE_OPTIONS"
TOKEN_VARIABLE = "GUILDWATCH_TOKEN"  # noqa: S105 -- a variable name, not a token
_PATHS = ("log_file", "config_path", "state_dir")
_TUPLES = ("on_change", "warnings")


def encode_options(options: Options) -> str:
    """The options for a tab's screen as JSON, without the token, serving and metrics."""
    data: dict[str, Any] = {}
    for item in dataclasses.fields(Options):
        value = getattr(options, item.name)
        if item.name in ("token", "serve", "metrics", "warnings"):
            continue
        if item.name == "guilds":
            value = [[spec.guild_id, spec.name] for spec in value]
        elif item.name == "silence":
            value = []  # --silence was applied once by the serving process, not per tab
        elif isinstance(value, Path):
            value = str(value)
        data[item.name] = value
    data["mode"] = "tui"
    # Textual's inline driver would replace the web driver: a tab is always a full screen.
    data["inline"] = False
    return json.dumps(data)


def decode_options(text: str, token: str) -> Options:
    """The inverse of :func:`encode_options`, with the token put back."""
    data: dict[str, Any] = json.loads(text)
    data["guilds"] = tuple(GuildSpec(guild_id, name) for guild_id, name in data["guilds"])
    for name in _PATHS:
        if data.get(name) is not None:
            data[name] = Path(data[name])
    data["silence"] = tuple(tuple(spec) for spec in data.get("silence", ()))
    for name in _TUPLES:
        if data.get(name) is not None:
            data[name] = tuple(data[name])
    return Options(**data, token=token)


def main() -> int:
    """Run one tab's screen; exit code 2 when started by hand without its environment."""
    from guildwatch.cli._run import run
    from guildwatch.cli.main import configure_logging
    from guildwatch.errors import ConfigError

    text, token = os.environ.get(OPTIONS_VARIABLE), os.environ.get(TOKEN_VARIABLE)
    if text is None or token is None:
        print("guildwatch: this is a browser tab's screen: use guildwatch --serve", file=sys.stderr)
        return 2
    # Not for the tab's own children (an --on-change command): they need neither.
    del os.environ[OPTIONS_VARIABLE], os.environ[TOKEN_VARIABLE]
    try:
        options = decode_options(text, token)
        configure_logging(options)
        return run(options)
    except ConfigError as exc:
        print(f"guildwatch: {exc.user_message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
