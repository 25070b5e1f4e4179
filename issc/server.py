"""The ASGI side of the dashboard: extra routes and the engine's lifespan in Streamlit's server."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from issc import web
from issc.api import plate_routes
from issc.config import load_settings
from issc.engine import Engine, shared_engine, stop_shared_engine
from issc.errors import ConfigError
from issc.service import build_engine

logger = logging.getLogger("issc")


def configure_logging(level: str = "INFO") -> None:
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)


def engine_or_error() -> Engine:
    """The process's engine; raises ConfigError (one sentence) when the settings are wrong."""
    settings = load_settings()
    configure_logging(settings.log_level)
    return shared_engine(lambda: build_engine(settings))


class _ConfigFailed(Exception):
    pass


def _get_engine() -> Engine:
    try:
        return engine_or_error()
    except ConfigError as exc:
        raise _ConfigFailed(str(exc)) from None


async def _config_failed(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": f"configuration error: {exc}"}, status_code=503)


def _get_store():
    store = _get_engine().history
    if store is None:
        raise _ConfigFailed("the plate history is off in this process")
    return store


def routes() -> list[BaseRoute]:
    return [*web.routes(_get_engine), *plate_routes(_get_store)]


exception_handlers: dict[Any, Any] = {_ConfigFailed: _config_failed}


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
    """Start the cameras with the server (so they run before any page is opened); stop them after."""
    configure_logging()
    try:
        engine_or_error()
    except ConfigError as exc:
        # One sentence, no traceback: the dashboard shows the same message.
        print(f"ISSC configuration error: {exc}", file=sys.stderr, flush=True)
    yield {}
    stop_shared_engine()


__all__ = ["Route", "exception_handlers", "lifespan", "routes"]
