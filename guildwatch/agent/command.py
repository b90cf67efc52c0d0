"""``guildwatch-heartbeat``: one heartbeat from a shell, cron job or systemd timer.

A bot in any language can report through it. The bot token is read as the client reads its
token, never from argv (visible in ``ps`` and shell history): ``--bot-token-file PATH`` (``-``
for stdin), ``GUILDWATCH_BOT_TOKEN``, ``GUILDWATCH_BOT_TOKEN_FILE``.

Exit codes: 0 accepted, 1 the server refused (the reason is printed), 2 bad usage or
configuration, 3 the server could not be reached or did not answer in time.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import BinaryIO

from guildwatch.agent._heartbeat import Answer, check_api, make_client, post, redact
from guildwatch.agent._vitals import (
    GUILD_ID_RE,
    MAX_MESSAGE_CHARS,
    MAX_VERSION_CHARS,
    STATES,
    ShardVitals,
    Vitals,
    bot_body,
    guild_body,
)

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

PROG = "guildwatch-heartbeat"


class UsageError(Exception):
    """A bad flag, environment variable or token source (exit 2); the message has no token."""


def _latency(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0: {value!r}")
    return number


def _positive(value: str) -> float:
    number = _latency(value)
    if number == 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return number


def _guild(value: str) -> str:
    if not GUILD_ID_RE.fullmatch(value):
        raise argparse.ArgumentTypeError(f"not a guild id: {value[:40]!r}")
    return value


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        # No prefixes: "--bot-token SECRET" must not quietly mean --bot-token-file.
        allow_abbrev=False,
        description="Post one bot heartbeat to a guildwatch server: per guild with --guild, "
        "otherwise the bot-level heartbeat.",
        epilog="The bot token comes from --bot-token-file PATH ('-' for stdin), "
        "GUILDWATCH_BOT_TOKEN or GUILDWATCH_BOT_TOKEN_FILE, never from the command line. "
        "Exit codes: 0 accepted, 1 refused by the server, 2 usage or configuration, "
        "3 server unreachable or too slow.",
    )
    add = parser.add_argument
    add("--api", help="the server's base URL (default: GUILDWATCH_API)")
    add(
        "--guild",
        action="append",
        default=[],
        type=_guild,
        metavar="ID",
        help="post this guild's heartbeat (repeatable); without it, the bot-level one",
    )
    add("--version", dest="bot_version", metavar="VERSION", help="the bot's version")
    add("--state", choices=STATES, default="up", help="the bot's own word (default up)")
    add("--message", help=f"what the bot says, at most {MAX_MESSAGE_CHARS} characters")
    add("--latency-ms", type=_latency, metavar="MS", help="gateway latency in milliseconds")
    add("--started-at", type=_moment, metavar="TIME", help="when the bot started (RFC 3339)")
    add("--bot-token-file", metavar="PATH", help="file holding the bot token ('-' = stdin)")
    add("--timeout", type=_positive, default=10.0, help="seconds to wait (default 10)")
    add("-v", "--verbose", action="store_true", help="say so on success too")
    return parser


def resolve_bot_token(
    flag: str | None, env: Mapping[str, str], stdin: BinaryIO | None
) -> tuple[str, tuple[str, ...]]:
    """The bot token and warnings (a file others can read), from the highest source given.

    Raises:
        UsageError: no source, or the chosen one is unreadable, empty or not a token.
    """
    # The client's own token readers: same checks, same messages, nothing quoted.
    from guildwatch.cli._secrets import read_token_file, validate_token
    from guildwatch.errors import ConfigError

    try:
        if flag is not None:
            token = read_token_file(flag, stdin=stdin)
            return token.value, token.warnings
        if "GUILDWATCH_BOT_TOKEN" in env:
            return validate_token(env["GUILDWATCH_BOT_TOKEN"], "GUILDWATCH_BOT_TOKEN"), ()
        if env.get("GUILDWATCH_BOT_TOKEN_FILE"):
            token = read_token_file(env["GUILDWATCH_BOT_TOKEN_FILE"], stdin=stdin)
            return token.value, token.warnings
    except ConfigError as exc:
        raise UsageError(exc.user_message) from None
    raise UsageError(
        "no bot token given: set GUILDWATCH_BOT_TOKEN, or name a file holding it with "
        "--bot-token-file PATH or GUILDWATCH_BOT_TOKEN_FILE (the server's "
        "GUILDWATCH_SERVER_BOT_TOKENS lists the tokens it accepts)"
    )


async def send(api: str, token: str, args: argparse.Namespace) -> list[tuple[str, Answer]]:
    """Post the heartbeat(s) the arguments ask for; (what, answer) per request."""
    latency = None if args.latency_ms is None else args.latency_ms / 1000.0
    vitals = Vitals(
        latency=latency, state=args.state, message=args.message, started_at=args.started_at
    )
    results: list[tuple[str, Answer]] = []
    async with make_client(args.timeout) as client:
        if not args.guild:
            if latency is not None:
                # The bot-level body carries latency per shard: a shell bot is one shard.
                vitals = Vitals(
                    latency=latency,
                    shards=(ShardVitals(0, connected=True, latency=latency),),
                    state=args.state,
                    message=args.message,
                    started_at=args.started_at,
                )
            body = bot_body(vitals, args.bot_version)
            answer = await post(client, f"{api}/api/v1/bot/heartbeat", body, token, args.timeout)
            results.append(("bot heartbeat", answer))
        for guild in dict.fromkeys(args.guild):
            body = guild_body(vitals, args.bot_version, guild)
            url = f"{api}/api/v1/guilds/{guild}/heartbeat"
            results.append(
                (f"heartbeat for guild {guild}", await post(client, url, body, token, args.timeout))
            )
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (see the module docstring)."""
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
    except SystemExit as exc:
        # argparse exits 0 for --help and 2 for a bad flag; return, so tests can call main().
        return EXIT_OK if exc.code in (0, None) else EXIT_USAGE
    if unknown:
        # Name the flags only: what follows an unknown flag may be a token typed into argv.
        flags = [word.split("=", 1)[0] for word in unknown if word.startswith("-")]
        _say(
            f"unrecognized arguments: {' '.join(flags) or '(values not shown)'}; the bot token "
            "is never a flag: use GUILDWATCH_BOT_TOKEN or --bot-token-file"
        )
        return EXIT_USAGE
    token = ""
    try:
        api_text = args.api or os.environ.get("GUILDWATCH_API")
        if not api_text:
            raise UsageError("no server given: pass --api URL or set GUILDWATCH_API")
        try:
            api = check_api(api_text)
        except ValueError as exc:
            raise UsageError(f"--api: {exc}") from None
        if args.bot_version is not None and len(args.bot_version) > MAX_VERSION_CHARS:
            raise UsageError(f"--version is longer than {MAX_VERSION_CHARS} characters")
        if args.message is not None and len(args.message) > MAX_MESSAGE_CHARS:
            _say(f"warning: --message cut to {MAX_MESSAGE_CHARS} characters")
        stdin = sys.stdin.buffer if sys.stdin is not None else None
        token, warnings = resolve_bot_token(args.bot_token_file, os.environ, stdin)
        for warning in warnings:
            _say(f"warning: {warning}")
    except UsageError as exc:
        _say(str(exc))
        return EXIT_USAGE
    try:
        results = asyncio.run(send(api, token, args))
    except KeyboardInterrupt:
        return 130
    return _report(api, results, token, verbose=args.verbose)


def _report(api: str, results: list[tuple[str, Answer]], token: str, *, verbose: bool) -> int:
    refused = unreachable = False
    for what, answer in results:
        if answer.ok:
            if verbose:
                print(f"{PROG}: {what} accepted by {api}")
            continue
        if answer.status is None:
            _say(redact(f"{what}: cannot reach {api}: {answer.reason}", token))
            unreachable = True
            continue
        hint = ""
        if answer.status in (404, 405) and what == "bot heartbeat":
            hint = " (a server without the bot-level heartbeat: pass --guild ID for each guild)"
        elif answer.status == 401:
            hint = " (check the bot token: the server's GUILDWATCH_SERVER_BOT_TOKENS)"
        _say(redact(f"{what} refused by {api}: {answer.reason}{hint}", token))
        refused = True
    # A refusal is the more useful news (it will not heal by waiting); unreachable comes next.
    return EXIT_REFUSED if refused else EXIT_UNREACHABLE if unreachable else EXIT_OK


def _say(text: str) -> None:
    print(f"{PROG}: {text}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
