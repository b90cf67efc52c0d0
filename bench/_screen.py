"""Stand-in for ``guildwatch --api URL [--no-animation] GUILD...`` until the CLI is merged.

It starts what the CLI starts for the screen: a :class:`StatusStore` with the guilds, the real
:class:`Engine` with default settings, and :func:`run_tui`. Token from ``GUILDWATCH_TOKEN``.
"""

from __future__ import annotations

import argparse
import os

from guildwatch.engine import Engine, EngineSettings
from guildwatch.store import StatusStore
from guildwatch.ui import run_tui


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench._screen")
    parser.add_argument("guilds", nargs="+")
    parser.add_argument("--api", required=True)
    parser.add_argument("--no-animation", dest="animation", action="store_false")
    args = parser.parse_args(argv)
    store = StatusStore()
    store.add_guilds(args.guilds)
    engine = Engine(EngineSettings(api_url=args.api, token=os.environ["GUILDWATCH_TOKEN"]), store)
    return run_tui(store, engine, animation=args.animation)


if __name__ == "__main__":
    raise SystemExit(main())
