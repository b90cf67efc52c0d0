"""Payload validation: accepted whole or rejected whole (docs/protocol.md "Endpoints")."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guildwatch.engine import parse_status
from guildwatch.errors import PayloadError
from guildwatch.store import BotStatus, Shard

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
        '{"healthy": false, "lastHeartbeat": null, "version": null, "shards": 3, "x": {}}', now=NOW
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


# -- bot vitals (docs/protocol.md "Bot vitals (optional fields)") -----------------------------

FULL = {
    "healthy": True,
    "lastHeartbeat": "2026-11-22T14:03:00Z",
    "version": "1.3.0",
    "latencyMs": 42.5,
    "shard": {"id": 3, "count": 8, "connected": True},
    "state": "maintenance",
    "message": "deploying v1.3",
    "startedAt": "2026-11-22T13:58:12Z",
}


def test_vitals_are_parsed() -> None:
    status, warning = parse_status(json.dumps(FULL), now=NOW)
    assert warning is None
    assert status.latency_ms == 42.5
    assert status.shard == Shard(3, 8, True)
    assert status.state == "maintenance"
    assert status.bot_state == "maintenance"
    assert status.message == "deploying v1.3"
    assert status.started_at == datetime(2026, 11, 22, 13, 58, 12, tzinfo=UTC)


def test_null_vitals_are_not_reported() -> None:
    nulls = {k: None for k in ("latencyMs", "shard", "state", "message", "startedAt")}
    status, _ = parse_status(json.dumps({"healthy": True, **nulls}), now=NOW)
    assert status == BotStatus(True, None, None)
    assert status.bot_state == "up"


def test_shard_connected_defaults_to_true_and_latency_may_be_an_integer() -> None:
    data = {"healthy": True, "latencyMs": 0, "shard": {"id": 0, "count": 1}}
    status, _ = parse_status(json.dumps(data), now=NOW)
    assert status.shard == Shard(0, 1, True)
    assert status.latency_ms == 0.0


@pytest.mark.parametrize("word", ["hibernating", "", "UP", "Maintenance"])
def test_an_unknown_state_is_kept_as_written_and_counts_as_degraded(word: str) -> None:
    status, warning = parse_status(json.dumps({"healthy": True, "state": word}), now=NOW)
    assert warning is None
    assert status.state == word
    assert status.bot_state == "degraded"


@pytest.mark.parametrize(
    "vital",
    [
        '"latencyMs": NaN',
        '"latencyMs": Infinity',
        '"latencyMs": -Infinity',
        '"latencyMs": 1e400',
        '"latencyMs": ' + "9" * 400,
        '"latencyMs": -0.5',
        '"latencyMs": "42"',
        '"latencyMs": true',
        '"shard": 3',
        '"shard": []',
        '"shard": {"id": 8, "count": 8}',
        '"shard": {"id": -1, "count": 8}',
        '"shard": {"id": 0, "count": 0}',
        '"shard": {"id": 0}',
        '"shard": {"id": true, "count": 2}',
        '"shard": {"id": 0.0, "count": 2}',
        '"shard": {"id": 0, "count": 2, "connected": "no"}',
        '"state": 3',
        '"state": ["up"]',
        '"message": 5',
        '"message": "' + "m" * 201 + '"',
        '"startedAt": 1732284180',
        '"startedAt": "yesterday"',
    ],
)
def test_bad_vitals_reject_the_whole_payload(vital: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_status('{"healthy": true, "version": "1", ' + vital + "}", now=NOW)
    assert caught.value.kind == "payload"
    assert caught.value.user_message


def test_a_message_of_200_characters_and_hostile_text_are_kept_raw() -> None:
    hostile = ("\x1b[2J[bold red]x[/]\u202e" * 20)[:200]
    status, _ = parse_status(json.dumps({"healthy": True, "message": hostile}), now=NOW)
    assert status.message == hostile  # the UI makes it safe, the engine keeps data as sent


def test_a_payload_without_vitals_parses_exactly_as_before() -> None:
    data = '{"healthy": true, "lastHeartbeat": "2026-11-22T14:03:00Z", "version": "1.2.3"}'
    status, _ = parse_status(data, now=NOW)
    assert tuple(status) == (True, datetime(2026, 11, 22, 14, 3, tzinfo=UTC), "1.2.3") + (None,) * 5


latency_values = st.one_of(
    st.none(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=False),
    st.booleans(),
    st.text(max_size=4),
)
shard_values = st.one_of(
    st.none(),
    st.integers(),
    st.fixed_dictionaries(
        {"id": st.integers(-3, 10_003), "count": st.integers(-1, 10_000)},
        optional={"connected": st.one_of(st.booleans(), st.none(), st.integers(0, 1))},
    ),
)
message_values = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=220),
    st.sampled_from(["\x1b]52;c;Zm9v\x07", "[link=x]y[/link]", "\u202e\u2066", "\r\n\t"]),
)


def _finite_float(value: object) -> bool:
    try:
        return float(value) not in (float("inf"), float("-inf"))  # type: ignore[arg-type]
    except OverflowError:
        return False


@given(
    latency=latency_values,
    shard=shard_values,
    state=st.one_of(st.none(), st.text(max_size=12), st.integers()),
    message=message_values,
)
@settings(max_examples=300, deadline=None)
def test_any_vitals_are_accepted_exactly_when_valid(
    latency: object, shard: object, state: object, message: object
) -> None:
    document = {"healthy": True, "latencyMs": latency, "shard": shard}
    document |= {"state": state, "message": message}
    data = json.dumps(document)  # ints beyond a float stay ints; floats are finite here
    valid = (
        (
            latency is None
            or (
                isinstance(latency, int | float)
                and not isinstance(latency, bool)
                and _finite_float(latency)
                and latency >= 0
            )
        )
        and (
            shard is None
            or (
                isinstance(shard, dict)
                and 0 <= shard["id"] < shard["count"]
                and isinstance(shard.get("connected", True), bool)
            )
        )
        and (state is None or isinstance(state, str))
        and (message is None or (isinstance(message, str) and len(message) <= 200))
    )
    try:
        status, _ = parse_status(data, now=NOW)
    except PayloadError:
        assert not valid
        return
    assert valid
    assert status.message == message
    assert status.state == state
    if latency is not None:
        assert status.latency_ms == float(latency)  # type: ignore[arg-type]
    if status.shard is not None:
        assert 0 <= status.shard.id < status.shard.total


def test_ten_thousand_shards() -> None:
    data = {"healthy": True, "shard": {"id": 9999, "count": 10_000, "connected": False}}
    status, _ = parse_status(json.dumps(data), now=NOW)
    assert status.shard == Shard(9999, 10_000, False)


def _reference_timestamp(value: str) -> datetime | None:
    """The timestamp rule without the engine's shortcuts: the cached parser's own body."""
    from guildwatch.engine._payload import _parse_timestamp

    try:
        parsed: datetime = _parse_timestamp.__wrapped__(value)
    except PayloadError:
        return None
    return parsed


z_shaped = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}Z".format,
    st.integers(0, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 25),
    st.integers(0, 61),
    st.integers(0, 61),
    st.sampled_from(["", ".5", ".123", ".123456", ".1234567"]),
)


@given(values=st.lists(st.one_of(z_shaped, st.text(max_size=30)), min_size=1, max_size=6))
@settings(max_examples=400, deadline=None)
def test_heartbeats_parse_as_the_plain_rule_however_they_repeat(values: list[str]) -> None:
    # The hot path skips the cache for Z times and remembers the last one: same verdicts.
    for value in values + values[::-1]:
        expected = _reference_timestamp(value)
        data = json.dumps({"healthy": True, "lastHeartbeat": value})
        try:
            status, _ = parse_status(data, now=NOW)
        except PayloadError:
            assert expected is None, value
            continue
        assert status.last_heartbeat == expected, value
        assert status.last_heartbeat is not None
        assert status.last_heartbeat.tzinfo is UTC


def test_a_negative_skew_tolerance_still_compares_past_heartbeats() -> None:
    # The shortcut for past heartbeats holds only for a tolerance >= 0.
    past = (NOW - timedelta(seconds=30)).isoformat()
    _, warning = parse_status(
        json.dumps({"healthy": True, "lastHeartbeat": past}), now=NOW, skew_tolerance=-60
    )
    assert warning is not None
    assert warning.kind == "clock_skew"


def test_vitals_sent_as_nulls_are_no_vitals() -> None:
    data = {"healthy": False, "lastHeartbeat": None, "version": "1", "latencyMs": None}
    status, _ = parse_status(json.dumps(data | {"state": None}), now=NOW)
    assert status == BotStatus(False, None, "1")
