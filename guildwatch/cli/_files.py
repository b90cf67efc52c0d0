"""Reading a small file the user named (the config file, a token file), with one set of errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from guildwatch.errors import ConfigError


def read_bounded(path: Path, limit: int, origin: str) -> tuple[bytes, int]:
    """Up to ``limit + 1`` bytes of ``path`` (so the caller can tell "too big"), and its mode.

    Reading stops past the limit, so a huge file or a device costs no memory; a directory is
    refused before any read.

    Args:
        path: The file.
        limit: The most bytes the caller accepts.
        origin: How messages name the file, e.g. ``config file /etc/gw.toml``.

    Raises:
        FileNotFoundError: Passed on: whether a missing file is an error is the caller's call.
        ConfigError: A directory, no permission, or any other reason it cannot be read.
    """
    try:
        with path.open("rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            if stat.S_ISDIR(mode):
                raise IsADirectoryError
            return file.read(limit + 1), mode
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise ConfigError(f"{origin} is a directory, not a file") from None
    except PermissionError:
        raise ConfigError(f"{origin} cannot be read (permission denied)") from None
    except OSError as exc:
        raise ConfigError(f"{origin} cannot be read ({exc.strerror or exc})") from None
