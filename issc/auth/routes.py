"""The login page (plain HTML, no Streamlit assets), the login form's POST and logout.

``POST /auth/login`` takes the form (``name``, ``password``, ``next``) or JSON (``{"name", "password"}``)
and sets the signed, HttpOnly, SameSite=Lax session cookie; wrong credentials answer 401, too many
failures 429 with ``Retry-After``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from issc.auth.gate import Gate, LoginRefused
from issc.auth.sessions import COOKIE

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
<button type="submit">Sign in</button>
{error}
</form></body></html>"""


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this server only (no ``//host`` or ``https://``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_page(next_path: str = "/", error: str = "", status: int = 200) -> HTMLResponse:
    shown = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    page = _PAGE.format(next=html.escape(safe_next(next_path)), error=shown)
    headers = {
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",  # no clickjacking of the form
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    }
    return HTMLResponse(page, status_code=status, headers=headers)


def auth_routes(get_gate: Callable[[], Gate | None]) -> list[BaseRoute]:
    """``/auth/login`` (GET: the form; POST: credentials) and ``/auth/logout``."""

    async def show(request: Request) -> Response:
        return login_page(request.query_params.get("next", "/"))

    async def submit(request: Request) -> Response:
        body = (await request.body())[:16_384]
        as_json = request.headers.get("content-type", "").startswith("application/json")
        try:
            fields = json.loads(body) if as_json else {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        except (ValueError, UnicodeDecodeError):
            fields = None
        if not isinstance(fields, dict):
            return _refuse(as_json, "/", 400, "Send a name and a password.")
        name, password = str(fields.get("name", "")), str(fields.get("password", ""))
        target = safe_next(str(fields.get("next", "/")))
        gate = get_gate()
        if gate is None or not gate.enforced:
            return _refuse(as_json, target, 404, "Signing in is off on this server (AUTH).")
        client = request.client.host if request.client else "?"
        try:
            principal, cookie = await run_in_threadpool(gate.login, name, password, client)  # argon2: ~50 ms
        except LoginRefused as exc:
            response = _refuse(as_json, target, exc.status, str(exc))
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
            secure=request.url.scheme == "https",
        )
        return response

    async def logout(request: Request) -> Response:
        response = RedirectResponse("/auth/login", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
        return response

    return [
        Route("/auth/login", show, methods=["GET"]),
        Route("/auth/login", submit, methods=["POST"]),
        Route("/auth/logout", logout, methods=["GET", "POST"]),
    ]


def _refuse(as_json: bool, target: str, status: int, message: str) -> Response:
    if as_json:
        return JSONResponse({"error": message}, status_code=status)
    return login_page(target, message, status)
