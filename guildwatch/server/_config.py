"""Server configuration: one frozen value, built from flags and the environment.

Tokens never appear in ``repr`` (they are ``field(repr=False)``), so a config printed in a log or
a traceback cannot leak them. Parsing errors raise :class:`ConfigError` with a message that names
the flag, never the token value.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from guildwatch.errors import ConfigError as ConfigError  # re-exported: the one class

GUILD_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,100}")
"""Guild ids the protocol allows (docs/protocol.md, Endpoints)."""

MEMORY_DB = ":memory:"

DEFAULT_OFFLINE_AFTER = 90.0
SIMULATE_OFFLINE_AFTER = 10.0
"""Short threshold in ``--simulate`` mode so that a demo shows "offline" within a minute."""


TokenGrants = Mapping[str, frozenset[str] | None]
"""Client token -> the guild ids it may see, or None for every guild."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Everything the reference server needs. All durations are in seconds."""

    host: str = "127.0.0.1"
    port: int = 8765
    """0 binds a free port; :meth:`ReferenceServer.start` returns the real URL."""
    tokens: TokenGrants = field(default_factory=dict, repr=False)
    """Client tokens (``GUILDWATCH_SERVER_TOKENS`` / ``--tokens-file``)."""
    bot_tokens: frozenset[str] = field(default_factory=frozenset, repr=False)
    """Bot tokens for heartbeats and the fault endpoint; separate from client tokens."""
    guilds: tuple[tuple[str, str | None], ...] = ()
    """Guilds served from the start, as (id, name or None)."""
    db: str = MEMORY_DB
    """SQLite file for last heartbeat + version per guild, or ``:memory:``."""
    heartbeat_interval: float = 30.0
    """Seconds between ``: heartbeat`` comments on every stream."""
    retry_ms: int = 3000
    """The ``retry:`` value sent with the first event of every stream."""
    offline_after: float = DEFAULT_OFFLINE_AFTER
    """A guild turns unhealthy when no heartbeat came for this long."""
    max_streams_per_token: int = 100
    stream_limit_retry_after: int = 5
    """``Retry-After`` seconds sent with the 429 at the per-token stream limit."""
    ring_size: int = 64
    """Recent events kept per guild for ``Last-Event-ID`` replay."""
    queue_size: int = 64
    """Events buffered per open stream; a client further behind is dropped (a shared stream
    buffers this many plus one per known guild: a whole bot heartbeat round)."""
    shared_history: int = 200_000
    """Recent guild events kept across guilds, so that the shared stream resumes from a
    ``Last-Event-ID`` (with Redis: the minimum length of the fan-out Stream). Two rounds of
    a 100,000-guild bot heartbeat: a client that was away for one heartbeat resumes instead
    of getting every status again; about 8 bytes per event on top of the per-guild rings,
    which hold the same events (more only for guilds that change faster than their ring)."""
    send_timeout: float = 10.0
    """A stream whose socket accepts nothing for this long is torn down."""
    max_body_bytes: int = 4096
    """Heartbeat bodies larger than this are refused with 413."""
    max_batch_body_bytes: int = 16 * 1024 * 1024
    """``POST /api/v1/bot/heartbeat`` bodies larger than this are refused with 413
    (100,000 guilds and 10,000 shards take about 4 MiB)."""
    flush_interval: float = 0.5
    """How often dirty guilds are written to SQLite (and always on stop)."""
    shutdown_timeout: float = 5.0
    """Upper bound for a graceful stop before connections are cut."""
    simulate: bool = False
    sim_guilds: int = 5
    sim_period: float = 20.0
    """Length of one simulated online stretch; offline stretches scale with it."""
    sim_shards: int = 3
    """Gateway shards of the simulated bot."""
    sim_maintenance_every: float = 60.0
    """Seconds per simulated vitals cycle: a maintenance window a quarter in, a shard drop
    halfway, a latency spike three quarters in."""
    sim_maintenance_for: float = 10.0
    """Seconds the simulated maintenance window (and the shard drop) lasts."""
    faults: bool = False
    """Expose ``POST /api/v1/_faults/{guild}`` (tests only)."""
    metrics_token: str | None = field(default=None, repr=False)
    """Bearer token ``GET /metrics`` asks for; None: loopback clients only, no token."""
    redis: str | None = field(default=None, repr=False)
    """``redis://host:port/db`` (may hold a password, hence no repr): keep the state in Redis
    so that several replicas serve one truth; None keeps it in this process and ``db``."""
    redis_prefix: str = "guildwatch:"
    """Prefix of every Redis key, so that one Redis can hold several deployments."""
    redis_connections: int = 32
    """Connections each replica keeps to Redis at most (requests queue for one)."""
    redis_retry_after: int = 2
    """``Retry-After`` seconds of the 503 sent while Redis cannot be reached."""
    replica_ttl: float = 10.0
    """A replica that has not refreshed its liveness key for this long (crashed) no longer
    counts toward the per-token stream limit."""
    sweep_interval: float = 0.2
    """Longest wait between two looks for guilds past their offline deadline (Redis only)."""
    fanout_maxlen: int = 10_000
    """Approximate length of the Redis stream that carries every event to every replica."""
    http2: bool = False
    """Serve with hypercorn, which speaks HTTP/2 (cleartext prior knowledge, h2c) as well as
    HTTP/1.1, instead of uvicorn (HTTP/1.1 only): the many-guilds path, tested for real."""


