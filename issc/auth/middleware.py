"""The ASGI middleware that guards every HTTP request and websocket of the server.

Streamlit's own routes (``/_stcore/stream`` and the rest, media, static files) and ours
(``/video_feed/*``, ``/api/*``) all pass through it. Without credentials only the login page,
logout and the health check answer; an HTML navigation is sent to the login page, anything else
gets ``401 {"error": ...}``, and a websocket is refused with 401. Reading needs ``viewer``; any
other method needs ``admin``. A Host header that does not name this server gets 400 (DNS rebinding).

The principal that passed is handed to the pages in the ``X-ISSC-Principal`` request header (one
sent by the client is removed first), so pages know their user without looking it up again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool

from issc.auth.accounts import ROLES, Principal
from issc.auth.gate import MISS, Gate

PRINCIPAL_HEADER = "x-issc-principal"
#: Paths that answer without credentials (the login page needs no other asset).
PUBLIC_PATHS = frozenset({"/auth/login", "/auth/logout", "/_stcore/health", "/healthz"})
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Writes that an analyst may do (reviewing plate reads); every other write needs an admin.
_ANALYST_WRITES = (("PATCH", "/api/plates/"),)
#: Reads that only an admin may make: a camera's lines and zones (``/api/cameras/<name>/zones``).
_ADMIN_READ_SUFFIXES = (("/api/cameras/", "/zones"),)

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


class Refused(Exception):
    """No gate can be built (a wrong configuration): every guarded request answers 503 with this."""


def principal_header(principal: Principal) -> str:
    return f"{principal.name};{principal.role};{principal.via}"


def read_principal_header(value: str | None) -> Principal | None:
    parts = (value or "").split(";")
    if len(parts) != 3 or parts[1] not in ROLES:
        return None
    return Principal(*parts)


class AuthMiddleware:
    """Pure ASGI middleware (websockets included).

    Args:
        app: The wrapped application.
        gate: Returns the process's gate; raises :class:`Refused` (503 for everything guarded) or
            returns None to let everything through (the configuration is wrong but the server is
            loopback-only, so pages can show the error).
    """

    def __init__(self, app: Any, gate: Callable[[], Gate | None]) -> None:
        self.app = app
        self._gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        path = scope.get("path", "")
        try:
            gate = self._gate()
        except Refused as exc:
            if path in PUBLIC_PATHS and path.startswith("/_stcore"):
                await self.app(scope, receive, send)
            else:
                await _deny(scope, send, 503, str(exc))
            return
        if gate is None:
            await self.app(_with_principal(scope, None), receive, send)
            return
        if not gate.host_allowed(headers.get("host")):
            await _deny(scope, send, 400, "This Host is not served here; add it to ALLOWED_HOSTS.")
            return
        if path in PUBLIC_PATHS:
            await self.app(_with_principal(scope, None), receive, send)
            return
        client = scope.get("client") or (None, None)
        cookies = _cookies(headers.get("cookie", ""))
        principal = gate.identify(headers, cookies, client[0], cached_only=True)
        if principal is MISS:
            principal = await run_in_threadpool(gate.identify, headers, cookies, client[0])
        if principal is None:
            if scope["type"] == "http" and _is_navigation(scope, headers):
                target = path + (
                    f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else ""
                )
                await _redirect(send, "/auth/login?next=" + quote(target, safe=""))
            else:
                await _deny(
                    scope,
                    send,
                    401,
                    "Sign in first: a session cookie or an 'Authorization: Bearer' token is needed.",
                )
            return
        needed = _needed_role(scope, path)
        if not principal.can(needed):
            await _deny(
                scope,
                send,
                403,
                f"User {principal.name!r} ({principal.role}) may not do this: it needs {needed}.",
            )
            return
        await self.app(_with_principal(scope, principal), receive, send)


def _needed_role(scope: Scope, path: str) -> str:
    """The weakest role that may make this request: reads need a viewer, reviews an analyst, other
    writes an admin (pages refine this per page: :func:`issc.ui.access.require_role`)."""
    method = scope.get("method")
    if any(path.startswith(p) and path.rstrip("/").endswith(s) for p, s in _ADMIN_READ_SUFFIXES):
        return "admin"
    if scope["type"] == "websocket" or method in _READ_METHODS:
        return "viewer"
    if any(method == m and path.startswith(prefix) for m, prefix in _ANALYST_WRITES):
        return "analyst"
    return "admin"


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _cookies(raw: str) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return {}
    return {k: m.value for k, m in jar.items()}


def _is_navigation(scope: Scope, headers: dict[str, str]) -> bool:
    if scope.get("method") != "GET":
        return False
    return headers.get("sec-fetch-mode") == "navigate" or "text/html" in headers.get("accept", "")


def _with_principal(scope: Scope, principal: Principal | None) -> Scope:
    kept = [(k, v) for k, v in scope.get("headers", []) if k.lower() != PRINCIPAL_HEADER.encode()]
    if principal is not None:
        kept.append((PRINCIPAL_HEADER.encode(), principal_header(principal).encode("latin-1", "replace")))
    return {**scope, "headers": kept}


async def _redirect(send: Send, location: str) -> None:
    await send(
        {"type": "http.response.start", "status": 303, "headers": [(b"location", location.encode("latin-1"))]}
    )
    await send({"type": "http.response.body", "body": b""})


async def _deny(scope: Scope, send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="issc"'))
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})
