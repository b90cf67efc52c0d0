"""The silences' state file, in a real temporary directory: round trip, atomic writes, a
corrupt file, a read-only directory, and two guildwatch processes writing at once."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from guildwatch.alerts import Silence, SilenceFile, Silences
from guildwatch.cli._config import default_state_dir
from tests.alerts.support import T0


def test_state_dir_follows_xdg_state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_state_dir({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "guildwatch"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = tmp_path / "home" / ".local" / "state" / "guildwatch"
    assert default_state_dir({}) == expected
    assert default_state_dir({"XDG_STATE_HOME": "relative/dir"}) == expected


def test_round_trip_through_a_real_file_mode_0600(tmp_path: Path) -> None:
    reports: list[str] = []
    directory = default_state_dir({"XDG_STATE_HOME": str(tmp_path)})
    file = SilenceFile(directory, report=reports.append)
    saved = [
        Silence("a", T0, T0 + timedelta(hours=1)),
        Silence("b", T0, None, seen_down=True),
    ]
    assert file.save(saved)
    assert stat.S_IMODE(file.path.stat().st_mode) == 0o600
    assert file.load() == saved
    assert SilenceFile(directory, report=reports.append).load() == saved
    assert reports == []
    # No temporary file is left next to it.
    assert sorted(p.name for p in directory.iterdir()) == ["silences.json"]


def test_silences_saved_on_change_survive_a_new_model(tmp_path: Path) -> None:
    file = SilenceFile(tmp_path, report=lambda message: None)
    first = Silences(clock=lambda: T0, on_change=file.save)
    first.silence(["a"], timedelta(hours=1))
    later = T0 + timedelta(minutes=30)
    second = Silences(clock=lambda: later, entries=file.load())
    state = second.state("a")
    assert state is not None
    assert state.left(later) == "silenced 30m"
    # Expired entries are dropped on load.
    much_later = T0 + timedelta(hours=2)
    assert Silences(clock=lambda: much_later, entries=file.load()).entries() == ()


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"format": 99}', b'{"format": 1, "silences": [{"guild": 5}]}', b"\xff\xfe"],
)
def test_a_corrupt_file_is_reported_once_and_ignored(tmp_path: Path, content: bytes) -> None:
    reports: list[str] = []
    (tmp_path / "silences.json").write_bytes(content)
    file = SilenceFile(tmp_path, report=reports.append)
    assert file.load() == []
    assert file.load() == []
    assert len(reports) == 1
    assert "corrupt" in reports[0]
    assert "ignored" in reports[0]
    # The next save replaces it with a good one.
    assert file.save([Silence("a", T0, None)])
    assert file.load() == [Silence("a", T0, None)]


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory nobody may write to: mode 0500, or immutable for root (who ignores modes)."""
    directory = tmp_path / "state"
    directory.mkdir()
    if os.geteuid() != 0:
        directory.chmod(0o500)
        yield directory
        directory.chmod(0o700)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make a directory read-only")
    made = subprocess.run(["chattr", "+i", str(directory)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {made.stderr!r}")
    try:
        yield directory
    finally:
        subprocess.run(["chattr", "-i", str(directory)], check=True)


def test_a_read_only_directory_is_reported_once_never_fatal(read_only_dir: Path) -> None:
    reports: list[str] = []
    file = SilenceFile(read_only_dir, report=reports.append)
    silences = Silences(clock=lambda: T0, on_change=file.save)
    silences.silence(["a"], timedelta(hours=1))
    silences.silence(["b"], timedelta(hours=1))
    assert len(reports) == 1
    assert "cannot save silences" in reports[0]
    assert [e.guild_id for e in silences.entries()] == ["a", "b"]  # still in memory
    assert list(read_only_dir.iterdir()) == []


def test_an_unreadable_file_is_reported_once(tmp_path: Path) -> None:
    # A directory where the file should be: unreadable for root as well as for anyone.
    (tmp_path / "silences.json").mkdir()
    reports: list[str] = []
    file = SilenceFile(tmp_path, report=reports.append)
    assert file.load() == []
    assert file.load() == []
    assert len(reports) == 1
    assert "cannot read silences" in reports[0]


_WRITER = """
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from guildwatch.alerts import Silence, SilenceFile
name, count = sys.argv[2], int(sys.argv[3])
file = SilenceFile(Path(sys.argv[1]), report=lambda m: sys.exit(m))
t0 = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)
guilds = [f"{name}-{i}" for i in range(200)]  # a file of some size, so a torn write shows
for n in range(count):
    assert file.save([Silence(g, t0, t0 + timedelta(hours=1 + n)) for g in guilds])
print("done", flush=True)
"""


def test_two_processes_writing_at_once_leave_one_whole_file(tmp_path: Path) -> None:
    count = 60
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tmp_path), name, str(count)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("first", "second")
    ]
    reports: list[str] = []
    reader = SilenceFile(tmp_path, report=reports.append)
    while any(w.poll() is None for w in writers):
        entries = reader.load()  # never torn: always one writer's whole file, or none yet
        if entries:
            owners = {e.guild_id.split("-")[0] for e in entries}
            assert len(owners) == 1
            assert len(entries) == 200
    for writer in writers:
        out, _ = writer.communicate(timeout=30)
        assert writer.returncode == 0
        assert out.strip() == "done"
    assert reports == []
    final = json.loads((tmp_path / "silences.json").read_text())
    assert len(final["silences"]) == 200
    # Each writer's last file is complete; whichever replaced last is what stays.
    last = {s["guild"].split("-")[0] for s in final["silences"]}
    assert len(last) == 1
    # ... and it is that writer's last save.
    until = (T0 + timedelta(hours=count)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert {s["until"] for s in final["silences"]} == {until}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["silences.json"]
