"""The shard grid as plain text: one cell per shard (id, connected, latency, guilds).

Plain data, no Textual, so the rules (64 shards fit 80x24, worst first, readable without
colour) are tested without a screen. The detail view and the bot view both paint these lines.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len

from guildwatch.display import format_latency
from guildwatch.store import ShardVitals

SHARD_GLYPHS = {"up": "◉", "slow": "◒", "down": "✕", "unknown": "◌"}
"""The dot's glyphs: a shard reads without colour, as the rows do."""

SHARD_LEGEND = "◉ connected  ◒ latency over the threshold  ✕ disconnected"


def shard_health(shard: ShardVitals, warn_ms: float) -> str:
    """``down``, ``slow``, ``up`` or ``unknown`` (connected, no latency yet)."""
    if not shard.connected:
        return "down"
    if shard.latency_ms is None:
        return "unknown"
    return "slow" if shard.latency_ms > warn_ms else "up"


_ORDER = {"down": 0, "slow": 1, "unknown": 2, "up": 3}


def worst_first(shards: Sequence[ShardVitals], warn_ms: float) -> list[ShardVitals]:
    """Disconnected first, then over the threshold, then by latency, highest first."""
    return sorted(
        shards,
        key=lambda s: (_ORDER[shard_health(s, warn_ms)], -(s.latency_ms or 0.0), s.id),
    )


def _latency(shard: ShardVitals) -> str:
    if not shard.connected:
        return "down"
    if shard.latency_ms is None:
        return "—"
    return format_latency(shard.latency_ms).replace(" ", "")  # "42ms", "12.3s"


def compact_count(count: int) -> str:
    """At most four cells: 950, 2.5k, 25k, 250k, 1.2M."""
    if count < 1000:
        return str(count)
    if count < 10_000:
        return f"{count / 1000:.1f}k"
    if count < 1_000_000:
        return f"{count // 1000}k"
    return f"{count / 1_000_000:.1f}M"


def shard_cell(shard: ShardVitals, warn_ms: float, *, guilds: bool, id_cells: int) -> str:
    """ " 3◉  42ms" (and " 2.5k" guilds with ``guilds``): 9 or 14 cells for ids under 100."""
    glyph = SHARD_GLYPHS[shard_health(shard, warn_ms)]
    text = f"{shard.id:>{id_cells}}{glyph} {_latency(shard):>5}"
    if guilds:
        count = "" if shard.guilds is None else compact_count(shard.guilds)
        text += f" {count:>4}"
    return text


def shard_grid(
    shards: Sequence[ShardVitals], width: int, warn_ms: float, *, guilds: bool = False
) -> list[str]:
    """The cells in rows that fit ``width``, in the order given.

    64 shards take 7 columns by 10 rows (5 by 13 with guild counts) at 78 cells.
    """
    if not shards:
        return []
    id_cells = len(str(max(s.id for s in shards)))
    cells = [shard_cell(s, warn_ms, guilds=guilds, id_cells=id_cells) for s in shards]
    cell_width = max(cell_len(c) for c in cells)
    gap = 2
    columns = max(1, (width + gap) // (cell_width + gap))
    rows = []
    for start in range(0, len(cells), columns):
        row = cells[start : start + columns]
        rows.append((" " * gap).join(c.ljust(cell_width) for c in row).rstrip())
    return rows
