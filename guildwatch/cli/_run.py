"""Running a checked :class:`Options`: the store, the engine, and one of the two views.

The screen is imported only on its own path, so headless runs (cron, pipes, monitoring) never
load Textual.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, TextIO

from guildwatch.alerts import ReportRelay, SilenceFile, Silences
from guildwatch.cli._listen import url_host
from guildwatch.cli._options import Options
from guildwatch.cli._secrets import RedactTokenFilter, redact
from guildwatch.engine import DeferredEngine, prefetch_tls
from guildwatch.errors import ConfigError
from guildwatch.store import StatusStore

if TYPE_CHECKING:
    from guildwatch.alerts import AlertService
    from guildwatch.engine import Engine
    from guildwatch.metrics import MetricsServer

log = logging.getLogger("guildwatch.cli")


def run(options: Options) -> int:
    """Watch the guilds of ``options`` until the view ends; returns the exit code."""
    if not options.demo:
        return _start(options)
    from guildwatch.cli._demo import DemoServer

    with DemoServer() as demo:
        for handler in logging.getLogger("guildwatch").handlers:
            handler.addFilter(RedactTokenFilter(demo.token))
        log.info("demo server at %s serving %d guilds", demo.url, len(demo.guilds))
        return _start(
            dataclasses.replace(options, api_url=demo.url, token=demo.token, guilds=demo.guilds)
        )


def _start(options: Options) -> int:
    if options.serve is not None:
        from guildwatch.web import serve  # every tab's process connects to the same server

        if options.silence:  # once, into the state file every tab reads
            open_silences(options, _stderr_report(options.token))
        return serve(options)
    store = StatusStore(latency_warn=options.latency_warn)
    for spec in options.guilds:
        store.add_guild(spec.guild_id, name=spec.name, stream=options.stream)
    metrics = _start_metrics(options, store)
    try:
        return _watch(options, store)
    finally:
        if metrics is not None:
            metrics.close()


def _start_metrics(options: Options, store: StatusStore) -> MetricsServer | None:
    """``--metrics``: bound before the engine starts, so a busy port is one line, exit 2."""
    if options.metrics is None:
        return None
    from guildwatch.metrics import MetricsServer

    host, port = options.metrics
    try:
        server = MetricsServer(store, host, port)
    except OSError as exc:
        where = f"{url_host(host)}:{port}"
        raise ConfigError(f"--metrics: cannot listen on {where}: {exc.strerror or exc}") from None
    url = f"http://{url_host(host)}:{server.port}/metrics"
    log.info("metrics at %s", url)
    if options.mode != "tui":  # on the screen this line would be drawn over at once
        print(f"guildwatch: metrics at {url}", file=sys.stderr, flush=True)
    return server


def open_silences(options: Options, report: Callable[[str], None]) -> Silences:
    """The saved silences plus ``--silence``'s, saved again on every change.

    A state file that cannot be read or written is reported (once) and never fatal.
    """
    if options.state_dir is None:
        silences = Silences()
    else:
        file = SilenceFile(options.state_dir, report=report)
        silences = Silences(entries=file.load(), on_change=file.save)
    for guild_id, seconds in options.silence:
        silences.silence([guild_id], None if seconds is None else timedelta(seconds=seconds))
    return silences


def _watch(options: Options, store: StatusStore) -> int:
    engine_settings = options.engine_settings()
    if options.mode == "tui":
        relay = ReportRelay()  # shown as toasts once the screen is up
        silences = open_silences(options, relay)
    else:
        silences = open_silences(options, _stderr_report(options.token))
    alerts = None
    if options.alerts_enabled and options.mode != "once":
        # Imported only when a sink is on: off by default, and then the screen's first frame
        # does not wait for the service's imports.
        from guildwatch.alerts import AlertService

        alerts = AlertService(options.alert_settings(), silences=silences)
    log.info(
        "watching %d guild(s) at %s (stream %s)",
        len(options.guilds),
        options.api_url,
        "on" if options.stream else "off",
    )
    if options.mode == "tui":
        if "TEXTUAL_DRIVER" not in os.environ:  # a browser tab's keys come through stdin
            _keyboard_on_stdin()
        # The CA bundle loads (GIL released) while Textual is imported and the first frame
        # paints; httpx and its clients are built after that frame, on the screen's loop.
        tls = prefetch_tls()
        from guildwatch.ui import run_tui

        deferred = DeferredEngine(engine_settings, store, tls=tls)
        return run_tui(
            store,
            deferred,
            animation=options.animation,
            inline=options.inline,
            mouse=options.mouse,
            alerts=alerts,
            silences=silences,
            silence_reports=relay,
        )
    from guildwatch.engine import Engine

    engine = Engine(engine_settings, store)
    # As the screen does after its first frame (GuildwatchApp's freeze_heap): the modules and
    # every guild's first snapshot live as long as the process, so the collector's full passes
    # need not rescan them (100,000 guilds).
    gc.freeze()
    return asyncio.run(_headless_run(options, store, engine, sys.stdout, alerts, silences))


def _keyboard_on_stdin() -> None:
    """Make fd 0 the terminal again after ``--token-file -`` read the token from a pipe.

    Textual reads keys from ``sys.__stdin__``'s file descriptor; after a pipe has been read to
    its end that would be a dead input. ``less`` solves the same problem the same way.

    Raises:
        ConfigError: there is no controlling terminal to read keys from.
    """
    if sys.__stdin__ is not None and sys.__stdin__.isatty():
        return
    try:
        terminal = os.open("/dev/tty", os.O_RDONLY)
    except OSError:
        raise ConfigError(
            "the screen needs a terminal to read keys from; use --watch or --once"
        ) from None
    os.dup2(terminal, 0)
    os.close(terminal)


def _stderr_terminal(sequence: str) -> None:
    """Headless alerts ring on stderr, and only when it is a terminal: never into a pipe."""
    if sys.stderr is not None and sys.stderr.isatty():
        sys.stderr.write(sequence)
        sys.stderr.flush()


def _stderr_report(token: str | None) -> Callable[[str], None]:
    def report(message: str) -> None:
        log.warning("%s", message)
        print(f"guildwatch: warning: {redact(message, token or '')}", file=sys.stderr, flush=True)

    return report


async def _headless_run(
    options: Options,
    store: StatusStore,
    engine: Engine,
    out: TextIO,
    alerts: AlertService | None = None,
    silences: Silences | None = None,
) -> int:
    from guildwatch.cli import _headless  # the screen's start-up does not pay for it

    async def view() -> int:
        if options.mode == "once":
            wait_seconds = options.once_timeout
            return await _headless.once(
                store, out, json_lines=options.json, wait_seconds=wait_seconds, silences=silences
            )
        await _headless.watch(store, out, json_lines=options.json, silences=silences)
        return 0

    engine_task = asyncio.create_task(engine.run(), name="guildwatch-engine")
    view_task = asyncio.create_task(view(), name="guildwatch-view")
    alert_task = None
    if alerts is not None:
        alert_task = asyncio.create_task(
            alerts.run(store, terminal=_stderr_terminal, report=_stderr_report(options.token)),
            name="guildwatch-alerts",
        )
    try:
        await asyncio.wait({engine_task, view_task}, return_when=asyncio.FIRST_COMPLETED)
        if engine_task.done():
            engine_task.result()  # an engine bug surfaces here instead of hanging the view
        return await view_task
    finally:
        view_task.cancel()
        if alert_task is not None:
            alert_task.cancel()
        await engine.stop()
        engine_task.cancel()
        tasks = [view_task, engine_task] + ([alert_task] if alert_task else [])
        await asyncio.gather(*tasks, return_exceptions=True)
