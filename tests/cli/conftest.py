"""Helpers for running the installed ``guildwatch`` command as a user would.

Every subprocess gets a private HOME and XDG_CONFIG_HOME (so the developer's own config is
never read) and an environment without any ``GUILDWATCH_*`` variable unless the test sets one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

GUILDWATCH = Path(sys.executable).parent / "guildwatch"
"""The venv's console script: what ``pip install`` gave the user."""

Run = Callable[..., subprocess.CompletedProcess[str]]


def clean_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment minus guildwatch's variables, with a private home."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GUILDWATCH_")}
    env |= {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "COLUMNS": "100"}
    env["XDG_STATE_HOME"] = str(home / ".local" / "state")  # silences: never the user's own
    env.pop("NO_COLOR", None)
    return env | dict(extra or {})


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A private home directory with an empty ``~/.config``."""
    path = tmp_path / "home"
    (path / ".config").mkdir(parents=True)
    return path


@pytest.fixture
def run(home: Path) -> Run:
    """Run ``guildwatch ARGS`` to completion (bounded) and return what the user would see."""

    def run(
        *args: str,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
        timeout: float = 30,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(GUILDWATCH), *args],
            env=clean_env(home, env),
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=home,
        )

    return run


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit code 2, nothing on stdout, exactly one line on stderr naming each fragment."""
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("guildwatch: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
