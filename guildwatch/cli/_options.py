"""Merging flags, environment, config file and defaults into one frozen :class:`Options`.

Precedence is flags > environment > config > defaults, decided per setting. Every input a user
can get wrong is checked here, before anything connects, so a mistake costs one line and exit
code 2 rather than a screen full of "Connection lost".
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shlex
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal, TypeVar
from urllib.parse import urlsplit

from guildwatch import defaults as d
from guildwatch.cli._config import (
    ConfigFile,
    GuildSpec,
    default_config_path,
    default_state_dir,
    load_config,
)
from guildwatch.cli._listen import ListenAddress
from guildwatch.cli._secrets import ConfigToken, resolve_token
from guildwatch.cli._serving import check_serving
from guildwatch.errors import ConfigError

if TYPE_CHECKING:
    from guildwatch.alerts import AlertSettings
    from guildwatch.engine import EngineSettings, Multiplex

DesktopStyle = Literal["osc9", "osc777"]
"""As ``guildwatch.alerts.DesktopStyle`` (not imported: a bad flag should cost no imports)."""

_T = TypeVar("_T")

Mode = Literal["tui", "watch", "once"]
"""``tui``: the Textual screen; ``watch``/``once``: headless lines."""

_GUILD_ID = re.compile(r"[A-Za-z0-9._-]{1,100}")
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True)
class Options:
    """Everything a run needs, resolved and checked. ``api_url``/``token`` are None only for
    ``--demo``, which fills them in from the server it starts."""

    mode: Mode
    json: bool
    guilds: tuple[GuildSpec, ...]
    api_url: str | None
    token: str | None = field(repr=False)
    heartbeat_timeout: float
    poll_interval: float
    max_retries: int
    slow_retry: float
    stream: bool
    animation: bool
    inline: bool
    mouse: bool
    """Mouse reporting on the screen; off leaves selecting text to the terminal."""
    bell: bool
    """Ring the bell on each alert: opt-in (``--bell``, ``bell = true``), because a demo or a
    flapping guild ringing unasked is noise."""
    desktop_notify: DesktopStyle | None
    on_change: tuple[str, ...] | None
    """The ``--on-change`` command, split once here; never built from server data."""
    alert_hold_down: float
    alert_repeat: float
    """Seconds between reminders while a guild stays down; 0: off."""
    latency_warn: float
    """Milliseconds of gateway latency (a window's median) past which a guild is Degraded."""
    http2: bool
    multiplex: Multiplex
    """Whether guilds share the server's one stream (``--multiplex``)."""
    once_timeout: float
    log_file: Path | None
    demo: bool
    debug: bool
    config_path: Path | None
    """The config file that was read, if any."""
    warnings: tuple[str, ...] = ()
    """Things to tell the user before starting (e.g. a token file others can read)."""
    serve: ListenAddress | None = None
    """``--serve``: the screen goes to web browsers from here, one process per tab."""
    metrics: ListenAddress | None = None
    """``--metrics``: where Prometheus scrapes this watcher."""
    silence: tuple[tuple[str, float | None], ...] = ()
    """``--silence GUILD=DURATION``: guild and seconds (None: until back), all watched."""
    state_dir: Path | None = None
    """Where the silences are kept (``$XDG_STATE_HOME/guildwatch``)."""

    def engine_settings(self) -> EngineSettings:
        """The engine's settings for this run."""
        from guildwatch.engine import EngineSettings, start_jitter_for

        if self.api_url is None or self.token is None:
            raise RuntimeError("api_url and token are set before the engine starts")
        return EngineSettings(
            api_url=self.api_url,
            token=self.token,
            heartbeat_timeout=self.heartbeat_timeout,
            poll_interval=self.poll_interval,
            max_retries=self.max_retries,
            slow_retry=self.slow_retry,
            stream=self.stream,
            http2=self.http2,
            multiplex=self.multiplex,
            start_jitter=start_jitter_for(len(self.guilds)),
            # --watch --json's bot lines read the bot-level status from the start; the
            # screen starts watching it when its bot view (b) is first opened.
            watch_bot=self.mode == "watch" and self.json,
        )

    @property
    def alerts_enabled(self) -> bool:
        """Whether any alert sink is on: ``AlertSettings.enabled`` without importing it."""
        return self.bell or self.desktop_notify is not None or self.on_change is not None

    def alert_settings(self) -> AlertSettings:
        """The alert sinks for this run."""
        from guildwatch.alerts import AlertSettings

        return AlertSettings(
            bell=self.bell,
            desktop=self.desktop_notify,
            on_change=self.on_change,
            hold_down=self.alert_hold_down,
            repeat=self.alert_repeat,
        )


def validate_api_url(url: str, origin: str) -> str:
    """Check a base URL and return it without a trailing slash.

    The URL is never echoed when it holds user info or a query: either may carry a secret.

    Raises:
        ConfigError: not http/https, no host, user info, query, fragment, a bad port, spaces.
    """
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in url):
        raise ConfigError(f"{origin}: the API URL contains spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        shown = ascii(url[:60])
        raise ConfigError(f"{origin}: the API URL {shown} must start with http:// or https://")
    if "@" in parts.netloc:
        raise ConfigError(
            f"{origin}: the API URL must not contain a user name or password; "
            "give the token through GUILDWATCH_TOKEN or a token file"
        )
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ConfigError(f"{origin}: the API URL must not have a query (?...) or fragment (#...)")
    if not parts.hostname:
        raise ConfigError(f"{origin}: the API URL {url[:60]!a} has no host")
    try:
        parts.port  # noqa: B018 -- urlsplit checks the port only when it is read
    except ValueError:
        raise ConfigError(f"{origin}: the API URL {url[:60]!a} has an invalid port") from None
    return url.rstrip("/")


def validate_guild_id(guild_id: str) -> str:
    """Check one guild id; it goes into a URL path, so nothing but the protocol's characters.

    ``.`` and ``..`` match the protocol's pattern but are dot-segments: an HTTP client may
    resolve ``guilds/../status`` to another path, so they are refused too.

    Raises:
        ConfigError: the id is not a snowflake or ``[A-Za-z0-9._-]{1,100}``.
    """
    if _GUILD_ID.fullmatch(guild_id) is None or set(guild_id) == {"."}:
        raise ConfigError(
            f"invalid guild id {guild_id[:60]!a}: use a Discord snowflake or up to 100 "
            "letters, digits, '.', '_' or '-' (not only dots)"
        )
    return guild_id


def _env_bool(env: Mapping[str, str], name: str) -> bool | None:
    if name not in env:
        return None
    word = env[name].strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ConfigError(f"{name} must be 1 or 0 (or true/false), not {env[name][:20]!a}")


def _first(*values: _T | None, default: _T) -> _T:
    for value in values:
        if value is not None:
            return value
    return default


def _guilds(args: argparse.Namespace, config: ConfigFile | None) -> tuple[GuildSpec, ...]:
    names = {spec.guild_id: spec.name for spec in (config.guilds or ())} if config else {}
    if args.guilds:
        specs = [GuildSpec(guild_id, names.get(guild_id)) for guild_id in args.guilds]
    elif config is not None and config.guilds:
        specs = list(config.guilds)
    else:
        where = config.path if config else "the config file"
        raise ConfigError(
            f"no guild to watch: give GUILD_ID arguments or `guilds` in {where} "
            "(or try guildwatch --demo)"
        )
    unique: dict[str, GuildSpec] = {}
    for spec in specs:
        unique.setdefault(validate_guild_id(spec.guild_id), spec)
    return tuple(unique.values())


def _mode(args: argparse.Namespace, stdout_isatty: bool) -> Mode:
    if args.once:
        return "once"
    if args.watch or args.json or not stdout_isatty:
        return "watch"
    return "tui"


def _config(args: argparse.Namespace, env: Mapping[str, str]) -> ConfigFile | None:
    if args.config is not None:
        return load_config(Path(args.config).expanduser(), explicit=True)
    if env.get("GUILDWATCH_CONFIG"):
        return load_config(Path(env["GUILDWATCH_CONFIG"]).expanduser(), explicit=True)
    return load_config(default_config_path(env), explicit=False)


def resolve(
    args: argparse.Namespace,
    env: Mapping[str, str],
    *,
    stdin: BinaryIO | None,
    stdout_isatty: bool,
) -> Options:
    """Merge every source into :class:`Options`.

    Args:
        args: Parsed flags (None = not given).
        env: The environment (a mapping, so tests can pass their own).
        stdin: Where ``--token-file -`` reads from.
        stdout_isatty: Whether stdout is a terminal (else the headless ``watch`` mode).

    Raises:
        ConfigError: any bad input, with a one-line message.
    """
    serving = check_serving(args)
    config = _config(args, env)
    stream_env = _env_bool(env, "GUILDWATCH_STREAM")
    c = config or ConfigFile(path=Path(), mode=0)
    if args.demo:
        if args.guilds or args.api is not None:
            raise ConfigError("--demo watches its own server's guilds: leave out --api, GUILD_ID")
        guilds: tuple[GuildSpec, ...] = ()
        api_url: str | None = None
        token: str | None = None
        warnings: tuple[str, ...] = ()
    else:
        guilds = _guilds(args, config)
        api_url = _api_url(args, env, config)
        found = resolve_token(
            args.token_file,
            env,
            ConfigToken(c.token, c.token_file, config.path if config else None, c.mode),
            stdin=stdin,
        )
        token, warnings = found.value, found.warnings
    log_file = Path(args.log_file).expanduser() if args.log_file is not None else c.log_file
    return Options(
        mode=_mode(args, stdout_isatty),
        json=bool(args.json),
        guilds=guilds,
        api_url=api_url,
        token=token,
        heartbeat_timeout=_first(
            args.heartbeat_timeout, c.heartbeat_timeout, default=d.HEARTBEAT_TIMEOUT.value
        ),
        poll_interval=_first(args.poll_interval, c.poll_interval, default=d.POLL_INTERVAL.value),
        max_retries=_first(args.max_retries, c.max_retries, default=d.MAX_RETRIES.value),
        slow_retry=_first(args.slow_retry, c.slow_retry, default=d.SLOW_RETRY.value),
        stream=_first(args.stream, stream_env, c.stream, default=d.STREAM.value),
        animation=_first(args.animation, c.animation, default=d.ANIMATION.value),
        inline=_first(args.inline, c.inline, default=d.INLINE.value),
        mouse=_first(args.mouse, c.mouse, default=d.MOUSE.value),
        bell=_first(args.bell, c.bell, default=d.BELL.value),
        desktop_notify=_desktop(args.desktop_notify, c.desktop_notify),
        on_change=_on_change(args.on_change, c.on_change, config.path if config else None),
        alert_hold_down=_first(
            args.alert_hold_down, c.alert_hold_down, default=d.ALERT_HOLD_DOWN.value
        ),
        alert_repeat=_first(args.alert_repeat, c.alert_repeat, default=d.ALERT_REPEAT.value),
        latency_warn=_first(args.latency_warn, c.latency_warn, default=d.LATENCY_WARN.value),
        http2=_check_http2(_first(args.http2, c.http2, default=d.HTTP2.value)),
        multiplex=_multiplex(_first(args.multiplex, c.multiplex, default=d.MULTIPLEX.value)),
        once_timeout=_first(args.timeout, c.timeout, default=d.ONCE_TIMEOUT.value),
        log_file=log_file,
        demo=bool(args.demo),
        debug=bool(args.debug),
        config_path=config.path if config else None,
        warnings=warnings + serving.warnings,
        serve=serving.serve,
        metrics=serving.metrics,
        silence=_silence(args.silence, guilds, demo=bool(args.demo)),
        state_dir=default_state_dir(env),
    )


def _api_url(args: argparse.Namespace, env: Mapping[str, str], config: ConfigFile | None) -> str:
    if args.api is not None:
        return validate_api_url(args.api, "--api")
    if "GUILDWATCH_API" in env:
        return validate_api_url(env["GUILDWATCH_API"], "GUILDWATCH_API")
    if config is not None and config.api is not None:
        return validate_api_url(config.api, f"config file {config.path}, 'api'")
    where = config.path if config else "the config file"
    raise ConfigError(f"no API URL: give --api URL, set GUILDWATCH_API, or put api in {where}")


def _silence(
    specs: list[tuple[str, float | None]] | None,
    guilds: tuple[GuildSpec, ...],
    *,
    demo: bool,
) -> tuple[tuple[str, float | None], ...]:
    """Check each ``--silence`` names a guild that is watched (a typo silences nothing).

    Raises:
        ConfigError: a bad guild id, or one not among the watched guilds.
    """
    watched = {spec.guild_id for spec in guilds}
    for guild_id, _ in specs or ():
        validate_guild_id(guild_id)
        if not demo and guild_id not in watched:
            raise ConfigError(f"--silence {guild_id[:60]}: that guild is not watched")
    return tuple(specs or ())


def _desktop(flag: str | None, config: str | None) -> DesktopStyle | None:
    value = flag if flag is not None else config
    if value == "osc9":
        return "osc9"
    if value == "osc777":
        return "osc777"
    return None  # not set, or `desktop_notify = false` (stored as "")


def _on_change(
    flag: str | None, config: str | None, config_path: Path | None
) -> tuple[str, ...] | None:
    """Split the user's command once, here; server data never reaches argv.

    Raises:
        ConfigError: unbalanced quotes or an empty command.
    """
    if flag is not None:
        text, origin = flag, "--on-change"
    elif config is not None:
        text, origin = config, f"config file {config_path}, 'on_change'"
    else:
        return None
    try:
        argv = tuple(shlex.split(text))
    except ValueError as exc:
        raise ConfigError(f"{origin}: cannot split the command ({exc})") from None
    if not argv:
        raise ConfigError(f"{origin}: the command is empty")
    return argv


def _multiplex(word: str) -> Multiplex:
    """The ``--multiplex`` word (argparse and the config file already checked it)."""
    if word == "auto":
        return "auto"
    if word == "on":
        return "on"
    if word == "off":
        return "off"
    raise ConfigError(f"--multiplex must be auto, on or off, not {word[:20]!r}")


def _check_http2(wanted: bool) -> bool:
    """HTTP/2 needs the optional ``h2`` package; say so before connecting, in one line.

    Raises:
        ConfigError: ``--http2`` without ``h2`` installed.
    """
    if wanted and importlib.util.find_spec("h2") is None:
        raise ConfigError("--http2 needs the h2 package: pip install 'guildwatch[http2]'")
    return wanted
