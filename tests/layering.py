"""The layer rules, checked on source text so that a test can feed the checker a broken module.

:func:`check` takes ``{module name: source}`` and returns every rule broken, with the module,
line and import. Imports are read with :mod:`ast` from the whole module (inside functions and
``if TYPE_CHECKING:`` blocks too, and ``importlib.import_module("...")`` with a literal name),
so a lazy ``__init__`` that never loads a module cannot hide what that module imports.

Rules that are about what a layer ends up loading (Textual, the server, the server's web
stack) follow guildwatch's own imports transitively: the engine importing a shared module that
imports Textual is the engine importing Textual.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import pkgutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT_PACKAGE = "guildwatch"

CHAT_LIBRARIES = frozenset({"discord", "hikari"})
"""The bot's own libraries: the agent reads the bot's objects; only each adapter names its own."""

AGENT_MAY_USE = frozenset({"guildwatch", "guildwatch.errors", "guildwatch.cli._secrets"})
"""What the agent (it runs inside a bot) may take from the rest of guildwatch: the version,
the error type, and the token readers the client uses (so both read a token alike)."""

SERVER_STACK = frozenset({"starlette", "uvicorn", "sse_starlette", "hypercorn"})
"""Third-party packages only the reference server may import."""

STORE_FORBIDDEN_MODULES = frozenset(
    {
        # network and HTTP
        "socket",
        "ssl",
        "select",
        "selectors",
        "http",
        "urllib",
        "httpx",
        "httpcore",
        "h11",
        "h2",
        # files, processes, databases
        "io",
        "os",
        "pathlib",
        "shutil",
        "tempfile",
        "mmap",
        "fcntl",
        "subprocess",
        "multiprocessing",
        "sqlite3",
        "dbm",
        "shelve",
        "pickle",
        "logging",
    }
)
"""Top-level modules the store may not import: it is the single source of truth in memory,
and every outcome reaches it through method calls (``asyncio`` is allowed for its events and
sleeps; its network and process functions are caught by :data:`STORE_FORBIDDEN_CALLS`)."""

STORE_FORBIDDEN_CALLS = frozenset(
    {
        # builtins
        "open",
        "print",
        "input",
        "breakpoint",
        # asyncio's network, process and file-descriptor API (functions and loop methods)
        "open_connection",
        "start_server",
        "open_unix_connection",
        "start_unix_server",
        "create_subprocess_exec",
        "create_subprocess_shell",
        "create_connection",
        "create_server",
        "create_unix_connection",
        "create_unix_server",
        "create_datagram_endpoint",
        "connect_accepted_socket",
        "connect_read_pipe",
        "connect_write_pipe",
        "subprocess_exec",
        "subprocess_shell",
        "sock_recv",
        "sock_recv_into",
        "sock_sendall",
        "sock_connect",
        "sock_accept",
        "sock_sendfile",
        "sendfile",
        "start_tls",
        "getaddrinfo",
        "getnameinfo",
        "add_reader",
        "add_writer",
        "to_thread",
        "run_in_executor",
    }
)
"""Names the store may neither call nor import: I/O by another route than an import."""


@dataclass(frozen=True, slots=True)
class Import:
    """One import (or I/O call) found in a module's source."""

    target: str
    """The module imported (``from a import b`` gives ``a`` and ``a.b``), or a call's name."""
    line: int
    call: bool = False
    """A call (``open(...)``, ``loop.sock_recv(...)``) rather than an import."""
    member: bool = False
    """``a.b`` of ``from a import b``: maybe a submodule, maybe a name (``a`` is listed too)."""


@dataclass(frozen=True, slots=True)
class Violation:
    """A rule broken: which module, where, what it imported and which rule says no."""

    module: str
    line: int
    target: str
    rule: str
    via: tuple[str, ...] = ()
    """The guildwatch modules in between, for a transitive import."""

    def __str__(self) -> str:
        chain = f" (via {' -> '.join(self.via)})" if self.via else ""
        return f"{self.module}:{self.line}: {self.target}{chain}: {self.rule}"


def layer(module: str) -> str:
    """``engine``, ``store``, ``ui``, ``alerts``, ``cli``, ``server``, ``agent`` or ``shared``."""
    parts = module.split(".")
    if parts[0] != ROOT_PACKAGE or len(parts) == 1:
        return "shared"
    if parts[1] in ("engine", "ui", "alerts", "cli", "server", "agent"):
        return parts[1]
    if parts[1] == "store":
        return "store"
    return "shared"  # errors, display, history, defaults, __main__


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


@functools.cache
def imports_of(module: str, source: str, *, is_package: bool = False) -> tuple[Import, ...]:
    """Every import in ``source`` (at any depth), plus calls named in STORE_FORBIDDEN_CALLS.

    Cached: the tests check the whole package once per broken copy, and parsing is the cost.
    """
    found: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _resolve_relative(module, is_package, node.level, node.module)
            else:
                base = node.module or ""
            found.append(Import(base, node.lineno))
            found += [
                Import(f"{base}.{alias.name}", node.lineno, member=True) for alias in node.names
            ]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else None
            name = func.attr if isinstance(func, ast.Attribute) else name
            literal = node.args[0] if node.args else None
            if (
                name in ("import_module", "__import__")
                and isinstance(literal, ast.Constant)
                and isinstance(literal.value, str)
            ):
                found.append(Import(literal.value, node.lineno))
            elif name in STORE_FORBIDDEN_CALLS:
                found.append(Import(name, node.lineno, call=True))
    return tuple(found)


def _top(target: str) -> str:
    return target.split(".")[0]


