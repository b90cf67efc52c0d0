"""The TLS context built on a thread while the screen starts (``prefetch_tls``), and the
deferred engine that waits for it: the first status still arrives, a failure is still shown,
quitting while it loads is clean, and no thread is left behind."""

from __future__ import annotations

import asyncio
import ssl
import threading
from concurrent.futures import Future
from pathlib import Path

import certifi
import httpx
import pytest

from guildwatch.engine import DeferredEngine, prefetch_tls
from guildwatch.engine._tls import default_tls_context
from guildwatch.store import StatusStore
from guildwatch.ui import GuildwatchApp
from tests.engine.support import wait_until
from tests.engine.test_engine_real_server import GUILD, heartbeat, settings_for, version
from tests.harness import RunningServer


def _tls_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "guildwatch-tls"]


def _store() -> StatusStore:
    store = StatusStore()
    store.add_guild(GUILD)
    return store


def test_the_context_is_httpx_s_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    ours, theirs = default_tls_context(), httpx.create_ssl_context()
    assert ours.cert_store_stats() == theirs.cert_store_stats()
    assert ours.cert_store_stats()["x509_ca"] > 0  # certifi's bundle, not an empty store
    assert (ours.verify_mode, ours.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert (ours.options, ours.minimum_version) == (theirs.options, theirs.minimum_version)


def test_ssl_cert_file_is_honoured_as_httpx_does(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # One certificate from certifi's bundle: a store with exactly one CA tells the files apart.
    first = certifi.contents().split("-----END CERTIFICATE-----")[0]
    bundle = tmp_path / "one-ca.pem"
    bundle.write_text(first + "-----END CERTIFICATE-----\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    assert default_tls_context().cert_store_stats()["x509_ca"] == 1
    assert httpx.create_ssl_context().cert_store_stats()["x509_ca"] == 1


async def test_the_first_status_arrives_and_no_thread_is_left(real_server: RunningServer) -> None:
    await heartbeat(real_server, GUILD, "7.8.9")
    store = _store()
    engine = DeferredEngine(settings_for(real_server), store, tls=prefetch_tls())
    task = asyncio.create_task(engine.run())
    await wait_until(lambda: version(store) == "7.8.9")
    assert store.get(GUILD).connection == "connected"
    await engine.stop()
    await asyncio.wait_for(task, 5)
    for thread in _tls_threads():  # it has set its result: at most its last instruction left
        thread.join(5)
    assert not _tls_threads()


async def test_stopping_while_the_context_loads_never_connects(
    real_server: RunningServer,
) -> None:
    loading: Future[ssl.SSLContext] = Future()  # a TLS thread that has not finished yet
    store = _store()
    engine = DeferredEngine(settings_for(real_server), store, tls=loading)
    task = asyncio.create_task(engine.run())
    await asyncio.sleep(0)  # run() is now waiting for the context
    stopping = asyncio.create_task(engine.stop())  # the operator quit meanwhile
    await asyncio.sleep(0)
    assert not stopping.done()  # stop() waits for the thread: nothing outlives it
    loading.set_result(default_tls_context())
    await asyncio.wait_for(stopping, 5)
    await asyncio.wait_for(task, 5)
    assert [entry.connection for entry in store.history(GUILD)] == ["connecting"]
    assert store.get(GUILD).attempt == 0


async def test_a_context_that_cannot_load_is_shown(
    real_server: RunningServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    store = _store()
    engine = DeferredEngine(settings_for(real_server), store, tls=prefetch_tls())
    app = GuildwatchApp(store, engine)
    async with app.run_test() as pilot:
        await wait_until(lambda: not app.is_running)
        await pilot.pause()
    assert app.return_code == 1  # "guildwatch stopped: internal error: ...", not a dead screen
    assert isinstance(app.engine_error, FileNotFoundError)
