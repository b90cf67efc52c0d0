"""The alert service on a real store and event loop: sinks fire once per announced change."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from guildwatch.alerts import BEL, Alerter, AlertService, AlertSettings, Silences, osc9, osc777
from guildwatch.store import BotStatus, StatusStore
from tests.alerts.support import RECORDER, T0, snapshot

HOSTILE_NAME = "evil\x1b]0;pwn\x07\x9c\x9d2;x\x1b\\;name\u202e;\nnext"


def test_osc_sequences_cannot_be_ended_early_by_server_text() -> None:
    change_source = snapshot("offline", name=HOSTILE_NAME)
    alerter = Alerter(0.0)
    alerter.update(snapshot("online", name=HOSTILE_NAME))
    (change,) = alerter.update(change_source)
    for sequence, opener in ((osc9(change), "\x1b]9;"), (osc777(change), "\x1b]777;notify;")):
        assert sequence.startswith(opener)
        assert sequence.endswith(BEL)
        body = sequence[len(opener) : -1]
        assert not any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in body)
        assert "\u202e" not in body
    assert osc9(change) == "\x1b]9;guildwatch: evil]0,pwn2,x\\,name, next: Offline (was Online)\a"
    # OSC 777's fields are split on ";": only the three separators guildwatch wrote remain.
    assert osc777(change).count(";") == 3


async def _until(condition: object, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_bell_and_desktop_notification_after_the_hold_down() -> None:
    store = StatusStore(clock=lambda: T0)
    for guild in ("a", "b"):
        store.add_guild(guild)
        store.set_connection(guild, "connected")
        store.apply_status(guild, BotStatus(True, T0, "1.0"), source="stream")
    written: list[tuple[float, str]] = []
    settings = AlertSettings(bell=True, desktop="osc777", hold_down=0.3)
    service = AlertService(settings)
    task = asyncio.create_task(
        service.run(
            store,
            terminal=lambda text: written.append((time.monotonic(), text)),
            report=lambda message: written.append((time.monotonic(), f"report {message}")),
        )
    )
    try:
        await asyncio.sleep(0.1)  # the service takes the current (online) state in: no news
        assert written == []
        went_down = time.monotonic()
        store.apply_status("a", BotStatus(False, T0, "1.0"), source="stream")
        await _until(lambda: len(written) == 2)
        # Nothing else is due: the other guild stayed online and "a" was announced once.
        await asyncio.sleep(0.5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [text for _, text in written] == [
        BEL,
        "\x1b]777;notify;guildwatch;a: Offline (was Online)\a",
    ]
    assert written[0][0] - went_down >= 0.3  # held for the hold-down before it was announced
    assert [(c.guild_id, c.before, c.after) for c in service.sent] == [("a", "online", "offline")]


async def test_a_flapping_guild_rings_once() -> None:
    store = StatusStore(clock=lambda: T0)
    store.add_guild("g")
    store.set_connection("g", "connected")
    store.apply_status("g", BotStatus(True, T0, "1.0"), source="stream")
    rings: list[str] = []
    service = AlertService(AlertSettings(bell=True, hold_down=0.5))
    task = asyncio.create_task(service.run(store, terminal=rings.append, report=rings.append))
    try:
        await asyncio.sleep(0.05)
        for _ in range(10):  # 2 s of flapping at 5 Hz
            store.apply_status("g", BotStatus(False, T0, "1.0"), source="stream")
            await asyncio.sleep(0.1)
            store.apply_status("g", BotStatus(True, T0, "1.0"), source="stream")
            await asyncio.sleep(0.1)
        await _until(lambda: len(service.sent) == 2)  # settles online: "back" once
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [(c.before, c.after) for c in service.sent] == [
        ("online", "offline"),
        ("offline", "online"),
    ]
    assert rings == [BEL, BEL]


def test_settings_know_when_nothing_would_fire() -> None:
    assert AlertSettings().enabled  # the library's default; the CLI turns it off
    assert not AlertSettings(bell=False).enabled
    assert AlertSettings(bell=False, desktop="osc9").enabled
    assert AlertSettings(bell=False, on_change=("true",)).enabled


async def test_silence_and_reminders_through_the_real_command(tmp_path: Path) -> None:
    recorder = tmp_path / "record.py"
    recorder.write_text(f"#!{sys.executable}\n{RECORDER}")
    recorder.chmod(0o755)
    log = tmp_path / "calls.jsonl"

    def payloads() -> list[dict[str, Any]]:
        if not log.exists():
            return []
        return [json.loads(json.loads(line)["stdin"]) for line in log.read_text().splitlines()]

    store = StatusStore(clock=lambda: T0)
    for guild in ("quiet", "loud"):
        store.add_guild(guild)
        store.set_connection(guild, "connected")
        store.apply_status(guild, BotStatus(True, T0, "1.0"), source="stream")
    silences = Silences(clock=lambda: T0)
    silences.silence(["quiet"], timedelta(hours=1))
    settings = AlertSettings(
        bell=False, on_change=(str(recorder), "--out", str(log)), hold_down=0.0, repeat=0.4
    )
    service = AlertService(settings, silences=silences)
    reports: list[str] = []
    task = asyncio.create_task(service.run(store, terminal=lambda _: None, report=reports.append))
    try:
        await _until(lambda: service.runner is not None)
        for guild in ("quiet", "loud"):
            store.apply_status(guild, BotStatus(False, T0, "1.0"), source="stream")
        # The loud guild's alert, then one reminder of it; the silenced guild's alert is held.
        await _until(lambda: len(payloads()) == 2)
        assert [(p["guild"], p["to"], p["reminder"]) for p in payloads()] == [
            ("loud", "offline", False),
            ("loud", "offline", True),
        ]
        assert [(c.guild_id, c.after) for c in service.gate.held] == [("quiet", "offline")]
        # Ending the silence wakes the service: the held alert goes out at once.
        silences.unsilence(["quiet"])
        await _until(lambda: any(p["guild"] == "quiet" for p in payloads()))
        store.apply_status("loud", BotStatus(True, T0, "1.0"), source="stream")
        await _until(lambda: any(p["to"] == "online" for p in payloads()))
        assert service.runner is not None
        await service.runner.wait_idle()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert reports == []
    quiet = [p for p in payloads() if p["guild"] == "quiet"]
    assert [(p["from"], p["to"], p["reminder"]) for p in quiet[:1]] == [
        ("online", "offline", False)
    ]
    assert ("loud", "online", False) in [(p["guild"], p["to"], p["reminder"]) for p in payloads()]
