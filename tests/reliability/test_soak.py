"""The soak (``bench/soak.py``) as a test: a short run in CI, the full 30 minutes with ``-m slow``.

It runs as a child process so that the RSS, task, fd and socket figures it samples are its own,
not pytest's.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_soak(*args: str, timeout: float) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "bench.soak", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.mark.timeout(180)
def test_short_soak_50_guilds_with_restarts() -> None:
    output = run_soak("--minutes", "1.25", "--restart-every", "20", timeout=170)
    assert "final state matches the server for all 50 guilds" in output
    assert "3 restarts" in output
    assert "all checks passed" in output


@pytest.mark.slow
@pytest.mark.timeout(40 * 60)
def test_thirty_minute_soak() -> None:
    output = run_soak(timeout=38 * 60)
    assert "all checks passed" in output
