"""What a new user meets in their first hour, from a real install rather than the dev venv.

``pip install guildwatch`` without the ``server`` extra, then ``guildwatch-server``: one line
that names the missing package and the extra, exit code 2, never a traceback. And the
README's examples look like what the command prints.
"""

from __future__ import annotations

import json
import re
import subprocess
import venv
from pathlib import Path

import pytest

from tests.cli.conftest import Run
from tests.harness import RunningServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_server_without_the_extra_says_how_to_install_it(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # --no-deps: the base dependencies do not matter here, the missing extra does; a plain
    # `pip install guildwatch` never brings uvicorn, starlette or sse-starlette.
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT)],
        check=True,
        capture_output=True,
        timeout=200,
    )
    probe = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('uvicorn'))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert probe.stdout.strip() == "None", "the test venv must not have the server extra"
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "PATH": f"{env_dir / 'bin'}:/usr/bin:/bin",
        "GUILDWATCH_SERVER_TOKENS": "a-client-token",
    }
    result = subprocess.run(
        [str(env_dir / "bin" / "guildwatch-server")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=home,
    )
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "guildwatch-server: the reference server needs its packages "
        "(uvicorn is missing): pip install 'guildwatch[server]'"
    ]


def _shape(text: str) -> str:
    return re.sub(r"\d", "9", text)


def test_json_time_looks_like_the_readme_example(run: Run, real_server: RunningServer) -> None:
    readme = (ROOT / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `time` |"))
    example = re.search(r"\(`([^`]+)`\)", row)
    assert example is not None, row
    guild = real_server.guild_ids[0]
    real_server.heartbeat(guild)
    env = {"GUILDWATCH_TOKEN": real_server.token, "GUILDWATCH_API": real_server.url}
    result = run("--once", "--json", "--heartbeat-timeout", "5", guild, env=env)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    # The same shape (milliseconds included) unless the clock hit a whole second exactly.
    assert _shape(record["time"]) == _shape(example[1]) or "." not in record["time"]
