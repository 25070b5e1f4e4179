"""``python -m issc.worker [--host 127.0.0.1] [--port 8600]``: a camera worker with its own HTTP server.

It runs :class:`issc.worker.Worker` for the cameras of its own ``CAMERAS`` and serves, with uvicorn:

* ``GET /video_feed/<id>/`` and ``GET /api/cameras`` (:func:`issc.web.routes`), for the cameras it
  runs now;
* ``GET /api/health``: the store's writer, the running cameras, the worker's id and what it waits for.

Every request needs ``Authorization: Bearer <WORKER_TOKEN>`` (compared in constant time; 401
otherwise). A worker listening beyond loopback refuses to start without ``WORKER_TOKEN``; on loopback
without one, requests carry no credentials, so their ``Host`` must name this machine (``localhost``,
``127.0.0.1``, ``::1`` or the host of its URL; 400 otherwise): a web page the local browser opened
cannot reach the worker through a DNS name rebound to 127.0.0.1. The token is never logged.

SIGTERM or Ctrl-C: the server stops, then the cameras (their last events are written), their locks
are given up and the registry row removed. Exit status 2: a wrong configuration (one sentence).
"""

from __future__ import annotations

import argparse
import hmac
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from issc import web
from issc.auth.gate import host_name
from issc.config import is_loopback, load_settings
from issc.errors import ConfigError
from issc.metrics import metrics_routes
from issc.service import configure_logging
from issc.worker.lifecycle import Worker

DEFAULT_PORT = 8600
#: Host names of this machine that need no configuration.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class BearerToken:
    """ASGI middleware: every HTTP request and websocket must carry ``Authorization: Bearer <token>``.

    Args:
        app: The application it guards.
        token: The expected token; None: a loopback worker without a token, where only the Host is
            checked (DNS rebinding).
        hosts: Host names (lower case, no port) a request without a token may carry.
    """

    def __init__(self, app: ASGIApp, token: str | None, hosts: frozenset[str] = LOOPBACK_HOSTS) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode() if token is not None else None
        self._hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self._expected is None:
            host = dict(scope.get("headers") or ()).get(b"host", b"").decode("latin-1")
            if host_name(host) in self._hosts:
                await self.app(scope, receive, send)
            elif scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                response = JSONResponse(
                    {
                        "error": "this worker answers only requests for its own host name (DNS rebinding guard)"
                    },
                    status_code=400,
                )
                await response(scope, receive, send)
            return
        given = dict(scope.get("headers") or ()).get(b"authorization", b"")
        if hmac.compare_digest(given, self._expected):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        response = JSONResponse(
            {"error": "this worker needs 'Authorization: Bearer <WORKER_TOKEN>'"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="issc-worker"'},
        )
        await response(scope, receive, send)


def worker_hosts(worker: Worker) -> frozenset[str]:
    """The Host names a worker answers without a token: loopback's, its address and its URL's host."""
    names = set(LOOPBACK_HOSTS) | {worker.host.strip("[]").lower()}
    try:
        names.add((urlsplit(worker.url).hostname or "").lower())
    except ValueError:
        pass
    return frozenset(names - {"", "0.0.0.0", "::"})


def build_app(worker: Worker) -> Starlette:
    """The worker's routes behind its token; stopping the server stops the worker (its lifespan)."""

    async def health(request: Request) -> JSONResponse:
        body = worker.health()
        return JSONResponse(body, status_code=200 if body["ok"] else 503)

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        worker.stop()  # before uvicorn hands a caught SIGTERM back to the process

    return Starlette(
        routes=[
            *web.routes(worker.cameras_view),  # type: ignore[arg-type]
            *metrics_routes(worker.cameras_view, lambda: worker.service, web.open_viewers),
            Route("/api/health", health, methods=["GET"]),
        ],
        middleware=[
            Middleware(BearerToken, token=worker.settings.cluster.token(), hosts=worker_hosts(worker))
        ],
        lifespan=lifespan,
    )


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m issc.worker",
        description="Run the cameras of CAMERAS without Streamlit, in a cluster sharing DATABASE_URL "
        "(see docs/deploy.md).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a worker until SIGTERM or Ctrl-C. Returns the exit status."""
    import uvicorn

    args = _parse(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"ISSC configuration error: {exc}", file=sys.stderr, flush=True)
        return 2
    configure_logging(settings.web.log_level)
    worker = Worker(settings, host=args.host, port=args.port)
    try:
        worker.start()
    except ConfigError as exc:  # also UnavailableError: a supervisor restarts the worker
        print(f"ISSC worker not started: {exc}", file=sys.stderr, flush=True)
        return 2
    if settings.cluster.token() is None and is_loopback(args.host):
        print("ISSC worker: no WORKER_TOKEN, requests are not checked (loopback only)", file=sys.stderr)
    # uvicorn hands a caught SIGTERM back to the process after it stopped: end with status 0 then.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(worker), host=args.host, port=args.port, log_level="warning", access_log=False
        )
    )
    try:
        server.run()
    finally:
        worker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
