"""Starlette routes: status, guild list, bot heartbeat, faults; every error is JSON.

The stream route lives in :mod:`._stream`; the checks shared by all routes in :mod:`._http`.
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from guildwatch.server._config import GUILD_ID_RE
from guildwatch.server._faults import FaultError, parse_fault
from guildwatch.server._http import (
    UNAUTHORIZED_HEADERS,
    AppState,
    check_client,
    error_response,
    fault_response,
)
from guildwatch.server._metrics import CountResponses, MetricsEndpoint, ServerMetrics
from guildwatch.server._stream import StreamEndpoint

MAX_VERSION_CHARS = 256


async def read_json_body(request: Request, limit: int) -> object:
    """The request's JSON body, read with a size cap.

    Raises:
        HTTPException: 413 past ``limit`` bytes, 422 when it is not JSON.
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
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise HTTPException(422, "body is not valid JSON") from None


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.guildwatch
    return state


async def guild_status(request: Request) -> Response:
    """``GET /api/v1/guilds/{guild}/status``: the current status object."""
    state = _state(request)
    guild_id = request.path_params["guild"]
    checked = check_client(state, request, guild_id)
    if isinstance(checked, Response):
        return checked
    forced = fault_response(state, guild_id)
    if forced is not None:
        return forced
    return JSONResponse(state.model.status(guild_id), headers={"Cache-Control": "no-cache"})


async def guild_list(request: Request) -> Response:
    """``GET /api/v1/guilds``: the guilds this token may see, with names."""
    state = _state(request)
    checked = check_client(state, request, None)
    if isinstance(checked, Response):
        return checked
    model = state.model
    guilds = [
        {"id": guild_id, "name": model.name(guild_id) or guild_id}
        for guild_id in model.guild_ids
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

    The body is validated whole before anything changes: a bad one leaves the state as it was.
    """
    state = _state(request)
    guild_id = request.path_params["guild"]
    refused = _check_bot(state, request, guild_id)
    if refused is not None:
        return refused
    body = await read_json_body(request, state.config.max_body_bytes)
    if not isinstance(body, dict):
        raise HTTPException(422, 'body must be a JSON object such as {"version": "1.2.3"}')
    version = body.get("version")
    if version is not None and not isinstance(version, str):
        raise HTTPException(422, "version must be a string or null")
    if version is not None and len(version) > MAX_VERSION_CHARS:
        raise HTTPException(422, f"version longer than {MAX_VERSION_CHARS} characters")
    state.model.heartbeat(guild_id, version)
    return JSONResponse(state.model.status(guild_id))


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
    model = state.model
    if fault.status is not None or (previous.stall and not fault.stall):
        model.close_streams(guild_id, "fault")
    elif fault.drop_after is not None:
        model.close_streams(guild_id, "fault", sent_at_least=fault.drop_after)
    return JSONResponse({"guild": guild_id, "fault": fault.as_json()})


_ERROR_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    422: "invalid_body",
}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _ERROR_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, exc.detail, dict(exc.headers or {}))


def create_app(state: AppState) -> Starlette:
    """The ASGI app over a running :class:`StatusModel` (see :class:`ReferenceServer`)."""
    metrics = ServerMetrics()
    scrape = MetricsEndpoint(metrics, state.config.metrics_token)
    routes = [
        Route("/api/v1/guilds", guild_list, methods=["GET"]),
        Route("/api/v1/guilds/{guild}/status", guild_status, methods=["GET"]),
        Route(
            "/api/v1/guilds/{guild}/status/stream",
            StreamEndpoint(state, metrics),
            methods=["GET"],
        ),
        Route("/api/v1/guilds/{guild}/heartbeat", heartbeat, methods=["POST"]),
        Route("/metrics", scrape.handle, methods=["GET"]),
    ]
    if state.faults is not None:
        routes.append(Route("/api/v1/_faults/{guild}", set_fault, methods=["POST"]))
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error},
        middleware=[Middleware(CountResponses, metrics=metrics)],
    )
    app.state.guildwatch = state
    app.state.metrics = metrics
    return app
