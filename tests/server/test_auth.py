"""Bearer auth and guild checks on every client endpoint, with JSON error bodies."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.harness import GUILDS, RunningServer

GUILD, OTHER = GUILDS[0][0], GUILDS[1][0]


def _paths(guild: str) -> list[str]:
    return [f"/api/v1/guilds/{guild}/status", f"/api/v1/guilds/{guild}/status/stream"]


@pytest.mark.parametrize("path", [*_paths(GUILD), "/api/v1/guilds"])
@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", "Basic abc", "Bearer", "bearer x y"]
)
def test_missing_or_wrong_token_is_401(
    real_server: RunningServer, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    answer = httpx.get(real_server.url + path, headers=headers, timeout=10)
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthorized"
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_bot_token_is_not_a_client_token(real_server: RunningServer) -> None:
    answer = httpx.get(real_server.status_url(GUILD), headers=real_server.bot_auth, timeout=10)
    assert answer.status_code == 401


def test_token_not_allowed_for_the_guild_is_403(server_factory: ServerFactory) -> None:
    server = server_factory(tokens={"all-guilds": None, "only-alpha": frozenset({GUILD})})
    restricted = {"Authorization": "Bearer only-alpha"}
    assert httpx.get(server.status_url(GUILD), headers=restricted, timeout=10).status_code == 200
    for path in _paths(OTHER) + _paths("999"):
        answer = httpx.get(server.url + path, headers=restricted, timeout=10)
        assert answer.status_code == 403, path
        assert answer.json()["error"] == "forbidden"
    listed = httpx.get(f"{server.url}/api/v1/guilds", headers=restricted, timeout=10).json()
    assert [guild["id"] for guild in listed["guilds"]] == [GUILD]


@pytest.mark.parametrize("guild", ["999999", "bad%20id", "a" * 101, "%C3%A9t%C3%A9"])
def test_unknown_or_malformed_guild_is_404(real_server: RunningServer, guild: str) -> None:
    for path in _paths(guild):
        answer = httpx.get(real_server.url + path, headers=real_server.auth, timeout=10)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["error"] == "not_found"


def test_unknown_route_is_json_404(real_server: RunningServer) -> None:
    answer = httpx.get(f"{real_server.url}/nope", headers=real_server.auth, timeout=10)
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"


def test_guild_list_names_every_guild(real_server: RunningServer) -> None:
    answer = httpx.get(f"{real_server.url}/api/v1/guilds", headers=real_server.auth, timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {
        "guilds": [{"id": guild_id, "name": name or guild_id} for guild_id, name in GUILDS]
    }
