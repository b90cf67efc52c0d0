"""Starlette routes: status, guild list, heartbeats, the bot status, faults; every error is JSON.

The stream route lives in :mod:`._stream`; the checks shared by all routes in :mod:`._http`.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from guildwatch.server._config import GUILD_ID_RE
from guildwatch.server._faults import SHARED, Fault, FaultError, parse_fault
from guildwatch.server._http import (
    UNAUTHORIZED_HEADERS,
    AppState,
    check_client,
    error_response,
    fault_response,
    unavailable_response,
)
from guildwatch.server._metrics import CountResponses, MetricsEndpoint, ServerMetrics
from guildwatch.server._shared import SharedStreamEndpoint, fault_gone
from guildwatch.server._store import StoreUnavailable
from guildwatch.server._stream import StreamEndpoint
from guildwatch.server._vitals import VitalsError, bot_heartbeat, guild_heartbeat, parse_json


async def read_json_body(request: Request, limit: int) -> object:
    """The request's JSON body, read with a size cap.

    Raises:
        HTTPException: 413 past ``limit`` bytes, 422 when it is not JSON (``NaN`` and
            ``Infinity`` included, which Python's own parser would accept).
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"body larger than {limit} bytes")
    try:
        return parse_json(bytes(body))
    except VitalsError as exc:
        raise HTTPException(422, str(exc)) from None


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.guildwatch
    return state


async def guild_status(request: Request) -> Response:
    """``GET /api/v1/guilds/{guild}/status``: the current status object."""
    state = _state(request)
    guild_id = request.path_params["guild"]
    checked = await check_client(state, request, guild_id)
    if isinstance(checked, Response):
        return checked
    forced = fault_response(state, guild_id)
    if forced is not None:
        return forced
    status = await state.store.status(guild_id)
    return JSONResponse(status, headers={"Cache-Control": "no-cache"})


async def guild_list(request: Request) -> Response:
    """``GET /api/v1/guilds``: the guilds this token may see, with names."""
    state = _state(request)
    checked = await check_client(state, request, None)
    if isinstance(checked, Response):
        return checked
    guilds = [
        {"id": guild_id, "name": name or guild_id}
        for guild_id, name in await state.store.guilds()
        if checked.allows(guild_id)
    ]
    return JSONResponse({"guilds": guilds})


def _check_bot(state: AppState, request: Request, guild_id: str) -> Response | None:
    if not state.auth.bot(request.headers.get("authorization")):
        return error_response(
            401, "unauthorized", "missing or invalid bot token", UNAUTHORIZED_HEADERS
        )
    if not GUILD_ID_RE.fullmatch(guild_id):
        return error_response(404, "not_found", "not a valid guild id")
    return None


async def heartbeat(request: Request) -> Response:
    """``POST /api/v1/guilds/{guild}/heartbeat`` (bot token), body ``{"version": "..."}``.

    The body (version and vitals) is validated whole before anything changes: a bad one leaves
    the state as it was.
    """
    state = _state(request)
    guild_id = request.path_params["guild"]
    refused = _check_bot(state, request, guild_id)
    if refused is not None:
        return refused
    body = await read_json_body(request, state.config.max_body_bytes)
    try:
        version, vitals = guild_heartbeat(body)
    except VitalsError as exc:
        raise HTTPException(422, str(exc)) from None
    # Answered only once the store has it: a 2xx heartbeat is never lost.
    return JSONResponse(await state.store.heartbeat(guild_id, version, vitals))


