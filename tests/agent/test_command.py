"""``guildwatch-heartbeat`` as a real subprocess: against the real reference server (per-guild
beats change what ``GET .../status`` reads), and against a loopback receiver for the exact
bot-level body, a 404, and a server that never answers. Exit codes: 0 accepted, 1 refused,
2 usage or configuration, 3 unreachable."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest

from tests.agent.receiver import Receiver, check_bot_body, check_guild_body
from tests.conftest import ServerFactory
from tests.harness import GUILDS, RunningServer

COMMAND = str(Path(sys.executable).parent / "guildwatch-heartbeat")
GUILD_A, GUILD_B = GUILDS[0][0], GUILDS[1][0]


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GUILDWATCH_")}
    return {**base, **extra}


def _run(
    *args: str, env: Mapping[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMAND, *args],
        env=dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_guild_heartbeat_reaches_the_real_server(real_server: RunningServer) -> None:
    result = _run(
        "--api",
        real_server.url,
        "--guild",
        GUILD_A,
        "--version",
        "9.9.9",
        env=_env(GUILDWATCH_BOT_TOKEN=real_server.bot_token),
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    status = real_server.status(GUILD_A)
    assert status["version"] == "9.9.9"
    assert status["healthy"] is True
    assert status["lastHeartbeat"] is not None


def test_the_token_from_a_file_or_stdin_and_several_guilds(
    real_server: RunningServer, tmp_path: Path
) -> None:
    token_file = tmp_path / "bot-token"
    token_file.write_text(real_server.bot_token + "\n")
    token_file.chmod(0o600)
    args = ["--api", real_server.url, "--guild", GUILD_A, "--guild", GUILD_B, "-v"]
    result = _run(*args, "--version", "1.0", "--bot-token-file", str(token_file), env=_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("accepted") == 2
    assert real_server.status(GUILD_B)["version"] == "1.0"

    env = _env(GUILDWATCH_API=real_server.url)
    result = _run(
        "--guild",
        GUILD_B,
        "--version",
        "1.1",
        "--bot-token-file",
        "-",
        env=env,
        stdin=real_server.bot_token,
    )
    assert result.returncode == 0, result.stderr
    assert real_server.status(GUILD_B)["version"] == "1.1"


def test_a_token_file_others_can_read_is_warned_about(
    real_server: RunningServer, tmp_path: Path
) -> None:
    token_file = tmp_path / "bot-token"
    token_file.write_text(real_server.bot_token)
    token_file.chmod(0o644)
    env = _env(GUILDWATCH_BOT_TOKEN_FILE=str(token_file))
    result = _run("--api", real_server.url, "--guild", GUILD_A, env=env)
    assert result.returncode == 0
    assert "chmod 600" in result.stderr
    assert real_server.bot_token not in result.stderr


def test_a_wrong_token_is_refused_with_the_reason_and_never_printed(
    real_server: RunningServer,
) -> None:
    wrong = "wrong-bot-token-" + "q" * 20
    result = _run(
        "--api", real_server.url, "--guild", GUILD_A, env=_env(GUILDWATCH_BOT_TOKEN=wrong)
    )
    assert result.returncode == 1
    assert "401" in result.stderr
    assert "check the bot token" in result.stderr
    assert wrong not in result.stderr + result.stdout
    assert real_server.status(GUILD_A)["lastHeartbeat"] is None


def test_a_down_server_is_one_clear_line_and_exit_3(server_factory: ServerFactory) -> None:
    server = server_factory()
    server.stop()
    result = _run(
        "--api", server.url, "--guild", GUILD_A, env=_env(GUILDWATCH_BOT_TOKEN=server.bot_token)
    )
    assert result.returncode == 3
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert f"cannot reach {server.url}" in lines[0]
    assert server.bot_token not in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--guild", GUILD_A], {"GUILDWATCH_BOT_TOKEN": "t"}, "no server given"),
        (["--api", "http://127.0.0.1:9", "--guild", GUILD_A], {}, "no bot token given"),
        (["--api", "ftp://x", "--guild", GUILD_A], {"GUILDWATCH_BOT_TOKEN": "t"}, "--api"),
        (["--api", "http://127.0.0.1:9", "--latency-ms", "nan"], {}, "finite"),
        (["--api", "http://127.0.0.1:9", "--state", "asleep"], {}, "invalid choice"),
        (["--api", "http://127.0.0.1:9", "--guild", "not a guild"], {}, "guild id"),
        (["--api", "http://127.0.0.1:9", "--bot-token", "secret-in-argv"], {}, "unrecognized"),
        (
            ["--api", "http://127.0.0.1:9", "--bot-token-file", "/nonexistent/tok"],
            {},
            "does not exist",
        ),
        (
            ["--api", "http://127.0.0.1:9"],
            {"GUILDWATCH_BOT_TOKEN": "two words"},
            "GUILDWATCH_BOT_TOKEN contains spaces",
        ),
    ],
)
def test_usage_and_configuration_errors_exit_2(
    args: list[str], env: dict[str, str], says: str
) -> None:
    result = _run(*args, env=_env(**env))
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    assert "two words" not in result.stderr
    assert "secret-in-argv" not in result.stderr


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


async def _arun(*args: str, env: Mapping[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        COMMAND,
        *args,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_bot_level_body(receiver: Receiver) -> None:
    code, out, err = await _arun(
        "--api",
        receiver.url,
        "--version",
        "1.3.0",
        "--state",
        "maintenance",
        "--message",
        'deploying "v1.3"\n\tback soon \u2603',
        "--latency-ms",
        "42.5",
        "--started-at",
        "2026-11-22T14:58:12+01:00",
        env=_env(GUILDWATCH_BOT_TOKEN="bot-secret-123"),
    )
    assert (code, out, err) == (0, "", "")
    [request] = receiver.requests
    assert request.path == "/api/v1/bot/heartbeat"
    assert request.headers["authorization"] == "Bearer bot-secret-123"
    body = request.json()
    check_bot_body(body)
    assert body == {
        "version": "1.3.0",
        "startedAt": "2026-11-22T13:58:12Z",
        "state": "maintenance",
        "message": 'deploying "v1.3"\n\tback soon \u2603',
        "shardCount": 1,
        "shards": [{"id": 0, "connected": True, "latencyMs": 42.5}],
        "guilds": {},
    }


async def test_a_guild_body_and_a_long_message_cut_to_200(receiver: Receiver) -> None:
    code, _, err = await _arun(
        "--api",
        receiver.url,
        "--guild",
        GUILD_A,
        "--message",
        "m" * 300,
        env=_env(GUILDWATCH_BOT_TOKEN="bot-secret-123"),
    )
    assert code == 0
    assert "cut to 200" in err
    body = receiver.requests[0].json()
    check_guild_body(body)
    assert len(body["message"]) == 200
    assert (body["latencyMs"], body["shard"], body["state"]) == (None, None, "up")


async def test_an_older_server_without_the_bot_endpoint_exits_1_with_a_hint(
    receiver: Receiver,
) -> None:
    receiver.rule = lambda request: (404, {}, b'{"error":"not_found","message":"Not Found"}')
    code, _, err = await _arun(
        "--api", receiver.url, env=_env(GUILDWATCH_BOT_TOKEN="bot-secret-123")
    )
    assert code == 1
    assert "404" in err
    assert "--guild" in err


async def test_a_server_that_never_answers_exits_3_after_the_timeout(receiver: Receiver) -> None:
    receiver.rule = lambda request: None
    loop = asyncio.get_running_loop()
    began = loop.time()
    code, _, err = await _arun(
        "--api",
        receiver.url,
        "--guild",
        GUILD_A,
        "--timeout",
        "0.3",
        env=_env(GUILDWATCH_BOT_TOKEN="bot-secret-123"),
    )
    assert code == 3
    assert "no answer in time" in err
    assert loop.time() - began < 10
