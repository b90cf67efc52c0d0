"""Payload validation: accepted whole or rejected whole (docs/protocol.md "Endpoints")."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from guildwatch.engine import parse_status
from guildwatch.errors import PayloadError
from guildwatch.store import BotStatus

NOW = datetime(2026, 11, 22, 14, 5, tzinfo=UTC)


def test_valid_status_is_parsed() -> None:
    status, warning = parse_status(
        '{"healthy": true, "lastHeartbeat": "2026-11-22T14:03:00Z", "version": "1.2.3"}', now=NOW
    )
    assert status == BotStatus(
        healthy=True, last_heartbeat=datetime(2026, 11, 22, 14, 3, tzinfo=UTC), version="1.2.3"
    )
    assert warning is None


def test_nulls_and_unknown_fields() -> None:
    status, _ = parse_status(
        '{"healthy": false, "lastHeartbeat": null, "version": null, "shard": 3, "x": {}}', now=NOW
    )
    assert status == BotStatus(healthy=False, last_heartbeat=None, version=None)


def test_optional_fields_may_be_missing() -> None:
    status, _ = parse_status('{"healthy": true}', now=NOW)
    assert status == BotStatus(healthy=True, last_heartbeat=None, version=None)


def test_timestamp_without_offset_is_utc() -> None:
    status, _ = parse_status('{"healthy": true, "lastHeartbeat": "2026-11-22T14:03:00"}', now=NOW)
    assert status.last_heartbeat == datetime(2026, 11, 22, 14, 3, tzinfo=UTC)


def test_timestamp_with_offset_is_converted_to_utc() -> None:
    status, _ = parse_status(
        '{"healthy": true, "lastHeartbeat": "2026-11-22T15:03:00.250+01:00"}', now=NOW
    )
    assert status.last_heartbeat == datetime(2026, 11, 22, 14, 3, 0, 250000, tzinfo=UTC)
    assert status.last_heartbeat is not None
    assert status.last_heartbeat.tzinfo == UTC


def test_heartbeat_in_the_future_beyond_tolerance_warns_clock_skew() -> None:
    ahead = (NOW + timedelta(minutes=10)).isoformat()
    status, warning = parse_status(
        json.dumps({"healthy": True, "lastHeartbeat": ahead}), now=NOW, skew_tolerance=60
    )
    assert status.last_heartbeat == NOW + timedelta(minutes=10)  # kept as sent
    assert warning is not None
    assert warning.kind == "clock_skew"
    assert "600 s" in warning.message


def test_heartbeat_slightly_ahead_is_tolerated() -> None:
    ahead = (NOW + timedelta(seconds=30)).astimezone(timezone(timedelta(hours=-5))).isoformat()
    _, warning = parse_status(
        json.dumps({"healthy": True, "lastHeartbeat": ahead}), now=NOW, skew_tolerance=60
    )
    assert warning is None


@pytest.mark.parametrize(
    "data",
    [
        "",
        "not json",
        '{"healthy": true',
        "[]",
        '"healthy"',
        "null",
        "{}",
        '{"healthy": "true"}',
        '{"healthy": 1}',
        '{"healthy": null}',
        '{"healthy": true, "version": 123}',
        '{"healthy": true, "version": ["1"]}',
        '{"healthy": true, "lastHeartbeat": 1732284180}',
        '{"healthy": true, "lastHeartbeat": "yesterday"}',
        '{"healthy": true, "lastHeartbeat": "2026-13-45T99:00:00Z"}',
        '{"healthy": true, "lastHeartbeat": "99999-01-01T00:00:00Z"}',
        '{"healthy": NaN}',
        '{"healthy": true, "x": Infinity}',
        "[" * 100_000,
        '{"healthy": true} {"healthy": false}',
        '{"healthy": true}x',
        " ",
    ],
)
def test_invalid_payloads_are_rejected_whole(data: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_status(data, now=NOW)
    assert caught.value.kind == "payload"
    assert caught.value.user_message


@pytest.mark.parametrize(
    "data", [' {"healthy": true}', '{"healthy": true}\t\r\n ', '\n{"healthy": true} ']
)
def test_whitespace_around_the_document_is_json(data: str) -> None:
    status, _ = parse_status(data, now=NOW)
    assert status.healthy is True


def test_version_is_kept_as_raw_data() -> None:
    hostile = "1.0\x1b[31m[/]\u202e"
    status, _ = parse_status(json.dumps({"healthy": True, "version": hostile}), now=NOW)
    assert status.version == hostile  # the UI sanitises; the engine does not alter data
