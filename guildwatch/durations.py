"""Durations as people write them: ``15m``, ``1h``, ``4h``, ``1h30m``, ``90s``.

Plain text in and out, no imports from the rest of the package, so the argument parser can
check ``--silence`` and ``--alert-repeat`` without loading the alerts.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

UNTIL_BACK = "until-back"
"""The silence duration word for "until the guild is seen online again"."""

_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
MAX_SILENCE = timedelta(days=30)
"""A silence longer than this is almost surely a typo (``--silence g=400h``)."""


def parse_duration(text: str, *, max_length: timedelta = MAX_SILENCE) -> timedelta:
    """``15m``, ``1h``, ``4h``, ``1h30m``, ``90s`` or a bare number of seconds.

    Raises:
        ValueError: anything else, zero, or longer than ``max_length``; the message is one
            plain sentence for the user.
    """
    word = text.strip().lower()
    seconds: float
    match = _DURATION.fullmatch(word)
    if word and match is not None and any(match.groups()):
        hours, minutes, secs = (int(group or 0) for group in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    else:
        try:
            seconds = float(word)
        except ValueError:
            raise ValueError(
                f"not a duration: {text[:30]!r} (use e.g. 15m, 1h, 4h, 1h30m or seconds)"
            ) from None
        if not math.isfinite(seconds):
            raise ValueError(f"not a duration: {text[:30]!r}")
    if seconds <= 0:
        raise ValueError(f"a duration must be more than 0: {text[:30]!r}")
    if seconds > max_length.total_seconds():
        raise ValueError(f"a duration of at most {max_length.days} days, not {text[:30]!r}")
    return timedelta(seconds=seconds)


def format_left(left: timedelta) -> str:
    """Time left, rounded up to the minute: ``14m``, ``1h``, ``3h59m``, ``2d4h``."""
    minutes = max(1, math.ceil(left.total_seconds() / 60))
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"


def parse_silence_duration(text: str) -> timedelta | None:
    """A ``--silence`` duration: :func:`parse_duration`, or ``until-back`` (None)."""
    if text.strip().lower() in (UNTIL_BACK, "until back", "untilback"):
        return None
    return parse_duration(text)
