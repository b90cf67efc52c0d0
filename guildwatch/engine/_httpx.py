"""Import httpx and httpcore without the parts an asyncio program never runs.

- httpx's ``__init__`` imports ``httpx._main``, its ``httpx`` command (click, pygments and
  rich's markup), whenever click is installed, and uvicorn, our server's dependency, installs
  it: ~16 ms of every start-up spent on a tool a library never runs.
- httpcore imports trio whenever trio is installed (60-90 ms here, where a test dependency,
  selenium, brings it), to support running under trio; guildwatch runs on asyncio only.

Both come between the first frame and the first connection (``bench/startup.py``). Both
libraries expect these imports to fail (without httpx's ``cli`` extra, without trio) and carry
on without them (httpx then defines a ``main()`` that explains the missing extra; httpcore's
trio code stays unused); a ``None`` entry in ``sys.modules`` makes an import fail that way. The
entries are removed once httpx and httpcore are in, so a later ``import trio`` elsewhere in the
process still works.
"""

from __future__ import annotations

import sys

_KEPT_OUT = ("httpx._main", "trio")


def import_httpx() -> None:
    """Import httpx and httpcore (once) without :data:`_KEPT_OUT`; a no-op once imported."""
    if "httpx" in sys.modules and "httpcore" in sys.modules:
        return
    placed = [name for name in _KEPT_OUT if name not in sys.modules]
    for name in placed:
        sys.modules[name] = None  # type: ignore[assignment]  # "import fails", by design
    try:
        import httpcore  # noqa: F401
        import httpx  # noqa: F401
    finally:
        for name in placed:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
