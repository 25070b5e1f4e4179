"""The login page (plain HTML, no Streamlit assets), the login form's POST and logout.

``POST /auth/login`` takes the form (``name``, ``password``, ``next``, ``csrf``) or JSON
(``{"name", "password"}``) and sets the signed, HttpOnly, SameSite=Lax session cookie; wrong
credentials answer 401, too many failures 429 with ``Retry-After``. The form carries a CSRF token
bound to a cookie set with the form (double submit); JSON needs none (a cross-site page cannot send
``application/json`` without a preflight). The body is read at most 16 KiB (413 beyond).

``POST /auth/logout`` (only POST, with the CSRF token of the session: the dashboard's Sign out
button) ends the session server-side, so a copy of the cookie stops working too.
"""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from issc.auth.gate import Gate, LoginRefused
from issc.auth.sessions import COOKIE, CSRF_COOKIE
from issc.config import is_loopback

LOGIN_BODY_BYTES = 16 * 1024

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>ISSC — sign in</title>
<style>
body{{background:#0e1117;color:#fafafa;font-family:system-ui,sans-serif;display:flex;justify-content:center;
margin-top:12vh}}form{{background:#1a1c24;padding:2rem;border-radius:.5rem;width:20rem}}
label{{display:block;margin:.8rem 0 .3rem}}input{{width:100%;box-sizing:border-box;padding:.5rem;
border-radius:.3rem;border:1px solid #444;background:#0e1117;color:#fafafa}}button{{margin-top:1.2rem;
width:100%;padding:.6rem;border:0;border-radius:.3rem;background:#ffb000;color:#000;font-weight:600}}
.error{{color:#ff6b6b;margin-top:.8rem}}
</style></head><body>
<form method="post" action="/auth/login">
<h1>ISSC</h1>
<label for="name">Name</label><input id="name" name="name" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<input type="hidden" name="next" value="{next}">
<input type="hidden" name="csrf" value="{csrf}">
<button type="submit">Sign in</button>
{error}
</form></body></html>"""


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this server only (no ``//host`` or ``https://``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(c) < 33 or ord(c) == 127 for c in target):  # browsers drop tabs and newlines: "/\t/evil"
        return "/"
    return target


def login_page(
    next_path: str = "/", error: str = "", status: int = 200, gate: Gate | None = None
) -> HTMLResponse:
    """The sign-in form; with a gate, it carries a fresh CSRF token and sets its cookie."""
    shown = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    nonce = secrets.token_urlsafe(24)
    csrf = gate.signer.form_token("login", nonce) if gate is not None else ""
    page = _PAGE.format(next=html.escape(safe_next(next_path)), error=shown, csrf=csrf)
    headers = {
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",  # no clickjacking of the form
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    }
    response = HTMLResponse(page, status_code=status, headers=headers)
    if gate is not None:
        response.set_cookie(CSRF_COOKIE, nonce, path="/auth/", httponly=True, samesite="strict")
    return response


async def read_body(request: Request, limit: int) -> bytes | None:
    """The request body, read chunk by chunk; None as soon as it passes ``limit`` bytes."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large() -> JSONResponse:
    message = f"The request body is larger than this route accepts ({LOGIN_BODY_BYTES // 1024} KiB at most)."
    return JSONResponse({"error": message}, status_code=413)


def auth_routes(get_gate: Callable[[], Gate | None]) -> list[BaseRoute]:
    """``/auth/login`` (GET: the form; POST: credentials) and ``/auth/logout``."""

    async def show(request: Request) -> Response:
        return login_page(request.query_params.get("next", "/"), gate=get_gate())

    async def submit(request: Request) -> Response:
        body = await read_body(request, LOGIN_BODY_BYTES)
        if body is None:
            return _too_large()
        as_json = request.headers.get("content-type", "").startswith("application/json")
        try:
            fields = json.loads(body) if as_json else {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        except (ValueError, UnicodeDecodeError, RecursionError):
            fields = None
        gate = get_gate()
        if not isinstance(fields, dict):
            return _refuse(as_json, "/", 400, "Send a name and a password.", gate)
        name, password = str(fields.get("name", ""))[:256], str(fields.get("password", ""))[:1024]
        target = safe_next(str(fields.get("next", "/")))
        if gate is None or gate.settings.auth == "off":
            return _refuse(as_json, target, 404, "Signing in is off on this server (AUTH).", None)
        if not as_json and not gate.signer.form_token_ok(
            "login", request.cookies.get(CSRF_COOKIE, ""), str(fields.get("csrf", ""))
        ):
            return _refuse(
                as_json, target, 403, "The sign-in form expired or came from another site: try again.", gate
            )
        client = client_address(request)
        try:
            principal, cookie = await run_in_threadpool(gate.login, name, password, client)  # argon2: ~50 ms
        except LoginRefused as exc:
            response = _refuse(as_json, target, exc.status, str(exc), gate)
            if exc.retry_after:
                response.headers["Retry-After"] = str(int(exc.retry_after) + 1)
            return response
        response: Response = (
            JSONResponse({"user": principal.name, "role": principal.role})
            if as_json
            else RedirectResponse(target, status_code=303)
        )
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=int(gate.signer.max_age_s),
            path="/",
            httponly=True,
            samesite="lax",
            secure=is_https(request),
        )
        return response

    async def logout(request: Request) -> Response:
        body = await read_body(request, LOGIN_BODY_BYTES)
        if body is None:
            return _too_large()
        cookie = request.cookies.get(COOKIE, "")
        gate = get_gate()
        if cookie and gate is not None:
            try:
                token = {k: v[-1] for k, v in parse_qs(body.decode()).items()}.get("csrf", "")
            except UnicodeDecodeError:
                token = ""
            if not gate.signer.form_token_ok("logout", cookie, token):
                return login_page("/", "Sign out with the dashboard's Sign out button.", 403, gate)
            await run_in_threadpool(gate.logout, cookie)
        response = RedirectResponse("/auth/login", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
        return response

    async def no_get_logout(request: Request) -> Response:
        # A link or an image on another site must not sign anybody out (nor reach Streamlit's own
        # /auth/logout, which would answer a GET otherwise).
        response = login_page("/", "Sign out with the dashboard's Sign out button.", 405, get_gate())
        response.headers["Allow"] = "POST"
        return response

    return [
        Route("/auth/login", show, methods=["GET"]),
        Route("/auth/login", submit, methods=["POST"]),
        Route("/auth/logout", logout, methods=["POST"]),
        Route("/auth/logout", no_get_logout, methods=["GET", "HEAD"]),
    ]


def is_https(request: Request) -> bool:
    """Whether the browser talks HTTPS: directly, or to a TLS proxy on this machine that says so
    (``X-Forwarded-Proto: https``), so that the cookie is ``Secure`` behind the README's nginx."""
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else None
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return proto == "https" and is_loopback(peer)


def client_address(request: Request) -> str:
    """Who is logging in, for the rate limit: the peer, or behind a proxy on this machine the address
    that proxy added last to ``X-Forwarded-For`` (else everybody behind it would share one limit, and
    one attacker could lock every user out)."""
    peer = request.client.host if request.client else "?"
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    if hops and is_loopback(peer):
        return hops[-1][:64]
    return peer


def logout_form(gate: Gate, cookie: str) -> str:
    """The Sign out button: a POST form with the session's CSRF token (for the pages' sidebar)."""
    token = gate.signer.form_token("logout", cookie)
    return (
        '<form method="post" action="/auth/logout" style="margin:0">'
        f'<input type="hidden" name="csrf" value="{token}">'
        '<button type="submit">Sign out</button></form>'
    )


def _refuse(as_json: bool, target: str, status: int, message: str, gate: Gate | None) -> Response:
    if as_json:
        return JSONResponse({"error": message}, status_code=status)
    return login_page(target, message, status, gate)
