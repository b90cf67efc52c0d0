"""``--on-change COMMAND``: run the user's command with one change as JSON on stdin.

The command's argv is the user's configured string split by ``shlex``, fixed before anything
connects; server data (names, versions, error text) only ever reaches the command as JSON data
on stdin, never argv, a shell or the environment. Each run is bounded: a time limit (then the
whole process group is killed), a few at once, a bounded queue. A failure is reported through
a callback and never stops guildwatch. The command's stdout is discarded and its stderr kept
only as a short tail for the report, so it cannot draw over the screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from guildwatch import defaults, display

DEFAULT_TIMEOUT = defaults.ON_CHANGE_TIMEOUT.value
"""Seconds one run may take before it is killed."""
DEFAULT_MAX_RUNNING = 4
MAX_QUEUED = 100
"""Changes waiting for a free slot beyond this are dropped (and the drop reported): a server
restart over a thousand guilds must not fork a thousand processes or queue without bound."""

_STDERR_TAIL = 2048
_SECRET_ENV = ("GUILDWATCH_TOKEN", "GUILDWATCH_TOKEN_FILE")
"""Not passed to the command: the token is guildwatch's, not every hook's."""


def command_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for the command: the caller's, without the token's variables."""
    return {name: value for name, value in environ.items() if name not in _SECRET_ENV}


class CommandRunner:
    """Runs one configured command per change, bounded in time and number.

    Args:
        argv: The command and its arguments, exactly as configured.
        timeout: Seconds before a run is killed (its process group, so children go too).
        max_running: Runs at the same time; more wait in a bounded queue.
        report: Called with one plain sentence for each failure; must not raise.
        env: The command's environment (default: ours); the token's variables are dropped.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_running: int = DEFAULT_MAX_RUNNING,
        report: Callable[[str], None],
        env: Mapping[str, str] | None = None,
    ) -> None:
        if not argv:
            raise ValueError("the command is empty")
        self._argv = tuple(argv)
        self._timeout = timeout
        self._slots = asyncio.Semaphore(max_running)
        self._report = report
        self._env = command_env(os.environ if env is None else env)
        self._tasks: set[asyncio.Task[None]] = set()
        self._name = display.safe(os.path.basename(self._argv[0]), 60)

    @property
    def pending(self) -> int:
        """Runs started or waiting for a slot."""
        return len(self._tasks)

    def submit(self, payload: dict[str, Any]) -> None:
        """Run the command for one change, in the background (returns at once)."""
        if len(self._tasks) >= MAX_QUEUED:
            self._report(f"on-change command {self._name}: too many changes at once; one skipped")
            return
        task = asyncio.create_task(self._run(payload), name="guildwatch-on-change")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_idle(self) -> None:
        """Wait until every submitted run has finished (for tests and orderly exits)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def close(self) -> None:
        """Cancel waiting runs and kill running ones; returns when they are gone."""
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    async def _run(self, payload: dict[str, Any]) -> None:
        async with self._slots:
            try:
                failure = await self._run_once(payload)
            except OSError as exc:
                failure = f"could not be started ({exc.strerror or exc})"
            if failure is not None:
                self._report(f"on-change command {self._name} {failure}")

    async def _run_once(self, payload: dict[str, Any]) -> str | None:
        data = json.dumps(payload, ensure_ascii=True).encode("ascii") + b"\n"
        process = await asyncio.create_subprocess_exec(
            *self._argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=self._env,
            start_new_session=True,  # its own process group, so a timeout kills its children
        )
        tail = bytearray()
        try:
            async with asyncio.timeout(self._timeout):
                await asyncio.gather(_feed(process, data), _drain(process, tail), process.wait())
        except TimeoutError:
            await _kill(process)
            return f"timed out after {self._timeout:g} s and was killed"
        except BaseException:
            await _kill(process)  # cancelled (guildwatch is quitting): leave nothing behind
            raise
        code = process.returncode
        if code == 0 or code is None:  # None cannot happen after wait(); 0 is success
            return None
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        last = tail.decode("utf-8", "replace").strip().splitlines()
        return f"{how}: {display.safe(last[-1], 200)}" if last else how


async def _feed(process: asyncio.subprocess.Process, data: bytes) -> None:
    stdin = process.stdin
    assert stdin is not None  # stdin=PIPE
    try:
        stdin.write(data)
        await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # a command that does not read its input is not a failure
    finally:
        stdin.close()


async def _drain(process: asyncio.subprocess.Process, tail: bytearray) -> None:
    stderr = process.stderr
    assert stderr is not None  # stderr=PIPE
    while chunk := await stderr.read(4096):
        tail.extend(chunk)
        del tail[:-_STDERR_TAIL]


async def _kill(process: asyncio.subprocess.Process) -> None:
    # The whole group, even when the command itself has exited: a child it left behind may
    # still hold stderr open (that is what kept the run from ending).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    await asyncio.shield(process.wait())
