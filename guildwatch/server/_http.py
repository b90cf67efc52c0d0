"""What every route shares: the app state, JSON errors and the client checks.

Check order for client requests: token (401), guild id syntax (404), token's guild list (403),
guild known (404). A token restricted to some guilds gets 403 for any other id, known or not,
so it cannot probe which guilds exist.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from guildwatch.server._auth import Authenticator, Grant
from guildwatch.server._config import GUILD_ID_RE, ServerConfig
from guildwatch.server._faults import FaultBoard, retry_after_header
from guildwatch.server._model import SharedSubscriber
from guildwatch.server._store import Store, StoreUnavailable


@dataclass(slots=True)
class AppState:
    """What the routes share; owned by :class:`ReferenceServer`."""

    config: ServerConfig
    auth: Authenticator
    store: Store
    faults: FaultBoard | None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    shared_streams: set[SharedSubscriber] = field(default_factory=set)
    """This process's open shared streams (faults reach them here; metrics read them)."""


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """``{"error": code, "message": message}`` with the given status (no body for 204)."""
    if status == 204:
        return Response(status_code=204, headers=headers)
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="guildwatch"'}


def unavailable_response(exc: StoreUnavailable) -> Response:
    """503 + ``Retry-After``: the storage cannot answer, so nothing stale is served as fresh."""
    return error_response(
        503,
        "unavailable",
        "the server's storage is unavailable; try again shortly",
        {"Retry-After": str(exc.retry_after)},
    )


async def check_client(state: AppState, request: Request, guild_id: str | None) -> Grant | Response:
    """Authorise a client request for ``guild_id`` (None: no guild involved).

    Raises:
        StoreUnavailable: Whether the guild is known cannot be told now.
    """
    grant = state.auth.client(request.headers.get("authorization"))
    if grant is None:
        return error_response(
            401, "unauthorized", "missing or invalid bearer token", UNAUTHORIZED_HEADERS
        )
    if guild_id is None:
        return grant
    if not GUILD_ID_RE.fullmatch(guild_id):
        return error_response(404, "not_found", "not a valid guild id")
    if not grant.allows(guild_id):
        return error_response(403, "forbidden", f"this token may not see guild {guild_id}")
    if not await state.store.has(guild_id):
        return error_response(404, "not_found", f"unknown guild {guild_id}")
    return grant


def fault_response(state: AppState, guild_id: str) -> Response | None:
    """The answer an injected ``status`` fault forces, if one is set for the guild."""
    if state.faults is None:
        return None
    fault = state.faults.get(guild_id)
    if fault.status is None:
        return None
    headers = None
    if fault.retry_after is not None:
        headers = {"Retry-After": retry_after_header(fault.retry_after)}
    return error_response(fault.status, "injected", "injected fault", headers)
