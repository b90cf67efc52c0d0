"""``[HOST:]PORT`` for ``--serve`` and ``--metrics``: parsed here, bound by their servers.

Only the shape is checked at parse time; whether the host resolves and the port is free is
learnt by binding, which turns either failure into one line (exit 2) as well.
"""

from __future__ import annotations

import argparse
import ipaddress
from typing import NamedTuple

LOOPBACK_HOST = "127.0.0.1"


class ListenAddress(NamedTuple):
    """Where a server listens; ``port`` 0 picks a free one."""

    host: str
    port: int

    @property
    def is_loopback(self) -> bool:
        """True for 127.0.0.0/8, ::1 and ``localhost``: nobody else can connect."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # a host name: it may resolve to anything


def listen_address(text: str) -> ListenAddress:
    """``PORT``, ``HOST:PORT`` or ``[IPv6]:PORT``; the host defaults to 127.0.0.1.

    Raises:
        argparse.ArgumentTypeError: no port, a port out of range, an empty host.
    """
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host = LOOPBACK_HOST
    elif host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise argparse.ArgumentTypeError(f"write an IPv6 address in brackets: [{host}]:PORT")
    if sep and not host:
        raise argparse.ArgumentTypeError(f"no host before the port in {text!r}")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise argparse.ArgumentTypeError(f"not [HOST:]PORT with a port 0-65535: {text!r}")
    if any(char.isspace() or char in "/@?#" for char in host):
        raise argparse.ArgumentTypeError(f"not a host name or address: {host!r}")
    return ListenAddress(host, int(port_text))


def url_host(host: str) -> str:
    """A host as it goes into a URL (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host else host
