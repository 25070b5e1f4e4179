"""The ASGI side of the dashboard: our routes in Streamlit's server, and the service's lifespan.

The lifespan starts the process's service (``issc.service``) with the server, so cameras run
before any page is opened, and stops it after. Routes find the service at request time; with a
wrong configuration they answer 503 with the configuration's one sentence.

:func:`middleware` guards every request and websocket with the service's gate (``issc.auth``); the
login routes come with :func:`routes`. A wrong configuration on a server that listens beyond
loopback answers 503 everywhere but the health check (nobody can be authenticated).
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from issc import auth, service, web
from issc.analytics_api import analytics_routes
from issc.api import plate_routes
from issc.camera_api import camera_routes
from issc.config import AnalyticsSettings, is_loopback
from issc.engine import Engine
from issc.errors import ConfigError
from issc.health import health_json
from issc.metrics import metrics_routes
from issc.redact import redact
from issc.store import CorrectionResult, Store


class _Unavailable(Exception):
    """The route cannot serve: the configuration is wrong, or the history is off."""


def _engine() -> Engine:
    try:
        return service.current().engine
    except ConfigError as exc:
        raise _Unavailable(f"configuration error: {exc}") from None


def _service() -> service.Service:
    try:
        return service.current()
    except ConfigError as exc:
        raise _Unavailable(f"configuration error: {exc}") from None


def _store() -> Store:
    try:
        store = service.current().store
    except ConfigError as exc:
        raise _Unavailable(f"configuration error: {exc}") from None
    if store is None:
        raise _Unavailable("the plate history is off in this process")
    return store


def _site() -> AnalyticsSettings:
    return service.current().settings.analytics


def _corrected(result: CorrectionResult) -> None:
    service.current().corrected(result)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": redact(str(exc))}, status_code=503)


async def _health(request: Request) -> JSONResponse:
    """``GET /api/health``: the store's writer and every camera (503 while something is failing)."""
    try:
        running = service.current()
    except ConfigError as exc:
        return JSONResponse({"ok": False, "error": redact(f"configuration error: {exc}")}, status_code=503)
    body = health_json(running)
    return JSONResponse(body, status_code=200 if body["ok"] else 503)


def routes() -> list[BaseRoute]:
    return [
        *auth.auth_routes(_login_gate),
        *camera_routes(_service),  # before web's GET /api/cameras: the same list with records
        *web.routes(_engine),
        *metrics_routes(_engine, _service, web.open_viewers),
        *plate_routes(_store, _corrected),
        *analytics_routes(_store, _engine, _site),
        Route("/api/health", _health, methods=["GET"]),
    ]


_bind_address: str | None = None


def middleware(bind_address: str | None) -> list[Middleware]:
    """The authentication middleware, for a server listening on ``bind_address`` (Streamlit's
    ``server.address``; empty: every interface), which decides ``AUTH=auto``."""
    global _bind_address
    _bind_address = bind_address
    auth.set_bind_address(bind_address)
    return [Middleware(auth.AuthMiddleware, gate=_gate)]


def _gate() -> auth.Gate | None:
    """The service's gate; None lets requests through (a wrong configuration on loopback: pages show it).

    Raises:
        auth.Refused: the configuration is wrong and the server listens beyond loopback.
    """
    try:
        return auth.gate_for(service.current())
    except ConfigError as exc:
        if is_loopback(_bind_address):
            return None
        raise auth.Refused(f"configuration error: {exc}") from None


def _login_gate() -> auth.Gate | None:
    try:
        return _gate()
    except auth.Refused:
        return None


exception_handlers: dict[Any, Any] = {_Unavailable: _unavailable}


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
    """Start the service with the server (cameras run before any page is opened); stop it after."""
    service.configure_logging()
    try:
        auth.gate_for(service.start())  # at the first start, prints the generated admin password
    except ConfigError as exc:
        # One sentence, no traceback: the pages and routes show the same message.
        print(f"ISSC configuration error: {exc}", file=sys.stderr, flush=True)
        if not is_loopback(_bind_address):
            # Nobody could be authenticated: refuse to serve the network at all (one sentence, and
            # no traceback from the ASGI server, which is why this is not an exception).
            print(
                f"ISSC refuses to listen on {_bind_address or 'every interface'}.",
                file=sys.stderr,
                flush=True,
            )
            service.stop()
            os._exit(2)
    yield {}
    service.stop()


__all__ = ["exception_handlers", "lifespan", "middleware", "routes"]