def _within(target: str, package: str) -> bool:
    return target == package or target.startswith(f"{package}.")


def _private_below(target: str, package: str) -> bool:
    """``target`` is ``package._x`` or below it: not the package's public face."""
    rest = target[len(package) + 1 :] if target.startswith(f"{package}.") else ""
    return rest.startswith("_")


def _direct_rules(module: str, item: Import) -> Iterator[str]:
    """Rules about what a module itself writes."""
    here = layer(module)
    ui_rule = "the UI sees the engine only through its public names (guildwatch.engine)"
    cli_rule = "the CLI reaches the server only through guildwatch.server"
    if item.call:
        if here == "store":
            yield f"the store does no I/O: no {item.target}()"
        return
    if (
        here == "agent"
        and not item.member
        and _within(item.target, ROOT_PACKAGE)
        and not _within(item.target, "guildwatch.agent")
        and item.target not in AGENT_MAY_USE
    ):
        yield "the agent uses only guildwatch.agent, the errors and the token readers"
    if item.member:
        # Only what the statement's module alone does not tell: a private name taken from a
        # public package (``from guildwatch.engine import _watcher``), an asyncio function.
        base, _, name = item.target.rpartition(".")
        if here == "ui" and base == "guildwatch.engine" and name.startswith("_"):
            yield ui_rule
        if here == "cli" and base == "guildwatch.server" and name.startswith("_"):
            yield cli_rule
        if here == "store" and base == "asyncio" and name in STORE_FORBIDDEN_CALLS:
            yield f"the store does no I/O: no asyncio.{name}"
        return
    if here == "store" and _top(item.target) in STORE_FORBIDDEN_MODULES:
        yield f"the store does no I/O: no {_top(item.target)}"
    if here == "ui" and _private_below(item.target, "guildwatch.engine"):
        yield ui_rule
    if here == "cli" and _private_below(item.target, "guildwatch.server"):
        yield cli_rule


def _reach_rules(module: str, target: str) -> Iterator[str]:
    """Rules about what a module loads, directly or through guildwatch modules."""
    here = layer(module)
    if here in ("engine", "store") and _top(target) == "textual":
        yield f"the {here} imports no Textual"
    own_library = {"guildwatch.agent.discordpy": "discord", "guildwatch.agent.hikari": "hikari"}
    if (
        here == "agent"
        and _top(target) in ("textual", *CHAT_LIBRARIES)
        and own_library.get(module) != _top(target)
    ):
        # An adapter may name its own library's types (hikari's events); the runtime test in
        # tests/agent shows that importing an adapter still loads no chat library.
        yield f"the agent imports no {_top(target)}"
    if here in ("engine", "store", "ui", "alerts", "agent") and _within(
        target, "guildwatch.server"
    ):
        yield f"the {here} never imports the server"
    if here != "server" and _top(target) in SERVER_STACK:
        yield "nothing but the server imports starlette, uvicorn, sse_starlette or hypercorn"


def _own(target: str, modules: Mapping[str, object]) -> str | None:
    """The guildwatch module an import loads, if it is one of ``modules``."""
    while target:
        if target in modules:
            return target
        target = target.rpartition(".")[0]
    return None


def check(sources: Mapping[str, str], packages: frozenset[str] = frozenset()) -> list[Violation]:
    """Every layer rule that ``sources`` break.

    Args:
        sources: Module name to source text, for every module of the package.
        packages: The names in ``sources`` that are packages (``__init__``), for relative
            imports.
    """
    found = {
        name: imports_of(name, text, is_package=name in packages) for name, text in sources.items()
    }
    violations: list[Violation] = []
    for module, items in found.items():
        for item in items:
            violations += [
                Violation(module, item.line, item.target, rule)
                for rule in _direct_rules(module, item)
            ]
        # Breadth-first over guildwatch's own imports; the first path to a target is reported.
        seen: set[str] = {module}
        queue: list[tuple[str, tuple[str, ...], int]] = [(module, (), 0)]
        while queue:
            current, via, line = queue.pop(0)
            for item in found[current]:
                if item.call:
                    continue
                at = item.line if current == module else line
                if not item.member:
                    for rule in _reach_rules(module, item.target):
                        violations.append(Violation(module, at, item.target, rule, via))
                own = _own(item.target, found)
                # A client reaching into the server is its own rule; what the server loads
                # (starlette, ...) is then the server's business, not the client's.
                into_server = _within(own or "", "guildwatch.server") and layer(module) != "server"
                if own is not None and own not in seen and not into_server:
                    seen.add(own)
                    queue.append((own, (*via, own), at))
    return sorted(set(violations), key=lambda v: (v.module, v.line, v.target, v.rule))


def package_sources(package: str = ROOT_PACKAGE) -> tuple[dict[str, str], frozenset[str]]:
    """Import every module of ``package`` (so each one at least loads) and read its source.

    ``__main__`` modules are read, not imported (importing one runs the program).
    """
    root = importlib.import_module(package)
    names = [(root.__name__, True)]
    names += [
        (info.name, info.ispkg)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}.")
    ]
    sources: dict[str, str] = {}
    packages: set[str] = set()
    for name, is_package in names:
        if name.rpartition(".")[2] == "__main__":
            # ``python -m guildwatch`` runs the program on import: read it, do not run it.
            spec = importlib.util.find_spec(name)
            origin = spec.origin if spec is not None else None
        else:
            origin = importlib.import_module(name).__file__
        assert origin is not None, name
        sources[name] = Path(origin).read_text(encoding="utf-8")
        if is_package:
            packages.add(name)
    return sources, frozenset(packages)
