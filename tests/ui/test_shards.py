"""The detail view's and the bot view's text without a screen: shard grid, deploys, latency."""

from __future__ import annotations

from datetime import timedelta

from rich.cells import cell_len

from guildwatch.latency import LatencyHistory
from guildwatch.store import HistoryEntry, ShardVitals
from guildwatch.ui._guild_detail import history_lines, latency_lines
from guildwatch.ui._shards import compact_count, shard_grid, worst_first
from tests.ui.support import NOW

WARN = 500.0


def _shards(count: int) -> list[ShardVitals]:
    return [
        ShardVitals(i, i % 9 != 3, None if i % 9 == 3 else 40.0 + i * 13, 2500 + i, None)
        for i in range(count)
    ]


def test_64_shards_fit_80x24_with_and_without_guild_counts() -> None:
    for guilds, most_rows in ((False, 10), (True, 13)):
        grid = shard_grid(_shards(64), 78, WARN, guilds=guilds)
        assert len(grid) <= most_rows
        assert all(cell_len(row) <= 78 for row in grid)
        text = " ".join(grid)
        assert text.count("✕") == 7  # shards 3, 12, 21, 30, 39, 48, 57
        assert "63◒ 859ms" in text
    assert "2.6k" in " ".join(shard_grid(_shards(64), 78, WARN, guilds=True))


def test_worst_first_puts_down_then_slow_then_by_latency() -> None:
    assert [s.id for s in worst_first(_shards(64), WARN)][:8] == [3, 12, 21, 30, 39, 48, 57, 63]
    ranked = worst_first(
        [
            ShardVitals(0, True, 40.0, 1, None),
            ShardVitals(1, False, None, 1, None),
            ShardVitals(2, True, 900.0, 1, None),
            ShardVitals(3, True, None, 1, None),
            ShardVitals(4, True, 90.0, 1, None),
        ],
        WARN,
    )
    assert [s.id for s in ranked] == [1, 2, 3, 4, 0]


def test_compact_counts_stay_in_four_cells() -> None:
    assert [compact_count(n) for n in (950, 2503, 25_000, 250_000, 1_200_000)] == [
        "950",
        "2.5k",
        "25k",
        "250k",
        "1.2M",
    ]


def test_a_new_version_in_the_history_is_marked_as_a_deploy() -> None:
    entries = (
        HistoryEntry(NOW - timedelta(minutes=30), "connected", "online", "1.2.0"),
        HistoryEntry(NOW - timedelta(minutes=20), "connected", "offline", "1.2.0"),
        HistoryEntry(NOW - timedelta(minutes=19), "connected", "online", "1.3.0"),
    )
    lines = history_lines(entries)
    assert lines[0].endswith("v1.3.0  deploy (was v1.2.0)")
    assert not any("deploy" in line for line in lines[1:])


def test_latency_numbers_of_the_hour() -> None:
    history = LatencyHistory()
    assert latency_lines(history) == []
    for index, value in enumerate([40.0, 42.0, 44.0, 300.0]):
        history.add(index * 10.0, value, WARN)
    assert latency_lines(history) == [
        "Latency 1h  min 40 ms · median 43 ms · p95 300 ms (4 samples)"
    ]
