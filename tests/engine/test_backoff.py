"""The reconnect schedule (docs/protocol.md "Reconnection policy"), with pinned randomness."""

from __future__ import annotations

import pytest

from guildwatch.engine._backoff import MAX_FLOOR, Backoff


def backoff(rand: float = 0.0) -> Backoff:
    return Backoff(base=1.0, cap=30.0, jitter=0.5, rand=lambda: rand)


def test_doubles_from_the_base_up_to_the_cap() -> None:
    delays = [backoff().delay(n) for n in range(1, 9)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_jitter_only_adds_up_to_its_fraction() -> None:
    assert backoff(rand=0.999).delay(1) == pytest.approx(1.4995)
    assert backoff(rand=0.5).delay(3) == pytest.approx(5.0)
    assert backoff(rand=0.999).delay(20) == pytest.approx(44.985)


def test_server_floor_raises_the_delay_and_jitter_adds_on_top() -> None:
    assert backoff().delay(1, floor=5.0) == 5.0
    assert backoff(rand=0.5).delay(1, floor=5.0) == 6.25
    assert backoff().delay(5, floor=5.0) == 16.0  # a lower floor changes nothing


def test_floor_is_capped_at_an_hour() -> None:
    assert backoff().delay(1, floor=1e12) == MAX_FLOOR


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert backoff().delay(10_000) == 30.0
