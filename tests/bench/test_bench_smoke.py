"""Each benchmark in its smallest configuration, so the benchmarks cannot rot unnoticed.

Not timed tests: nothing here asserts on speed. Each checks that the module still runs end to
end (real server, real command in a pty) and returns well-formed rows: a figure per row, the
benchmark's name, and a ratio wherever there is a floor.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict

import pytest

from bench import (
    burst,
    idle,
    latency,
    many_screen,
    memory,
    metrics,
    reconnect,
    redis_fanout,
    server_fanout,
    shared_stream,
    startup,
    throughput,
)
from bench._report import Row, render


def check(rows: list[Row], name: str) -> None:
    assert rows, "no rows"
    for row in rows:
        assert row.benchmark == name
        assert math.isfinite(row.guildwatch.median)
        assert row.guildwatch.low <= row.guildwatch.median <= row.guildwatch.high
        if row.floor is not None and row.floor.median:
            assert row.ratio is not None
    text = render(
        {
            name: {
                "date": "-",
                "machine": "-",
                "commit": "-",
                "command": "-",
                "rows": [_as_dict(r) for r in rows],
            }
        }
    )
    assert all(row.metric in text for row in rows)


def _as_dict(row: Row) -> dict[str, object]:
    return asdict(row)


SMALLEST: dict[str, Callable[[], list[Row]]] = {
    startup.NAME: lambda: startup.run(1),
    throughput.NAME: lambda: throughput.run(1, events=2_000),
    latency.NAME: lambda: latency.run(1, events=3),
    idle.NAME: lambda: idle.run(1, seconds=0.5),
    burst.NAME: lambda: burst.run(1, events=300),
    memory.NAME: lambda: memory.run(1, counts=(1, 3), screen_counts=(1,)),
    reconnect.NAME: lambda: reconnect.run(1, guilds=2),
    server_fanout.NAME: lambda: server_fanout.run(1, streams=2, events=5),
    redis_fanout.NAME: lambda: redis_fanout.run(1, streams=6, events=5, latency_events=5),
    metrics.NAME: lambda: metrics.run(1, guilds=100),
    shared_stream.NAME: lambda: shared_stream.run(1, counts=(3,), restart_guilds=3),
    many_screen.NAME: lambda: many_screen.run(1, guilds=50),
}

SLOW = {memory.NAME, reconnect.NAME, startup.NAME, idle.NAME, latency.NAME}
"""Several programs started one after another, or a 3-4.5 s reconnect by design: > 10 s."""


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in SMALLEST],
)
def test_smallest_configuration_runs(name: str) -> None:
    check(SMALLEST[name](), name)
