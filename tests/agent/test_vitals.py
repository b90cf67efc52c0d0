"""Vitals -> wire JSON: NaN and infinity become null, bad shards are refused where they are
made, long messages are truncated (not refused), and every body passes the protocol's rules."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guildwatch.agent import (
    MAX_MESSAGE_CHARS,
    STATES,
    ShardVitals,
    Vitals,
    VitalsError,
    bot_body,
    guild_body,
    latency_ms,
)
from tests.agent.receiver import check_bot_body, check_guild_body, strict_json

GUILD = "111111111111111111"

floats = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 5e-324]),
)


def _wire(body: dict[str, object]) -> object:
    """What the receiver would parse: strict JSON, so a NaN literal would fail here."""
    return strict_json(json.dumps(body, allow_nan=False).encode())


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -0.5, None, 1e308])
def test_what_json_cannot_carry_is_null(value: float | None) -> None:
    # 1e308 s is finite but its milliseconds overflow to infinity: null too.
    assert latency_ms(value) is None


def test_latency_is_sent_in_milliseconds() -> None:
    assert latency_ms(0.0412) == 41.2
    assert latency_ms(0) == 0.0


def test_negative_shard_ids_are_rejected() -> None:
    with pytest.raises(VitalsError, match=">= 0"):
        ShardVitals(-1)
    with pytest.raises(VitalsError, match=">= 0"):
        Vitals(guilds={GUILD: -3})
    with pytest.raises(VitalsError, match="below the shard count"):
        Vitals(shards=(ShardVitals(4),), shard_count=4)
    with pytest.raises(VitalsError, match="twice"):
        Vitals(shards=(ShardVitals(1), ShardVitals(1)))
    with pytest.raises(VitalsError, match="int"):
        ShardVitals(True)


def test_bad_guild_ids_and_states_are_rejected() -> None:
    with pytest.raises(VitalsError, match="guild id"):
        Vitals(guilds={"no spaces": 0})
    with pytest.raises(VitalsError, match="state"):
        Vitals(state="sleeping")  # type: ignore[arg-type]


def test_ten_thousand_shards_fit_and_one_more_does_not() -> None:
    shards = tuple(ShardVitals(i, latency=i / 1000) for i in range(10_000))
    body = bot_body(Vitals(shards=shards), "1.0")
    check_bot_body(_wire(body))
    assert body["shardCount"] == 10_000
    with pytest.raises(VitalsError, match="10000"):
        Vitals(shards=(*shards, ShardVitals(10_000)))


def test_a_slice_of_a_big_cluster_may_name_a_shard_count_above_the_limit() -> None:
    vitals = Vitals(shards=(ShardVitals(12_000),), shard_count=20_000, guilds={GUILD: 12_000})
    body = bot_body(vitals, None)
    check_bot_body(_wire(body))
    assert body["shardCount"] == 20_000
    assert guild_body(vitals, None, GUILD)["shard"] == {
        "id": 12_000,
        "count": 20_000,
        "connected": True,
    }
    with pytest.raises(VitalsError, match="10000"):
        Vitals(guilds={str(i): i for i in range(10_001)})


def test_a_long_message_is_truncated_to_the_limit() -> None:
    vitals = Vitals(message="x" * 500)
    assert vitals.message is not None
    assert len(vitals.message) == MAX_MESSAGE_CHARS
    assert vitals.message.endswith("\u2026")
    assert Vitals(message="y" * MAX_MESSAGE_CHARS).message == "y" * MAX_MESSAGE_CHARS


def test_escapes_survive_and_lone_surrogates_are_replaced() -> None:
    text = 'quote " backslash \\ newline \n nul \x00 esc \x1b[31m \u2028 emoji \U0001f916'
    body = guild_body(Vitals(message=text), None, GUILD)
    assert _wire(body) == {**body, "message": text}
    broken = guild_body(Vitals(message="a\ud800b"), None, GUILD)
    assert broken["message"] == "a\ufffdb"
    json.dumps(broken).encode("utf-8")


def test_the_protocol_example_round_trips() -> None:
    started = datetime(2026, 11, 22, 13, 58, 12, tzinfo=UTC)
    vitals = Vitals(
        latency=0.0412,
        shards=(ShardVitals(0, True, 0.0412), ShardVitals(1, False, math.nan)),
        shard_count=2,
        guilds={"111111111111111111": 0, "222222222222222222": 1},
        started_at=started,
    )
    assert bot_body(vitals, "1.3.0") == {
        "version": "1.3.0",
        "startedAt": "2026-11-22T13:58:12Z",
        "state": "up",
        "message": None,
        "shardCount": 2,
        "shards": [
            {"id": 0, "connected": True, "latencyMs": 41.2},
            {"id": 1, "connected": False, "latencyMs": None},
        ],
        "guilds": {"111111111111111111": 0, "222222222222222222": 1},
    }
    assert guild_body(vitals, "1.3.0", "222222222222222222") == {
        "version": "1.3.0",
        "latencyMs": None,
        "shard": {"id": 1, "count": 2, "connected": False},
        "state": "degraded",  # its shard is down, as the server would say
        "message": None,
        "startedAt": "2026-11-22T13:58:12Z",
    }


def test_a_guild_on_an_unlisted_shard_lists_that_shard_as_down() -> None:
    body = bot_body(Vitals(shards=(ShardVitals(0),), guilds={GUILD: 3}), None)
    check_bot_body(_wire(body))
    assert body["shards"][-1] == {"id": 3, "connected": False, "latencyMs": None}
    assert body["shardCount"] == 4


def test_maintenance_is_not_overridden_by_a_down_shard() -> None:
    vitals = Vitals(shards=(ShardVitals(0, connected=False),), guilds={GUILD: 0})
    assert guild_body(vitals, None, GUILD)["state"] == "degraded"
    maintenance = Vitals(
        shards=vitals.shards, guilds=vitals.guilds, state="maintenance", message="deploying"
    )
    assert guild_body(maintenance, None, GUILD)["state"] == "maintenance"


def test_started_at_is_utc_rfc3339() -> None:
    plus_two = datetime(2026, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert guild_body(Vitals(started_at=plus_two), None, GUILD)["startedAt"] == (
        "2026-01-01T12:00:00Z"
    )


shard_ids = st.integers(min_value=0, max_value=200)


@st.composite
def vitals_strategy(draw: st.DrawFn) -> Vitals:
    ids = draw(st.lists(shard_ids, unique=True, max_size=20))
    shards = tuple(ShardVitals(i, connected=draw(st.booleans()), latency=draw(floats)) for i in ids)
    guild_ids = draw(
        st.lists(st.from_regex(r"[A-Za-z0-9._-]{1,30}", fullmatch=True), max_size=20, unique=True)
    )
    guilds = {g: draw(st.sampled_from(ids) if ids else shard_ids) for g in guild_ids}
    highest = max((*ids, *guilds.values()), default=-1)
    count = draw(st.one_of(st.none(), st.integers(highest + 1, highest + 50).filter(bool)))
    return Vitals(
        latency=draw(floats),
        shards=shards,
        shard_count=count,
        guilds=guilds,
        state=draw(st.sampled_from(STATES)),
        message=draw(st.one_of(st.none(), st.text(max_size=400))),
        started_at=draw(st.one_of(st.none(), st.datetimes(timezones=st.just(UTC)))),
    )


@settings(max_examples=200, deadline=None)
@given(vitals=vitals_strategy(), version=st.one_of(st.none(), st.text(max_size=256)))
def test_every_body_obeys_the_protocol(vitals: Vitals, version: str | None) -> None:
    bot = _wire(bot_body(vitals, version))
    check_bot_body(bot)
    for guild in [*vitals.guilds, "999"]:
        check_guild_body(_wire(guild_body(vitals, version, guild)))


@settings(max_examples=200, deadline=None)
@given(
    latency=st.one_of(st.floats(), st.integers(min_value=-(10**400), max_value=10**400)),
    message=st.text(),
)
def test_huge_numbers_and_any_text_never_make_invalid_json(latency: float, message: str) -> None:
    body = guild_body(Vitals(latency=latency, message=message), None, GUILD)
    check_guild_body(_wire(body))
    value = body["latencyMs"]
    assert value is None or (math.isfinite(value) and value >= 0)


@given(st.integers(max_value=-1))
def test_any_negative_shard_id_is_refused(shard: int) -> None:
    with pytest.raises(VitalsError):
        ShardVitals(shard)
    with pytest.raises(VitalsError):
        Vitals(guilds={GUILD: shard})
