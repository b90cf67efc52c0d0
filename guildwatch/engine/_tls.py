"""The engine's TLS context, built on a thread while the screen starts.

Loading the CA bundle costs ~0.1 s, most of it in OpenSSL with the GIL released, so on a
thread started with the process it overlaps Textual's import for almost nothing; built in
``Engine.__init__`` it sat between the first frame and the first connection. Only ``ssl`` and
``certifi`` here (no httpx): the thread must not hold the GIL for an import the screen waits on.
"""

from __future__ import annotations

import os
import ssl
import threading
from concurrent.futures import Future


def default_tls_context() -> ssl.SSLContext:
    """What ``httpx.create_ssl_context()`` builds (httpx 0.28): ``SSL_CERT_FILE``, then
    ``SSL_CERT_DIR``, then certifi's bundle, with the standard library's secure defaults."""
    if cafile := os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=cafile)
    if capath := os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=capath)
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def prefetch_tls() -> Future[ssl.SSLContext]:
    """Start building :func:`default_tls_context` on a daemon thread; a failure (a missing
    ``SSL_CERT_FILE``) is kept in the future and raised where the engine is built."""
    future: Future[ssl.SSLContext] = Future()

    def build() -> None:
        try:
            future.set_result(default_tls_context())
        except BaseException as exc:  # handed to the engine's builder, which raises it
            future.set_exception(exc)

    threading.Thread(target=build, name="guildwatch-tls", daemon=True).start()
    return future