def demo_config(token: str, *, guilds: int = 5) -> ServerConfig:
    """What ``guildwatch --demo`` runs in-process: a simulated bot on a free loopback port.

    Args:
        token: A throwaway client token (the only one the server accepts).
        guilds: How many guilds to simulate.
    """
    return ServerConfig(
        host="127.0.0.1",
        port=0,
        tokens={token: None},
        db=MEMORY_DB,
        offline_after=SIMULATE_OFFLINE_AFTER,
        simulate=True,
        sim_guilds=guilds,
    )


def default_db_path(environ: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/guildwatch/server.sqlite3`` (``~/.local/share`` when unset)."""
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "guildwatch" / "server.sqlite3"


def parse_token_entries(entries: Sequence[str], source: str) -> dict[str, frozenset[str] | None]:
    """Parse client token entries: ``TOKEN`` or ``TOKEN:GUILD|GUILD`` (a per-token guild list).

    Args:
        entries: One entry per token, already split and stripped.
        source: Where they came from, for error messages (never the token itself).

    Raises:
        ConfigError: An entry is malformed.
    """
    grants: dict[str, frozenset[str] | None] = {}
    for number, entry in enumerate(entries, start=1):
        token, sep, guild_part = entry.partition(":")
        if not token or any(ch.isspace() for ch in token):
            raise ConfigError(f"{source}: entry {number} has an empty or malformed token")
        if not sep:
            grants[token] = None
            continue
        guild_ids = [g for g in guild_part.split("|") if g]
        bad = [g for g in guild_ids if not GUILD_ID_RE.fullmatch(g)]
        if not guild_ids or bad:
            raise ConfigError(f"{source}: entry {number} has a malformed guild list")
        grants[token] = frozenset(guild_ids)
    return grants


def _read_lines(path: str, flag: str) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{flag}: cannot read {path}: {exc.__class__.__name__}") from None
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _guild_arg(value: str) -> tuple[str, str | None]:
    guild_id, _, name = value.partition("=")
    if not GUILD_ID_RE.fullmatch(guild_id):
        raise argparse.ArgumentTypeError(f"not a guild id: {guild_id!r}")
    return guild_id, (name or None)


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0: {value!r}")
    return number


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {value!r}")
    return number


def build_parser() -> argparse.ArgumentParser:
    """The ``guildwatch-server`` command line."""
    parser = argparse.ArgumentParser(
        prog="guildwatch-server",
        description="Reference server for the guildwatch protocol (status over SSE).",
        epilog=(
            "Client tokens come from GUILDWATCH_SERVER_TOKENS (comma-separated) or --tokens-file "
            "(one per line); an entry TOKEN:GUILD|GUILD limits that token to those guilds. "
            "Bot tokens come from GUILDWATCH_SERVER_BOT_TOKENS or --bot-tokens-file."
        ),
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    add("--port", type=int, default=8765, help="port to bind, 0 for a free one (default 8765)")
    add("--tokens-file", help="file with client tokens, one entry per line")
    add("--bot-tokens-file", help="file with bot tokens, one per line")
    add(
        "--guild",
        action="append",
        default=[],
        type=_guild_arg,
        metavar="ID[=NAME]",
        help="serve this guild from the start (repeatable)",
    )
    add("--db", help="SQLite file, or :memory: (default $XDG_DATA_HOME/guildwatch/...)")
    add("--heartbeat-interval", type=_positive_float, default=30.0, help="seconds (default 30)")
    add("--retry-ms", type=int, default=3000, help="retry: value sent to clients (default 3000)")
    add(
        "--offline-after",
        type=_positive_float,
        help="seconds without a bot heartbeat before a guild is offline (default 90; 10 with "
        "--simulate)",
    )
    add("--max-streams-per-token", type=_positive_int, default=100, help="default 100")
    add(
        "--shared-history",
        type=_positive_int,
        default=200_000,
        metavar="EVENTS",
        help="recent events kept across guilds for resuming the shared stream "
        "(GET /api/v1/guilds/status/stream) with Last-Event-ID (default 200000)",
    )
    add("--simulate", action="store_true", help="run a simulated bot")
    add("--guilds", type=_positive_int, default=5, help="simulated guilds (default 5)")
    add(
        "--sim-period",
        type=_positive_float,
        default=20.0,
        help="seconds per simulated online stretch (default 20)",
    )
    add(
        "--metrics-token-file",
        metavar="PATH",
        help="GET /metrics needs this bearer token (first line of PATH; also "
        "GUILDWATCH_SERVER_METRICS_TOKEN); without one, /metrics answers loopback clients only",
    )
    add("--sim-shards", type=_positive_int, default=3, help="simulated shards (default 3)")
    add(
        "--sim-maintenance-every",
        type=_positive_float,
        default=60.0,
        metavar="SECONDS",
        help="simulated vitals cycle: maintenance a quarter in, a shard drop halfway (default 60)",
    )
    add(
        "--sim-maintenance-for",
        type=_positive_float,
        default=10.0,
        metavar="SECONDS",
        help="length of the simulated maintenance window and shard drop (default 10)",
    )
    add("--faults", action="store_true", help="enable fault injection (tests only)")
    add(
        "--redis",
        metavar="URL",
        help="keep guild state, event ids and history in Redis (redis://host:port/db), so that "
        "several replicas behind a load balancer serve one truth (needs guildwatch[redis]); "
        "replaces --db; also GUILDWATCH_SERVER_REDIS, which keeps a password off the process list",
    )
    add(
        "--redis-prefix",
        default="guildwatch:",
        metavar="PREFIX",
        help="prefix of every Redis key (default guildwatch:)",
    )
    add(
        "--replica-ttl",
        type=_positive_float,
        default=10.0,
        metavar="SECONDS",
        help="with --redis: a replica silent this long (crashed) stops counting toward the "
        "per-token stream limit (default 10)",
    )
    add(
        "--http2",
        action="store_true",
        help="serve HTTP/2 too (cleartext, prior knowledge) on hypercorn, so many guilds' "
        "streams share one connection (needs the server extra's hypercorn)",
    )
    return parser


def config_from_args(argv: Sequence[str], environ: Mapping[str, str]) -> ServerConfig:
    """Build a :class:`ServerConfig` from command-line arguments and the environment.

    Raises:
        ConfigError: Bad tokens or token files (argparse itself exits 2 on bad flags).
    """
    args = build_parser().parse_args(argv)
    if args.retry_ms < 0:
        raise ConfigError("--retry-ms must be >= 0")
    tokens: dict[str, frozenset[str] | None] = {}
    env_tokens = environ.get("GUILDWATCH_SERVER_TOKENS", "")
    tokens.update(
        parse_token_entries(
            [e.strip() for e in env_tokens.split(",") if e.strip()], "GUILDWATCH_SERVER_TOKENS"
        )
    )
    if args.tokens_file:
        tokens.update(
            parse_token_entries(_read_lines(args.tokens_file, "--tokens-file"), "--tokens-file")
        )
    if not tokens:
        raise ConfigError("no client tokens: set GUILDWATCH_SERVER_TOKENS or pass --tokens-file")
    bot_tokens = {t.strip() for t in environ.get("GUILDWATCH_SERVER_BOT_TOKENS", "").split(",")}
    if args.bot_tokens_file:
        bot_tokens.update(_read_lines(args.bot_tokens_file, "--bot-tokens-file"))
    bot_tokens.discard("")
    if any(any(ch.isspace() for ch in t) for t in bot_tokens):
        raise ConfigError("bot tokens must not contain whitespace")
    metrics_token = environ.get("GUILDWATCH_SERVER_METRICS_TOKEN", "").strip() or None
    if args.metrics_token_file:
        lines = _read_lines(args.metrics_token_file, "--metrics-token-file")
        if not lines:
            raise ConfigError("--metrics-token-file: the file holds no token")
        metrics_token = lines[0]
    if metrics_token is not None and any(ch.isspace() for ch in metrics_token):
        raise ConfigError("the metrics token must not contain whitespace")
    # The URL may hold a password: the environment keeps it off the process list.
    redis_url = args.redis or environ.get("GUILDWATCH_SERVER_REDIS", "").strip() or None
    if redis_url and args.simulate:
        raise ConfigError("--simulate runs its bot in this process: it cannot be used with --redis")
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("--redis: expected a redis://, rediss:// or unix:// URL")
    offline_after = args.offline_after
    if offline_after is None:
        offline_after = SIMULATE_OFFLINE_AFTER if args.simulate else DEFAULT_OFFLINE_AFTER
    return ServerConfig(
        host=args.host,
        port=args.port,
        tokens=tokens,
        bot_tokens=frozenset(bot_tokens),
        guilds=tuple(args.guild),
        db=args.db or str(default_db_path(environ)),
        heartbeat_interval=args.heartbeat_interval,
        retry_ms=args.retry_ms,
        offline_after=offline_after,
        max_streams_per_token=args.max_streams_per_token,
        shared_history=args.shared_history,
        simulate=args.simulate,
        sim_guilds=args.guilds,
        sim_period=args.sim_period,
        sim_shards=args.sim_shards,
        sim_maintenance_every=args.sim_maintenance_every,
        sim_maintenance_for=args.sim_maintenance_for,
        faults=args.faults,
        metrics_token=metrics_token,
        http2=args.http2,
        redis=redis_url,
        redis_prefix=args.redis_prefix,
        replica_ttl=args.replica_ttl,
    )
