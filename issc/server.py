"""The ASGI side of the dashboard: our routes in Streamlit's server, and the service's lifespan.

The lifespan starts the process's service (``issc.service``) with the server, so cameras run
before any page is opened, and stops it after. Routes find the service at request time; with a
wrong configuration they answer 503 with the configuration's one sentence.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute

from issc import service, web
from issc.api import plate_routes
from issc.engine import Engine
from issc.errors import ConfigError
from issc.store import Store


class _Unavailable(Exception):
    """The route cannot serve: the configuration is wrong, or the history is off."""


def _engine() -> Engine:
    try:
        return service.current().engine
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


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=503)


def routes() -> list[BaseRoute]:
    return [*web.routes(_engine), *plate_routes(_store)]


exception_handlers: dict[Any, Any] = {_Unavailable: _unavailable}


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
    """Start the service with the server (cameras run before any page is opened); stop it after."""
    service.configure_logging()
    try:
        service.start()
    except ConfigError as exc:
        # One sentence, no traceback: the pages and routes show the same message.
        print(f"ISSC configuration error: {exc}", file=sys.stderr, flush=True)
    yield {}
    service.stop()


__all__ = ["exception_handlers", "lifespan", "routes"]
