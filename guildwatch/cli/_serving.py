"""Checks for ``--serve``, ``--serve-public`` and ``--metrics``, before anything starts.

Each mistake (a missing extra, a combination that cannot work, a public address without
consent) is one line and exit code 2, like every other bad input.
"""

from __future__ import annotations

import argparse
import importlib.util
from typing import NamedTuple

from guildwatch.cli._listen import ListenAddress, url_host
from guildwatch.errors import ConfigError

PUBLIC_WARNING = (
    "--serve-public: textual-serve has no authentication of its own: anyone who can reach "
    "{address} gets the screen and its keys. Put it behind an SSH tunnel or a reverse proxy "
    "with authentication (README, Browser)"
)


class Serving(NamedTuple):
    """What the browser and metrics flags asked for."""

    serve: ListenAddress | None
    serve_public: bool
    metrics: ListenAddress | None
    warnings: tuple[str, ...]


def _need(module: str, flag: str, extra: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"{flag} needs the {module} package: pip install 'guildwatch[{extra}]'")


def check_serving(args: argparse.Namespace) -> Serving:
    """Validate the flags of this group against each other and the rest of the command line.

    Raises:
        ConfigError: a bad combination or a missing extra.
    """
    serve: ListenAddress | None = args.serve
    metrics: ListenAddress | None = args.metrics
    public = bool(args.serve_public)
    warnings: tuple[str, ...] = ()
    if public and serve is None:
        raise ConfigError("--serve-public goes with --serve [HOST:]PORT")
    if serve is not None:
        if args.watch or args.once or args.json:
            raise ConfigError("--serve serves the screen: leave out --watch, --once and --json")
        if metrics is not None:
            raise ConfigError(
                "--metrics cannot go with --serve (every browser tab is a watcher of its own); "
                "run guildwatch --watch --metrics PORT next to it"
            )
        if not serve.is_loopback and not public:
            raise ConfigError(
                f"--serve {url_host(serve.host)}:{serve.port} can be reached from other hosts; "
                "add --serve-public if that is meant (the browser view has no login)"
            )
        _need("textual_serve", "--serve", "web")
        if public:
            address = f"{url_host(serve.host)}:{serve.port}"
            warnings = (PUBLIC_WARNING.format(address=address),)
    if metrics is not None:
        if args.once:
            raise ConfigError("--metrics needs a watcher that keeps running: the screen or --watch")
        _need("prometheus_client", "--metrics", "metrics")
    return Serving(serve, public, metrics, warnings)
