"""Server tests run against both stores where the storage is visible.

A module (``pytestmark = pytest.mark.both_storages``) or a test marked ``both_storages`` runs
once per store: ``sqlite`` (the default, in-process model + SQLite) and ``redis`` (a real
``redis-server`` on a free loopback port, one per session, with a key prefix per test so that
tests never see each other's guilds). A test marked ``sqlite_only`` in such a module reaches
into the in-process model and runs on SQLite alone.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ServerFactory
from tests.harness import REDIS_SERVER, RedisProcess, RunningServer, start_server

STORAGES = ("sqlite", "redis")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "storage" not in metafunc.fixturenames:
        return
    definition = metafunc.definition
    if definition.get_closest_marker("both_storages") and not definition.get_closest_marker(
        "sqlite_only"
    ):
        metafunc.parametrize("storage", STORAGES, indirect=True)


@pytest.fixture
def storage(request: pytest.FixtureRequest) -> str:
    """Which store the test's servers use (``sqlite`` unless parametrized)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """One real redis-server for the session (tests keep apart by key prefix)."""
    if REDIS_SERVER is None and not os.environ.get("CI"):
        pytest.skip("redis-server not installed (CI installs it)")
    redis = RedisProcess(tmp_path_factory.mktemp("redis"))
    redis.start()
    yield redis
    redis.stop()


def redis_prefix() -> str:
    """A key prefix no other test uses."""
    return f"t{secrets.token_hex(6)}:"


@pytest.fixture
def server_factory(storage: str, request: pytest.FixtureRequest) -> Iterator[ServerFactory]:
    """As the shared ``server_factory``, with the test's store (Redis: a fresh key prefix)."""
    started: list[RunningServer] = []
    prefix = redis_prefix()

    def factory(*, subprocess: bool = False, **overrides: Any) -> RunningServer:
        if storage == "redis" and "redis" not in overrides:
            redis: RedisProcess = request.getfixturevalue("redis_server")
            overrides = {"redis": redis.url, "redis_prefix": prefix, **overrides}
        server = start_server(subprocess=subprocess, **overrides)
        started.append(server)
        return server

    yield factory
    for server in reversed(started):
        server.stop()
