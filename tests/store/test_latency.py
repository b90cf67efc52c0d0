"""The latency window: a spike, a wobble and a sustained rise, over the store's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from guildwatch.latency import (
    HOUR_SAMPLES,
    RECENT_SAMPLES,
    SAMPLE_SPACING,
    LatencyHistory,
    percentile,
)
from guildwatch.store import BotStatus, StatusStore

WARN = 500.0
T0 = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)


def feed(history: LatencyHistory, values: list[float], every: float = 1.0) -> list[bool]:
    """Add one sample a second; the judgement after each."""
    judged = []
    for index, value in enumerate(values):
        history.add(index * every, value, WARN)
        judged.append(history.slow)
    return judged


def test_a_single_spike_does_not_flip_the_judgement() -> None:
    history = LatencyHistory()
    judged = feed(history, [40.0] * 20 + [5000.0] + [40.0] * 20)
    assert not any(judged)


def test_a_spike_at_the_very_start_does_not_judge_alone() -> None:
    history = LatencyHistory()
    assert feed(history, [900.0, 40.0, 40.0, 40.0]) == [False, False, False, False]


def test_a_wobble_around_the_threshold_does_not_flip_back_and_forth() -> None:
    history = LatencyHistory()
    wobble = [490.0, 510.0] * 30
    judged = feed(history, [40.0] * 5 + [600.0] * 40 + wobble)
    first_slow = judged.index(True)
    # Once Degraded, a latency hovering at the threshold keeps it Degraded (hysteresis).
    assert all(judged[first_slow:])
    history_calm = LatencyHistory()
    # Starting from calm, a wobble whose median sits at the threshold never turns it on.
    assert not any(feed(history_calm, [40.0] * 5 + [480.0, 505.0, 490.0] * 20))


def test_a_sustained_rise_turns_degraded_and_a_sustained_fall_back() -> None:
    history = LatencyHistory()
    judged = feed(history, [40.0] * 30 + [800.0] * 30 + [40.0] * 40)
    assert not any(judged[:30])
    assert judged.index(True) > 30  # not on the first slow sample: half the window must be
    assert judged[59]
    assert not judged[-1]
    # The way back takes the window's median under 80 % of the threshold, not one sample.
    assert judged[61]


def test_slow_heartbeats_are_judged_over_the_last_three_samples() -> None:
    history = LatencyHistory()
    judged = feed(history, [40.0, 900.0, 40.0, 40.0, 900.0, 900.0], every=41.0)
    # Alone each sample is outside a 30 s window of the one before: the last three decide.
    assert judged == [False, False, False, False, False, True]


def test_the_buffers_are_bounded_and_keep_the_worst_of_each_slot() -> None:
    history = LatencyHistory()
    for index in range(10 * HOUR_SAMPLES):
        history.add(index * 0.5, 40.0 + index % 7, WARN)
    assert len(history.hour()) <= HOUR_SAMPLES
    assert len(history._recent) == RECENT_SAMPLES
    spiky = LatencyHistory()
    feed(spiky, [40.0, 40.0, 3000.0, 40.0])  # four samples inside one 5 s slot
    assert spiky.hour() == [3000.0]
    assert SAMPLE_SPACING == 5.0


def test_the_hour_is_pruned_by_time() -> None:
    history = LatencyHistory()
    history.add(0.0, 40.0, WARN)
    history.add(3599.0, 50.0, WARN)
    history.add(3610.0, 60.0, WARN)
    assert history.hour() == [50.0, 60.0]


def test_stats_are_min_median_and_nearest_rank_p95() -> None:
    history = LatencyHistory()
    for index in range(100):
        history.add(index * SAMPLE_SPACING, float(index + 1), WARN)
    stats = history.stats()
    assert stats is not None
    assert (stats.minimum, stats.median, stats.p95, stats.samples) == (1.0, 50.5, 95.0, 100)
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert LatencyHistory().stats() is None


def test_the_shown_latency_ignores_a_few_ms_of_jitter() -> None:
    history = LatencyHistory()
    shown = []
    for index, value in enumerate([42.0, 45.0, 39.0, 47.0, 44.0, 80.0, 83.0]):
        history.add(float(index), value, WARN)
        shown.append(history.shown)
    assert shown == [42.0, 42.0, 42.0, 42.0, 42.0, 80.0, 80.0]


def test_the_store_judges_with_its_threshold_and_clock() -> None:
    now = [T0]
    store = StatusStore(clock=lambda: now[0], latency_warn=200.0)
    store.add_guild("g")
    for second in range(40):
        now[0] = T0 + timedelta(seconds=second)
        store.apply_status("g", BotStatus(True, now[0], "1", latency_ms=300.0), source="stream")
    snapshot = store.get("g")
    assert snapshot.latency_slow
    assert snapshot.latency_shown_ms == 300.0
    assert store.latency("g").window_median() == 300.0
    # A bot that stops reporting latency is judged no more (and shows none).
    store.apply_status("g", BotStatus(True, now[0], "1"), source="stream")
    assert (store.get("g").latency_slow, store.get("g").latency_shown_ms) == (False, None)
