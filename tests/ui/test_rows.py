"""The list's rules without a running app: sort order, filter matching, columns per width."""

from __future__ import annotations

from rich.cells import cell_len

from guildwatch.store import BotStatus, GuildSnapshot
from guildwatch.ui._guild_list import GuildList
from guildwatch.ui._many import summary
from guildwatch.ui._notices import Notice, merge_notices
from guildwatch.ui._rows import Layout, matches, rank, row_cells
from tests.ui.support import HOSTILE, MIXED, MIXED_WORST_FIRST, NOW, FakeClock, mixed_store


def _sorted_names(snapshots: tuple[GuildSnapshot, ...]) -> list[str | None]:
    order = {s.guild_id: i for i, s in enumerate(snapshots)}
    ranked = sorted(snapshots, key=lambda s: (rank(s), order[s.guild_id]))
    return [s.name for s in ranked]


def test_worst_first_and_stable_within_a_group() -> None:
    store = mixed_store(FakeClock())
    names = _sorted_names(store.snapshots())
    # lost, offline x2 (store order), connecting/reconnecting (store order), online x3.
    assert names == MIXED_WORST_FIRST


def test_filter_matches_id_or_name_case_insensitively() -> None:
    store = mixed_store(FakeClock())
    fjord = store.get(MIXED[5][0])
    assert matches(fjord, "fjo")
    assert matches(fjord, "")
    assert matches(fjord, "000006")  # part of the id
    assert not matches(fjord, "harbor")
    unnamed = GuildSnapshot(guild_id="42")
    assert matches(unnamed, "4")
    assert not matches(unnamed, "x")


def test_layouts_degrade_but_keep_dot_and_word() -> None:
    wide = Layout.for_width(77)
    assert (wide.seen, wide.version, wide.source) == (10, 12, 6)
    assert wide.name >= 12
    medium = Layout.for_width(45)
    assert (medium.seen, medium.version) == (10, 0)
    narrow = Layout.for_width(37)
    assert narrow.name >= 12
    assert narrow.seen == 0
    tiny = Layout.for_width(20)
    assert not tiny.name_first
    store = mixed_store(FakeClock())
    lost = store.get(MIXED[3][0])
    for width in (77, 45, 37, 20, 10):
        cells = row_cells(lost, NOW, Layout.for_width(width))
        text = "".join(text for text, _ in cells)
        assert cell_len(text) <= width
        assert text.startswith("⊘ ")
        if width >= 20:
            assert "Unauthorized" in text  # the lost guild was refused its token (401)


def test_a_row_has_every_column_when_wide() -> None:
    store = mixed_store(FakeClock())
    polled = store.get(MIXED[5][0])  # Fjord: polled 30 s ago, heartbeat 2 minutes ago
    cells = row_cells(polled, NOW, Layout.for_width(77))
    texts = [text.strip() for text, _ in cells]
    assert texts == ["◉", "Fjord", "Online", "2m", "v1.2.3", "poll"]
    assert [role for _, role in cells][-1] == "poll"


def test_hostile_names_are_inert_and_bounded() -> None:
    snapshot = GuildSnapshot(guild_id="1", name=HOSTILE)
    for width in (77, 37, 20):
        text = "".join(text for text, _ in row_cells(snapshot, NOW, Layout.for_width(width)))
        assert "\x1b" not in text
        assert "\u202e" not in text
        assert cell_len(text) <= width


def test_summary_counts_worst_first() -> None:
    store = mixed_store(FakeClock())
    assert summary(store.snapshots()) == (
        "1 lost · 2 offline · 1 reconnecting · 1 connecting · 3 online"
    )


def test_many_notices_at_once_merge_into_one_per_title() -> None:
    lost = [
        Notice("Connection lost", f"g{i}: reconnecting…", "warning", f"g{i}") for i in range(40)
    ]
    lost[7] = Notice("Connection lost", "g7: gave up", "error", "g7")
    offline = [Notice("Bot offline", "g1: the bot went offline.", "warning", "g1")]
    merged = merge_notices(lost + offline)
    assert [n.title for n in merged] == ["Connection lost", "Bot offline"]
    assert merged[0].message == "40 guilds: g0, g1, g2, …"
    assert merged[0].severity == "error"
    assert merged[1] == offline[0]
    few = lost[:3]
    assert merge_notices(few) == few


def test_a_renamed_guild_enters_and_leaves_an_active_filter() -> None:
    clock = FakeClock()
    store = mixed_store(clock)
    guild_list = GuildList(store.snapshots(), clock)
    guild_list.set_filter("zephyr")
    assert len(guild_list.rows) == 0
    store.add_guild(MIXED[0][0], name="Zephyr")
    guild_list.update([store.get(MIXED[0][0])])
    assert list(guild_list.rows) == [MIXED[0][0]]
    sorts = guild_list.sorts
    guild_list.update([store.get(MIXED[1][0])])  # same group, same name: no re-sort
    assert guild_list.sorts == sorts


def _maintenance(message: str) -> GuildSnapshot:
    status = BotStatus(True, NOW, "1.3.0", 40.0, state="maintenance", message=message)
    return GuildSnapshot("g", name="Aurora", connection="connected", status=status, source="stream")


def test_a_long_maintenance_message_moves_to_the_note_in_a_wide_pane() -> None:
    layout = Layout.for_width(100, len("Aurora"))
    assert layout.note > 20
    cells = row_cells(_maintenance("deploying v1.3 now"), NOW, layout)
    texts = [text.strip() for text, _ in cells]
    assert texts[2] == "Maintenance"
    assert texts[-1] == "deploying v1.3 now"  # in the source's place: no "stream"
    assert "stream" not in texts
    assert sum(cell_len(text) for text, _ in cells) <= 100


def test_a_maintenance_message_that_fits_stays_in_the_status_column() -> None:
    layout = Layout.for_width(100, len("Aurora"))
    texts = [text.strip() for text, _ in row_cells(_maintenance("v1.3"), NOW, layout)]
    assert texts[2] == "Maintenance · v1.3"
    assert len(texts) == 6  # no note cell


def test_without_room_for_a_note_the_status_is_cut() -> None:
    layout = Layout.for_width(45, 32)
    assert layout.note == 0
    cells = row_cells(_maintenance("deploying v1.3 now"), NOW, layout)
    assert cells[2][0].strip().endswith("…")
    assert len(cells) == 4
