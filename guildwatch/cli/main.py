"""``guildwatch``: the console script. Parses, checks, picks a view, maps errors to exit codes.

Exit codes: 2 for a bad command line, configuration or token source (one line on stderr,
never a traceback); 130 for Ctrl+C, quietly; 70 for an internal error (a traceback only with
``--debug``); otherwise whatever the view returns (``--once`` has its monitoring codes).
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from collections.abc import Sequence

from guildwatch.cli._args import parse_args
from guildwatch.cli._options import Options, resolve
from guildwatch.cli._secrets import RedactTokenFilter, redact
from guildwatch.errors import ConfigError

EXIT_CONFIG = 2
EXIT_SOFTWARE = 70
"""sysexits.h EX_SOFTWARE: a bug in guildwatch, not in the input."""
EXIT_INTERRUPTED = 130
"""128 + SIGINT, what shells report for Ctrl+C."""
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: the reader of our output went away (``guildwatch --watch | head -1``)."""

_LOGGERS = ("guildwatch", "httpx")
"""Loggers whose records reach ``--log-file``: ours, and httpx's request lines."""


def _say(message: str) -> None:
    print(f"guildwatch: {message}", file=sys.stderr, flush=True)


def configure_logging(options: Options) -> None:
    """Send log records to ``--log-file`` (redacted), and never to the terminal by accident.

    Without a handler, Python's "last resort" handler prints warnings to stderr, over the
    screen and unredacted; so the ``guildwatch`` logger always gets a handler of ours and does
    not propagate. With ``--debug`` and no log file, headless runs log to stderr.

    Raises:
        ConfigError: the log file cannot be opened.
    """
    handler: logging.Handler
    if options.log_file is not None:
        try:
            handler = logging.FileHandler(options.log_file, encoding="utf-8", delay=False)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ConfigError(f"log file {options.log_file} cannot be opened ({reason})") from None
    elif options.debug and options.mode != "tui":
        handler = logging.StreamHandler(sys.stderr)
    else:
        handler = logging.NullHandler()
    formatter = logging.Formatter(
        "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime  # UTC, like every time guildwatch prints
    handler.setFormatter(formatter)
    if options.token:
        handler.addFilter(RedactTokenFilter(options.token))
    level = logging.DEBUG if options.debug else logging.INFO
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
            old.close()
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Run guildwatch with ``argv`` (default: the process's arguments) and return the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in arguments
    token: str | None = None
    try:
        args = parse_args(arguments)
        options = resolve(
            args,
            os.environ,
            stdin=sys.stdin.buffer if sys.stdin is not None else None,
            stdout_isatty=sys.stdout.isatty(),
        )
        token = options.token
        for warning in options.warnings:
            _say(f"warning: {warning}")
        configure_logging(options)
        from guildwatch.cli._run import run  # after the checks: a bad flag costs no imports

        return run(options)
    except ConfigError as exc:
        _say(exc.user_message)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit; point it at /dev/null.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        if debug:
            text = "".join(traceback.format_exception(exc))
            print(redact(text, token or ""), file=sys.stderr, end="", flush=True)
        detail = redact(f"{type(exc).__name__}: {exc}", token or "")
        _say(f"internal error: {detail} (run with --debug for details)")
        return EXIT_SOFTWARE
