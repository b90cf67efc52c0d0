"""Shared fixtures: the real reference server on 127.0.0.1 (see ``tests/harness.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.harness import RunningServer, start_server

ServerFactory = Callable[..., RunningServer]
"""``server_factory(subprocess=False, **config_overrides) -> RunningServer``."""


@pytest.fixture
def server_factory() -> Iterator[ServerFactory]:
    """Start real servers with config overrides; every one is stopped at teardown (bounded).

    ``subprocess=True`` runs ``guildwatch-server`` as a child process (signals, restart,
    captured output); the default runs it in a daemon thread.
    """
    started: list[RunningServer] = []

    def factory(*, subprocess: bool = False, **overrides: Any) -> RunningServer:
        server = start_server(subprocess=subprocess, **overrides)
        started.append(server)
        return server

    yield factory
    for server in reversed(started):
        server.stop()


@pytest.fixture
def real_server(server_factory: ServerFactory) -> RunningServer:
    """One server with test defaults: 0.2 s heartbeat comments, ``retry: 100``, in-memory
    database, faults on, a client token, a bot token and three guilds (``GUILDS``)."""
    return server_factory()


@pytest.fixture(scope="session", autouse=True)
def _no_tmux_servers_left() -> Iterator[None]:
    """End every tmux server a test started and forgot (a test that failed before ``kill``)."""
    yield
    from tests.tmux import LIVE

    for session in list(LIVE):
        session.kill()