async def set_fault(request: Request) -> Response:
    """``POST /api/v1/_faults/{guild}`` (bot token; only with ``--faults``)."""
    state = _state(request)
    assert state.faults is not None  # the route exists only with faults on
    guild_id = request.path_params["guild"]
    refused = _check_bot(state, request, guild_id)
    if refused is not None:
        return refused
    try:
        fault = parse_fault(await read_json_body(request, state.config.max_body_bytes))
    except FaultError as exc:
        raise HTTPException(422, str(exc)) from None
    previous = state.faults.set(guild_id, fault)
    if guild_id == SHARED:
        _apply_shared_fault(state, fault, stall_healed=previous.stall and not fault.stall)
        return JSONResponse({"guild": guild_id, "fault": fault.as_json()})
    gone = fault_gone(guild_id, fault)
    if gone is not None:
        for subscriber in list(state.shared_streams):
            subscriber.drop_guild(gone)
    store = state.store
    if fault.status is not None or (previous.stall and not fault.stall):
        store.close_streams(guild_id, "fault")
    elif fault.drop_after is not None:
        store.close_streams(guild_id, "fault", sent_at_least=fault.drop_after)
    return JSONResponse({"guild": guild_id, "fault": fault.as_json()})


def _apply_shared_fault(state: AppState, fault: Fault, *, stall_healed: bool) -> None:
    """A fault of the shared stream itself: end its open streams as a guild's would end."""
    drop_after = fault.drop_after
    for subscriber in list(state.shared_streams):
        dropped = drop_after is not None and subscriber.sent >= drop_after
        if fault.status is not None or stall_healed or dropped:
            subscriber.close("fault")


_ERROR_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    422: "invalid_body",
}


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StoreUnavailable)
    return unavailable_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _ERROR_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, exc.detail, dict(exc.headers or {}))


def create_app(state: AppState) -> Starlette:
    """The ASGI app over a started :class:`Store` (see :class:`ReferenceServer`)."""
    metrics = ServerMetrics()
    scrape = MetricsEndpoint(metrics, state.config.metrics_token, state.shared_streams)
    routes = [
        Route("/api/v1/guilds", guild_list, methods=["GET"]),
        # Before the {guild} routes, so that "status" is never taken for a guild id.
        Route(
            "/api/v1/guilds/status/stream",
            SharedStreamEndpoint(state, metrics),
            methods=["GET"],
        ),
        Route("/api/v1/guilds/{guild}/status", guild_status, methods=["GET"]),
        Route(
            "/api/v1/guilds/{guild}/status/stream",
            StreamEndpoint(state, metrics),
            methods=["GET"],
        ),
        Route("/api/v1/guilds/{guild}/heartbeat", heartbeat, methods=["POST"]),
        Route("/metrics", scrape.handle, methods=["GET"]),
        Route("/api/v1/bot/heartbeat", bot_heartbeat_route, methods=["POST"]),
        Route("/api/v1/bot/status", bot_status, methods=["GET"]),
        Route(
            "/api/v1/bot/status/stream", StreamEndpoint(state, metrics, bot=True), methods=["GET"]
        ),
    ]
    if state.faults is not None:
        routes.append(Route("/api/v1/_faults/{guild}", set_fault, methods=["POST"]))
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, StoreUnavailable: _store_unavailable},
        middleware=[Middleware(CountResponses, metrics=metrics)],
    )
    app.state.guildwatch = state
    app.state.metrics = metrics
    return app


async def bot_heartbeat_route(request: Request) -> Response:
    """``POST /api/v1/bot/heartbeat`` (bot token): the whole bot and all its guilds at once."""
    state = _state(request)
    if not state.auth.bot(request.headers.get("authorization")):
        return error_response(
            401, "unauthorized", "missing or invalid bot token", UNAUTHORIZED_HEADERS
        )
    body = await read_json_body(request, state.config.max_batch_body_bytes)
    try:
        report = bot_heartbeat(body)
    except VitalsError as exc:
        raise HTTPException(422, str(exc)) from None
    return JSONResponse({"guilds": await state.store.bot_heartbeat(report)})


async def bot_status(request: Request) -> Response:
    """``GET /api/v1/bot/status``: the bot as a whole, for any valid client token."""
    state = _state(request)
    checked = await check_client(state, request, None)
    if isinstance(checked, Response):
        return checked
    return JSONResponse(await state.store.bot_status(), headers={"Cache-Control": "no-cache"})
