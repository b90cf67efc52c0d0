"""The shared vocabulary: sanitising, relative time, status words."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from guildwatch.display import (
    bot_word,
    format_distance,
    format_short_distance,
    headline,
    hint,
    last_seen,
    polled_marker,
    safe,
    status_kind,
    status_word,
)
from guildwatch.store import BotStatus, GuildSnapshot, Problem, Shard

NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(seconds=0), "less than a minute"),
        (timedelta(seconds=29), "less than a minute"),
        (timedelta(seconds=30), "1 minute"),
        (timedelta(seconds=89), "1 minute"),
        (timedelta(seconds=90), "2 minutes"),
        (timedelta(minutes=5), "5 minutes"),
        (timedelta(minutes=44), "44 minutes"),
        (timedelta(minutes=45), "about 1 hour"),
        (timedelta(minutes=89), "about 1 hour"),
        (timedelta(minutes=90), "about 2 hours"),
        (timedelta(hours=23, minutes=59), "about 24 hours"),
        (timedelta(hours=24), "1 day"),
        (timedelta(hours=41, minutes=59), "1 day"),
        (timedelta(hours=42), "2 days"),
        (timedelta(days=29), "29 days"),
        (timedelta(days=30), "about 1 month"),
        (timedelta(days=45), "about 2 months"),
        (timedelta(days=61), "2 months"),
        (timedelta(days=366), "about 1 year"),
        (timedelta(days=365 + 180), "over 1 year"),
        (timedelta(days=365 + 300), "almost 2 years"),
        (timedelta(days=3 * 365 + 10), "about 3 years"),
    ],
)
def test_format_distance_matches_date_fns(delta: timedelta, words: str) -> None:
    assert format_distance(NOW - delta, NOW) == words


def test_short_distance() -> None:
    assert format_short_distance(NOW - timedelta(seconds=5), NOW) == "now"
    assert format_short_distance(NOW - timedelta(minutes=5), NOW) == "5m"
    assert format_short_distance(NOW - timedelta(hours=3), NOW) == "3h"
    assert format_short_distance(NOW - timedelta(days=2), NOW) == "2d"


def test_safe_drops_escape_sequences_and_bidi_and_keeps_markup_as_text() -> None:
    hostile = "1.2\x1b[2J\x1b]8;;http://x\x07\u202eevil\u2066[bold]x[/]\nnext"
    cleaned = safe(hostile)
    assert "\x1b" not in cleaned
    assert "\x07" not in cleaned
    assert "\u202e" not in cleaned
    assert "\u2066" not in cleaned
    assert "\n" not in cleaned
    assert "[bold]x[/]" in cleaned  # markup stays literal text; the renderer must not parse it


def test_safe_ellipsizes_by_terminal_cells() -> None:
    assert safe("x" * 1000, 10) == "x" * 9 + "…"
    wide = safe("界" * 50, 11)
    assert cell_len(wide) <= 11
    assert wide.endswith("…")


@given(st.text(), st.integers(min_value=1, max_value=200))
def test_safe_never_emits_control_characters_and_respects_width(text: str, width: int) -> None:
    cleaned = safe(text, width)
    assert cell_len(cleaned) <= width
    assert not any(ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in cleaned)


def _snapshot(**changes: object) -> GuildSnapshot:
    return GuildSnapshot(guild_id="g", **changes)  # type: ignore[arg-type]


def test_last_seen_wording() -> None:
    status = BotStatus(False, NOW - timedelta(minutes=5), "1.2.3")
    snapshot = _snapshot(connection="connected", status=status, source="stream")
    assert last_seen(snapshot, NOW) == "Last seen 5 minutes ago · v1.2.3"
    assert last_seen(snapshot, NOW, short=True) == "5m · v1.2.3"
    assert last_seen(_snapshot(), NOW) == ""


def test_short_last_seen_says_now_only_for_a_bot_that_is_up() -> None:
    # An offline bot's last heartbeat is at least the server's offline threshold ago.
    down = _snapshot(
        connection="connected", status=BotStatus(False, NOW - timedelta(seconds=12), None)
    )
    up = _snapshot(
        connection="connected", status=BotStatus(True, NOW - timedelta(seconds=12), None)
    )
    assert last_seen(down, NOW, short=True) == "<1m"
    assert last_seen(up, NOW, short=True) == "now"
    assert last_seen(down, NOW) == "Last seen less than a minute ago"


def test_last_seen_never_says_just_now_for_a_future_heartbeat() -> None:
    status = BotStatus(True, NOW + timedelta(hours=2), None)
    snapshot = _snapshot(connection="connected", status=status, source="stream")
    assert "clock" in last_seen(snapshot, NOW)
    assert "less than" not in last_seen(snapshot, NOW)


def test_last_seen_sanitises_version() -> None:
    status = BotStatus(True, NOW, "1\x1b[31m.2")
    snapshot = _snapshot(connection="connected", status=status, source="stream")
    assert "\x1b" not in last_seen(snapshot, NOW)


def test_status_words_for_every_state() -> None:
    up = BotStatus(True, NOW, "1")
    down = BotStatus(False, NOW, "1")
    assert status_word(_snapshot(), NOW) == "Connecting…"
    assert status_word(_snapshot(connection="connected", status=up), NOW) == "Online"
    assert status_word(_snapshot(connection="connected", status=down), NOW) == "Offline"
    assert status_word(_snapshot(connection="connected"), NOW) == "Waiting for status…"
    lost = _snapshot(connection="error", status=up, error=Problem("auth", "bad token"))
    assert status_word(lost, NOW) == "Unauthorized: check the token"
    assert status_word(lost, NOW, short=True) == "Unauthorized"
    assert hint(lost) == "Press r to retry"
    for kind, word in (("forbidden", "Forbidden for this token"), ("not_found", "Unknown guild")):
        assert status_word(replace(lost, error=Problem(kind, "x")), NOW) == word
    unreachable = replace(lost, error=Problem("network", "Connection refused"))
    assert status_word(unreachable, NOW) == "Connection lost"
    # Gave up on the stream, but a poll answered: the polled status wins.
    polled = replace(unreachable, source="poll", received_at=NOW - timedelta(seconds=20))
    assert status_word(polled, NOW) == "Online"
    assert polled_marker(polled, NOW) == "polled 20 s ago"
    assert status_word(replace(polled, status=down), NOW) == "Offline"
    retrying = _snapshot(
        connection="disconnected",
        status=up,
        source="stream",
        next_retry_at=NOW + timedelta(seconds=3.2),
    )
    assert status_kind(retrying) == "reconnecting"
    assert status_word(retrying, NOW) == "Reconnecting in 4 s"
    assert hint(_snapshot(connection="connected", status=down)) == "Check Discord"


def test_short_status_words_fit_a_twenty_cell_pane_with_the_dot() -> None:
    up = BotStatus(True, NOW, "1")
    retrying = _snapshot(
        connection="disconnected", status=up, next_retry_at=NOW + timedelta(seconds=99)
    )
    waiting = _snapshot(connection="connected")
    lost = _snapshot(connection="error", status=up)
    assert status_word(retrying, NOW, short=True) == "Retry in 99 s"
    assert status_word(_snapshot(connection="disconnected", status=up), NOW, short=True) == (
        "Retrying…"
    )
    assert status_word(waiting, NOW, short=True) == "Waiting…"
    for snapshot in (retrying, waiting, lost, _snapshot()):
        assert cell_len(status_word(snapshot, NOW, short=True)) <= 18


def test_a_stream_that_is_down_never_shows_online_from_memory() -> None:
    up = BotStatus(True, NOW, "1")
    stale = _snapshot(connection="disconnected", status=up, source="stream")
    assert status_kind(stale) != "online"
    polled = _snapshot(
        connection="disconnected", status=up, source="poll", received_at=NOW - timedelta(seconds=30)
    )
    assert status_kind(polled) == "online"


def test_polled_marker() -> None:
    up = BotStatus(True, NOW, "1")
    polled = _snapshot(
        connection="disconnected",
        status=up,
        source="poll",
        received_at=NOW - timedelta(seconds=30),
    )
    assert polled_marker(polled, NOW) == "polled 30 s ago"
    assert polled_marker(_snapshot(connection="connected", status=up, source="stream"), NOW) == ""


# -- bot vitals ------------------------------------------------------------------------------


def _online(**vitals: Any) -> GuildSnapshot:
    status = BotStatus(True, NOW, "1.3.0")._replace(**vitals)
    return GuildSnapshot("g", connection="connected", status=status, source="stream")


@pytest.mark.parametrize(
    ("vitals", "words"),
    [
        ({}, "Online"),
        ({"latency_ms": 42.4}, "Online · 42 ms"),
        ({"latency_ms": 0.0}, "Online · 0 ms"),
        ({"latency_ms": 12_345.0}, "Online · 12.3 s"),
        ({"latency_ms": 1e300}, "Online · > 1000 s"),
        ({"latency_ms": 41.0, "state": "up"}, "Online · 41 ms"),
        ({"state": "maintenance", "message": "deploying v1.3"}, "Maintenance · deploying v1.3"),
        ({"state": "maintenance", "latency_ms": 40.0}, "Maintenance"),
        ({"state": "starting"}, "Starting"),
        ({"state": "degraded", "message": "shard 1 down"}, "Degraded · shard 1 down"),
        ({"state": "hibernating"}, "Degraded · hibernating"),
        ({"shard": Shard(3, 8, connected=False)}, "Degraded · shard 3 down"),
        (
            {"state": "degraded", "shard": Shard(3, 8, connected=False), "latency_ms": 40.0},
            "Degraded · shard 3 down",
        ),
        ({"shard": Shard(1, 8), "latency_ms": 40.0}, "Online · 40 ms"),
        (
            {"state": "maintenance", "message": "v1.3", "shard": Shard(0, 1, connected=False)},
            "Maintenance · v1.3",
        ),
        ({"state": ""}, "Degraded"),
        ({"latency_ms": 40.0, "message": "all good"}, "Online · 40 ms · all good"),
    ],
)
def test_headline_shows_latency_and_the_bots_word(vitals: dict[str, Any], words: str) -> None:
    assert headline(_online(**vitals), NOW) == words


def test_headline_never_shows_vitals_from_memory() -> None:
    offline = _online(latency_ms=42.0, state="maintenance", message="deploying")
    offline = replace(offline, status=offline.status._replace(healthy=False))  # type: ignore[union-attr]
    assert headline(offline, NOW) == "Offline"
    lost = replace(_online(latency_ms=42.0), connection="error")
    assert headline(lost, NOW) == status_word(lost, NOW)


@given(message=st.text(max_size=200), state=st.one_of(st.none(), st.text(max_size=32)))
def test_the_bots_words_are_inert_on_screen(message: str, state: str | None) -> None:
    words = headline(_online(state=state, message=message), NOW)
    assert not any(ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in words)
    assert "\u202e" not in words
    assert "\x1b" not in bot_word(_online(state="maintenance", message="\x1b[2J" + message))


@pytest.mark.parametrize(
    ("vitals", "kind"),
    [
        ({}, "online"),
        ({"state": "starting"}, "online"),
        ({"state": "degraded"}, "degraded"),
        ({"state": "a-new-word"}, "degraded"),
        ({"shard": Shard(3, 8, connected=False)}, "degraded"),
        ({"state": "maintenance"}, "maintenance"),
    ],
)
def test_a_healthy_bots_vitals_decide_its_kind(vitals: dict[str, Any], kind: str) -> None:
    assert status_kind(_online(**vitals)) == kind


def test_three_kinds_of_down_read_apart() -> None:
    offline = replace(_online(), status=BotStatus(False, NOW, "1.3.0"))
    degraded = _online(shard=Shard(3, 8, connected=False))
    lost = replace(_online(), connection="error", source="stream")
    words = {headline(s, NOW) for s in (offline, degraded, lost)}
    assert words == {"Offline", "Degraded · shard 3 down", "Connection lost"}
    assert [status_kind(s) for s in (offline, degraded, lost)] == ["offline", "degraded", "lost"]


def test_a_latency_judged_slow_reads_degraded_with_the_shown_latency() -> None:
    slow = replace(_online(latency_ms=900.0), latency_slow=True, latency_shown_ms=812.0)
    assert status_kind(slow) == "degraded"
    assert headline(slow, NOW) == "Degraded · latency 812 ms"
    assert hint(slow) == "Check Discord"
    # The row shows the dead-banded latency, not every heartbeat's value.
    jittery = replace(_online(latency_ms=45.0), latency_shown_ms=42.0)
    assert headline(jittery, NOW) == "Online · 42 ms"


def test_degraded_has_short_words_for_small_panes() -> None:
    shard = _online(shard=Shard(3, 8, connected=False))
    assert headline(shard, NOW, short=True) == "Degraded: shard 3"
    slow = replace(_online(latency_ms=900.0), latency_slow=True, latency_shown_ms=812.0)
    assert headline(slow, NOW, short=True) == "Degraded: 812 ms"
    assert all(len(headline(s, NOW, short=True)) <= 18 for s in (shard, slow))


def _kind_as_the_rules_read(snapshot: GuildSnapshot) -> str:
    """status_kind's rules one by one, in the order its docstring and the protocol give them:
    the reference its fast path for the connected case must agree with."""
    fatal = snapshot.error is not None and snapshot.error.kind in ("auth", "forbidden", "not_found")
    if snapshot.connection == "error" and (snapshot.source != "poll" or fatal):
        return "lost"
    if snapshot.connection == "connecting" and snapshot.status is None:
        return "connecting"
    polled_only = snapshot.connection != "connected" and snapshot.source == "poll"
    if snapshot.connection == "connected" or polled_only:
        status = snapshot.status
        if status is None:
            return "waiting"
        if not status.healthy:
            return "offline"
        if status.state == "maintenance":
            return "maintenance"
        shard_down = status.shard is not None and not status.shard.connected
        known = (None, "up", "starting", "maintenance")
        if shard_down or status.state not in known or snapshot.latency_slow:
            return "degraded"
        return "online"
    if snapshot.connection == "connecting":
        return "connecting"
    return "reconnecting"


def test_status_kind_agrees_with_the_rules_in_every_combination() -> None:
    statuses = [
        None,
        BotStatus(False, NOW, "1"),
        BotStatus(True, NOW, "1"),
        BotStatus(True, NOW, "1", state="up"),
        BotStatus(True, NOW, "1", state="starting"),
        BotStatus(True, NOW, "1", state="maintenance"),
        BotStatus(True, NOW, "1", state="degraded"),
        BotStatus(True, NOW, "1", state="a-new-word"),
        BotStatus(True, NOW, "1", shard=Shard(1, 4, connected=False)),
        BotStatus(True, NOW, "1", shard=Shard(1, 4, connected=True)),
        BotStatus(True, NOW, "1", state="maintenance", shard=Shard(1, 4, connected=False)),
    ]
    errors = [None, Problem("auth", "no"), Problem("not_found", "no"), Problem("network", "no")]
    checked = 0
    for connection in ("connecting", "connected", "disconnected", "error"):
        for source in (None, "stream", "poll"):
            for status in statuses:
                for error in errors:
                    for slow in (False, True):
                        snapshot = GuildSnapshot(
                            "1",
                            connection=connection,
                            status=status,
                            source=source,
                            error=error,
                            latency_slow=slow,
                        )
                        assert status_kind(snapshot) == _kind_as_the_rules_read(snapshot), snapshot
                        checked += 1
    assert checked == 4 * 3 * 11 * 4 * 2
