"""The watcher's metrics, from a store the tests write: values, absences, the text format.

Two renderings must agree: prometheus-client's own (``StoreCollector`` + ``generate_latest``)
and the fast one ``/metrics`` serves (``StoreExposition``); both are parsed back with
prometheus-client's parser, and promtool checks what is served.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from guildwatch.metrics import StoreExposition, registry_for
from guildwatch.store import BotStatus, StatusStore
from tests.metrics.tools import promtool_check

BEAT = datetime(2026, 5, 1, 12, 0, 30, 250000, tzinfo=UTC)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def value(text: str, metric: str, **labels: str) -> float | None:
    wanted = set(labels.items())
    hits = [v for (n, lab), v in samples(text).items() if n == metric and wanted <= set(lab)]
    assert len(hits) <= 1, hits
    return hits[0] if hits else None


def families(text: str) -> list[tuple[str, str, str, Samples]]:
    return [
        (
            family.name,
            family.type,
            family.documentation,
            {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples},
        )
        for family in text_string_to_metric_families(text)
    ]


def render(store: StatusStore) -> str:
    return StoreExposition(store).render().decode()


def test_a_guild_without_a_status_has_a_state_but_no_up_series() -> None:
    store = StatusStore()
    store.add_guild("1", name="Alpha")
    text = render(store)
    assert value(text, "guildwatch_guild_up", guild="1") is None
    assert value(text, "guildwatch_guild_last_heartbeat_timestamp_seconds", guild="1") is None
    assert value(text, "guildwatch_guild_source", guild="1", source="stream") is None
    assert value(text, "guildwatch_guild_connection_state", guild="1", state="connecting") == 1
    for state in ("connected", "disconnected", "error"):
        assert value(text, "guildwatch_guild_connection_state", guild="1", state=state) == 0
    assert value(text, "guildwatch_events_total", guild="1", name="Alpha") == 0


def test_values_follow_the_store() -> None:
    store = StatusStore()
    store.add_guild("1", name="Alpha")
    store.add_guild("2")
    store.set_connection("1", "connected")
    up = (BotStatus(True, BEAT, "1.0"), None)
    store.apply_statuses("1", [up, up, up], source="stream")
    store.apply_status("2", BotStatus(False, None, None), source="poll")
    store.set_connection("2", "error")
    text = render(store)
    assert value(text, "guildwatch_guild_up", guild="1", name="Alpha") == 1
    assert value(text, "guildwatch_guild_up", guild="2", name="") == 0
    stamp = value(text, "guildwatch_guild_last_heartbeat_timestamp_seconds", guild="1")
    assert stamp == BEAT.timestamp()
    assert value(text, "guildwatch_guild_last_heartbeat_timestamp_seconds", guild="2") is None
    assert value(text, "guildwatch_guild_source", guild="1", source="stream") == 1
    assert value(text, "guildwatch_guild_source", guild="1", source="poll") == 0
    assert value(text, "guildwatch_guild_source", guild="2", source="poll") == 1
    assert value(text, "guildwatch_guild_connection_state", guild="2", state="error") == 1
    assert value(text, "guildwatch_events_total", guild="1") == 3
    assert value(text, "guildwatch_polls_total", guild="2") == 1
    assert value(text, "guildwatch_polls_total", guild="1") == 0


def test_reconnects_count_each_connection_after_the_first() -> None:
    store = StatusStore()
    store.add_guild("1")
    store.set_connection("1", "connected")
    store.set_connection("1", "connected")  # no change: not a reconnect
    assert value(render(store), "guildwatch_reconnects_total", guild="1") == 0
    for _ in range(2):
        store.set_connection("1", "disconnected")
        store.set_connection("1", "connecting")
        store.set_connection("1", "connected")
    assert value(render(store), "guildwatch_reconnects_total", guild="1") == 2
    assert store.counters("1").reconnects == 2


def test_latency_is_the_online_guilds_gateway_latency_in_seconds() -> None:
    store = StatusStore()
    for guild in ("up", "down", "quiet"):
        store.add_guild(guild)
    store.apply_status("up", BotStatus(True, BEAT, "1", latency_ms=42.0), source="stream")
    # An offline guild's last report is not its latency now.
    store.apply_status("down", BotStatus(False, BEAT, "1", latency_ms=42.0), source="stream")
    store.apply_status("quiet", BotStatus(True, BEAT, "1"), source="stream")
    text = render(store)
    assert value(text, "guildwatch_guild_latency_seconds", guild="up") == 0.042
    assert value(text, "guildwatch_guild_latency_seconds", guild="down") is None
    assert value(text, "guildwatch_guild_latency_seconds", guild="quiet") is None
    assert families(text) == families(generate_latest(registry_for(store)).decode())
    promtool_check(text)


def test_the_fast_rendering_says_what_prometheus_client_says() -> None:
    store = StatusStore()
    odd = ['quote " here', "back\\slash", "new\nline", "ünïcødé ✓", ""]
    for number, name in enumerate(odd):
        store.add_guild(f"g-{number}", name=name or None)
    store.set_connection("g-0", "connected")
    store.apply_status("g-0", BotStatus(True, BEAT, "1"), source="stream")
    store.apply_status("g-1", BotStatus(False, BEAT, None), source="poll")
    exposition = StoreExposition(store)
    registry = registry_for(store)
    assert families(exposition.render().decode()) == families(generate_latest(registry).decode())
    # A changed snapshot is formatted again, not served from the cache.
    store.set_connection("g-0", "disconnected")
    store.apply_status("g-0", BotStatus(False, BEAT, "2"), source="poll")
    fast = exposition.render().decode()
    assert families(fast) == families(generate_latest(registry).decode())
    assert value(fast, "guildwatch_guild_up", guild="g-0") == 0


def test_promtool_accepts_the_rendering() -> None:
    store = StatusStore()
    store.add_guild("1", name='Alpha "A"')
    store.add_guild("2")
    store.apply_status("1", BotStatus(True, BEAT, "1.0"), source="stream")
    promtool_check(render(store))
