"""The errors guildwatch raises, as one small tree with messages for people.

::

    GuildwatchError
     ├── ConnectionFailed        network trouble: refused, reset, clean end, redirect loop
     │    └── WatchdogTimeout    the connection went silent for longer than allowed
     ├── ProtocolViolation       the server answered, but not in the protocol
     │    ├── WrongContentType   200 without ``text/event-stream`` (captive portal, proxy page)
     │    ├── EventTooLarge      one line/event over the cap
     │    └── PayloadError       ``data:`` that is not a valid status object
     ├── ServerRejected          an HTTP status the protocol gives a meaning (carries it)
     └── ConfigError             bad flags, config file or token source

The tree says *what went wrong*, not what the engine does about it: that is the reconnect
policy's decision (``guildwatch.engine._policy``, following docs/protocol.md's answers table),
and the class alone does not settle it. A ``WrongContentType`` is fatal for the stream while its
sibling ``EventTooLarge`` is retried; a ``ServerRejected`` is fatal or transient by its status.
``kind`` is the stable machine name used in ``--json`` output.
Messages never contain the token: they are built from URLs without credentials and from
server data that the UI sanitises before display.
"""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal[
    "auth",
    "forbidden",
    "not_found",
    "content_type",
    "too_large",
    "payload",
    "http",
    "network",
    "timeout",
    "redirect",
    "server_stop",
    "config",
]
"""Stable names for ``error.kind`` in the headless JSON output (add, never rename)."""


class GuildwatchError(Exception):
    """Base of every error guildwatch raises on purpose."""

    kind: ErrorKind = "network"

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        """One plain-words sentence for the screen and the logs."""


class ConnectionFailed(GuildwatchError):
    """The network failed: refused, reset, DNS, read error, clean end of body."""

    def __init__(self, user_message: str, *, kind: ErrorKind = "network") -> None:
        super().__init__(user_message)
        self.kind = kind


class WatchdogTimeout(ConnectionFailed):
    """No bytes (headers, events or comments) for longer than the heartbeat timeout."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message, kind="timeout")


class ProtocolViolation(GuildwatchError):
    """The server answered in a way the protocol does not allow."""


class WrongContentType(ProtocolViolation):
    """A 200 that is not an event stream: fail the stream, never apply the body."""

    kind = "content_type"


class EventTooLarge(ProtocolViolation):
    """One line or event exceeded the size cap; that connection is aborted."""

    kind = "too_large"


class PayloadError(ProtocolViolation):
    """An event's ``data`` (or a polled body) is not a valid status object; rejected whole."""

    kind = "payload"


class ServerRejected(GuildwatchError):
    """The server answered with an HTTP status that means something to the client."""

    def __init__(
        self,
        user_message: str,
        *,
        status_code: int,
        kind: ErrorKind = "http",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(user_message)
        self.status_code = status_code
        self.kind = kind
        self.retry_after = retry_after
        """Seconds the server asked us to wait (``Retry-After``), if it said; unclamped."""


class ConfigError(GuildwatchError):
    """Bad command line, configuration file or token source; ``guildwatch`` and
    ``guildwatch-server`` both exit with code 2 (one class, so ``--demo`` needs no translation)."""

    kind = "config"
