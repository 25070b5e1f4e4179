"""The ASGI middleware that guards every HTTP request and websocket of the server.

Streamlit's own routes (``/_stcore/stream`` and the rest, media, static files) and ours
(``/video_feed/*``, ``/api/*``) all pass through it. Without credentials only the login page,
logout and the health check answer; an HTML navigation is sent to the login page, anything else
gets ``401 {"error": ...}``, and a websocket is refused with 401. Reading needs ``viewer``; any
other method needs ``admin``. A Host header that does not name this server gets 400 (DNS rebinding).

The principal that passed is handed to the pages in the ``X-ISSC-Principal`` request header (one
sent by the client is removed first), so pages know their user without looking it up again.

Two more guards, for everybody:

* **Bounded bodies.** Every request body is limited while it is read (:func:`body_limit`: the login
  16 KiB, uploads their documented cap, anything else 64 KiB): a ``Content-Length`` beyond it gets
  413 before a byte is read, and a chunked body gets 413 as soon as it passes the limit; nothing is
  buffered beyond it.
* **Revocation reaches open connections.** A websocket (an open tab) or a live stream of a signed-in
  principal is re-checked every second (:meth:`Gate.recheck`, at most 2 s old): once the session
  ends, the token is revoked, the user is removed or their role changes, the websocket is closed
  (the tab must sign in again, or reconnects with its new role) and the stream ends.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import quote

import anyio
from starlette.concurrency import run_in_threadpool

from issc.auth.accounts import ROLES, Principal
from issc.auth.gate import MISS, Gate, forwarded, host_name
from issc.uploads import MAX_UPLOAD_BYTES

logger = logging.getLogger(__name__)

PRINCIPAL_HEADER = "x-issc-principal"
#: Paths that answer without credentials (the login page needs no other asset).
PUBLIC_PATHS = frozenset({"/auth/login", "/auth/logout", "/_stcore/health", "/healthz"})
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Writes that an analyst may do (reviewing plate reads); every other write needs an admin.
_ANALYST_WRITES = (("PATCH", "/api/plates/"),)
LOGIN_BODY_BYTES = 16 * 1024
BODY_BYTES = 64 * 1024
#: Streamlit's file uploads: the documented picture cap plus room for the multipart envelope.
UPLOAD_BODY_BYTES = MAX_UPLOAD_BYTES + 64 * 1024
UPLOAD_PATH = "/_stcore/upload_file"
#: How often an open websocket or stream of a signed-in principal is re-checked (seconds).
RECHECK_EVERY_S = 1.0
#: Long-lived HTTP responses that are re-checked while they run.
_STREAM_PREFIXES = ("/video_feed/",)
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


def acting_user(headers: Mapping[str, str]) -> str:
    """The signed-in name the middleware put on a request (``"anonymous"`` without one), for logs
    and audit entries."""
    principal = read_principal_header(headers.get(PRINCIPAL_HEADER))
    return principal.name if principal is not None else "anonymous"


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
        if scope["type"] == "http":
            limit = body_limit(scope.get("method", "GET"), path)
            length = headers.get("content-length", "")
            if length and (not length.isdigit() or len(length) > 15 or int(length) > limit):
                await _too_large(send, limit)
                return
            bounded = _BoundedBody(receive, send, limit)
            try:
                await self._guard(scope, bounded.receive, bounded.send, headers, path)
            except Exception:
                if not bounded.tripped:
                    raise
                # the app failed on the body it was refused; the client already has its 413
            return
        await self._guard(scope, receive, send, headers, path)

    async def _guard(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], path: str
    ) -> None:
        try:
            gate = self._gate()
        except Refused as exc:
            if path in PUBLIC_PATHS and path.startswith("/_stcore"):
                await self.app(scope, receive, send)
            else:
                await _deny(scope, send, 503, str(exc))
            return
        if gate is None:
            if forwarded(headers) and path not in PUBLIC_PATHS:
                # a wrong configuration on loopback opens the pages to this machine only
                await _deny(
                    scope, send, 503, "The configuration is wrong; see the dashboard on this machine."
                )
                return
            await self.app(_with_principal(scope, None), receive, send)
            return
        if not gate.host_allowed(headers.get("host")):
            await _deny(scope, send, 400, "This Host is not served here; add it to ALLOWED_HOSTS.")
            return
        if not _same_origin(scope, headers):
            await _deny(
                scope, send, 403, "This request came from another site's page (Origin); it is refused."
            )
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
        inner = _with_principal(scope, principal)
        if principal.via == "open" or not (scope["type"] == "websocket" or path.startswith(_STREAM_PREFIXES)):
            await self.app(inner, receive, send)
            return
        await _watched(self.app, inner, receive, send, gate, principal, headers, cookies)


def _same_origin(scope: Scope, headers: dict[str, str]) -> bool:
    """A websocket or a write sent by a browser must come from a page of this host.

    Its ``Origin`` (when there is one) names the same host as ``Host`` (ports aside: a proxy drops
    them). Stops a page of another host, even a sibling subdomain that SameSite cookies count as the
    same site, from driving a signed-in tab's websocket or writes (cross-site websocket hijacking).
    """
    if scope["type"] == "http" and scope.get("method") in _READ_METHODS:
        return True
    origin = headers.get("origin")
    if origin is None:
        return True  # not a browser's cross-origin request (scripts, curl)
    if origin == "null":
        return False
    host = headers.get("x-forwarded-host") or headers.get("host") or ""
    netloc = origin.split("://", 1)[-1]
    return host_name(netloc) == host_name(host.split(",")[0])


def body_limit(method: str, path: str) -> int:
    """The most bytes a request body may have: the login 16 KiB, uploads their cap, others 64 KiB."""
    if path.startswith("/auth/"):
        return LOGIN_BODY_BYTES
    if path.startswith(UPLOAD_PATH):
        return UPLOAD_BODY_BYTES
    return BODY_BYTES


class _BoundedBody:
    """Counts a request body while the app reads it; past ``limit`` answers 413 and ends the request."""

    def __init__(self, receive: Receive, send: Send, limit: int) -> None:
        self._receive, self._send, self.limit = receive, send, limit
        self.read = 0
        self.tripped = False
        self._started = False

    async def receive(self) -> dict[str, Any]:
        if self.tripped:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.read += len(message.get("body", b""))
            if self.read > self.limit:
                self.tripped = True
                if not self._started:
                    self._started = True
                    await _too_large(self._send, self.limit)
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: dict[str, Any]) -> None:
        if self.tripped:
            return  # the 413 went out; whatever the app still says is dropped
        if message["type"] == "http.response.start":
            self._started = True
        await self._send(message)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {"error": f"The request body is larger than this route accepts ({limit // 1024} KiB at most)."}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _watched(
    app: Any,
    scope: Scope,
    receive: Receive,
    send: Send,
    gate: Gate,
    principal: Principal,
    headers: dict[str, str],
    cookies: dict[str, str],
) -> None:
    """Run a websocket or a stream while re-checking its principal every :data:`RECHECK_EVERY_S`.

    When the principal is gone or its role changed, a websocket is closed (1008; the app sees the
    client leave) and a stream is cut.
    """
    revoked = anyio.Event()
    closed = False

    async def guarded_send(message: dict[str, Any]) -> None:
        if not closed:
            await send(message)

    async def guarded_receive() -> dict[str, Any]:
        if revoked.is_set():
            return {"type": "websocket.disconnect", "code": 1008}
        result: dict[str, Any] = {"type": "websocket.disconnect", "code": 1008}
        async with anyio.create_task_group() as race:

            async def real() -> None:
                nonlocal result
                result = await receive()
                race.cancel_scope.cancel()

            async def stop() -> None:
                await revoked.wait()
                race.cancel_scope.cancel()

            race.start_soon(real)
            race.start_soon(stop)
        return result

    async def watch(group: anyio.abc.TaskGroup) -> None:
        nonlocal closed
        while True:
            await anyio.sleep(RECHECK_EVERY_S)
            try:
                now = await run_in_threadpool(gate.recheck, principal, headers, cookies)
            except Exception:  # the database is down: keep what was checked, try again
                logger.warning("could not re-check %s's access", principal.name, exc_info=True)
                continue
            if now is not None and now.role == principal.role:
                continue
            logger.info("access of %s changed: closing their open %s", principal.name, scope["type"])
            closed = True
            revoked.set()
            if scope["type"] == "websocket":
                try:
                    await send({"type": "websocket.close", "code": 1008, "reason": "signed out"})
                except Exception:  # already gone
                    pass
                return  # the app sees the client leave and cleans up
            group.cancel_scope.cancel()
            return

    async with anyio.create_task_group() as group:
        group.start_soon(watch, group)
        if scope["type"] == "websocket":
            await app(scope, guarded_receive, guarded_send)
        else:
            await app(scope, receive, guarded_send)
        group.cancel_scope.cancel()


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
