"""Every reliability test doubles as a token-leak check on everything the engine logged."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

TEST_TOKEN = re.compile(r"(?:client|bot)-[0-9a-f]{24}|tok-SECRET")
"""The shapes of the harness's random tokens and of this suite's own test tokens."""


@pytest.fixture(autouse=True)
def no_token_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.INFO, logger="guildwatch")
    yield
    leaked = [r.getMessage() for r in caplog.records if TEST_TOKEN.search(r.getMessage())]
    assert not leaked, leaked[:3]
