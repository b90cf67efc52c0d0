"""The bot heartbeat endpoint: validation before any change, size cap, new guilds."""

from __future__ import annotations

import httpx
import pytest

from tests.harness import GUILDS, RunningServer

GUILD = GUILDS[0][0]

pytestmark = pytest.mark.both_storages


def _post(server: RunningServer, guild: str, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/v1/guilds/{guild}/heartbeat",
        content=body,
        headers={**server.bot_auth, "Content-Type": "application/json", **headers},
        timeout=10,
    )


def test_heartbeat_makes_the_guild_healthy(real_server: RunningServer) -> None:
    answer = real_server.heartbeat(GUILD, "1.2.3")
    status = real_server.status(GUILD)
    assert answer.json() == status
    assert status["healthy"] is True
    assert status["version"] == "1.2.3"


def test_heartbeat_without_version_reports_null(real_server: RunningServer) -> None:
    assert _post(real_server, GUILD, b"{}").status_code == 200
    assert real_server.status(GUILD)["version"] is None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'"1.2.3"',
        b"null",
        b'{"version": 3}',
        b'{"version": ["1"]}',
        b'{"version": true}',
        b'{"version": "' + b"x" * 300 + b'"}',
    ],
)
def test_bad_body_is_422_and_changes_nothing(real_server: RunningServer, body: bytes) -> None:
    real_server.heartbeat(GUILD, "1.0.0")
    before = real_server.status(GUILD)
    answer = _post(real_server, GUILD, body)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"] == "invalid_body"
    assert answer.json()["message"]
    assert real_server.status(GUILD) == before


def test_oversized_body_is_413(real_server: RunningServer) -> None:
    body = b'{"version": "' + b"1" * 10_000 + b'"}'
    answer = _post(real_server, GUILD, body)
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_large"
    assert real_server.status(GUILD)["healthy"] is False


def test_oversized_chunked_body_is_413(real_server: RunningServer) -> None:
    def chunks() -> object:
        for _ in range(100):
            yield b" " * 1000

    answer = httpx.post(
        f"{real_server.url}/api/v1/guilds/{GUILD}/heartbeat",
        content=chunks(),  # type: ignore[arg-type]
        headers=real_server.bot_auth,
        timeout=10,
    )
    assert answer.status_code == 413


@pytest.mark.parametrize("authorization", [None, "Bearer nope"])
def test_heartbeat_needs_a_bot_token(real_server: RunningServer, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answer = httpx.post(
        f"{real_server.url}/api/v1/guilds/{GUILD}/heartbeat",
        json={"version": "1"},
        headers=headers,
        timeout=10,
    )
    assert answer.status_code == 401
    client = httpx.post(
        f"{real_server.url}/api/v1/guilds/{GUILD}/heartbeat",
        json={"version": "1"},
        headers=real_server.auth,
        timeout=10,
    )
    assert client.status_code == 401
    assert real_server.status(GUILD)["healthy"] is False


def test_heartbeat_for_an_unknown_guild_creates_it(real_server: RunningServer) -> None:
    new_guild = "424242424242424242"
    real_server.heartbeat(new_guild, "0.1.0")
    assert real_server.status(new_guild)["version"] == "0.1.0"
    listed = httpx.get(f"{real_server.url}/api/v1/guilds", headers=real_server.auth).json()
    assert {"id": new_guild, "name": new_guild} in listed["guilds"]


def test_heartbeat_for_a_malformed_guild_id_is_404(real_server: RunningServer) -> None:
    assert _post(real_server, "bad id!", b'{"version": "1"}').status_code == 404


def test_get_on_heartbeat_is_405_json(real_server: RunningServer) -> None:
    answer = httpx.get(
        f"{real_server.url}/api/v1/guilds/{GUILD}/heartbeat", headers=real_server.bot_auth
    )
    assert answer.status_code == 405
    assert answer.json()["error"] == "method_not_allowed"
