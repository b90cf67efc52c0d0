"""Import httpx without its command-line tool.

httpx's ``__init__`` imports ``httpx._main``, its ``httpx`` command (click, pygments and rich's
markup), whenever click is installed, and uvicorn, our server's dependency, installs it:
~16 ms of every start-up spent on a tool a library never runs, between the first frame and
the first connection (``bench/startup.py``). httpx expects that import to fail (without its
``cli`` extra) and then defines a ``main()`` that explains the missing extra; a ``None`` entry
in ``sys.modules`` makes it fail that way. The entry is removed once httpx is in, so nothing
else in the process sees it.
"""

from __future__ import annotations

import sys

_CLI_MODULE = "httpx._main"


def import_httpx() -> None:
    """Import httpx (once) without ``httpx._main``; a no-op when httpx is already imported."""
    if "httpx" in sys.modules:
        return
    placed = _CLI_MODULE not in sys.modules
    if placed:
        sys.modules[_CLI_MODULE] = None  # type: ignore[assignment]  # "import fails", by design
    try:
        import httpx  # noqa: F401
    finally:
        if placed and sys.modules.get(_CLI_MODULE, False) is None:
            del sys.modules[_CLI_MODULE]
