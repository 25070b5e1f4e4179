"""Signing in through the login form in a real browser, with ``AUTH=on``: the cookie is HttpOnly, the
Live page and its stream load, and a viewer sees no admin page."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from test_auth import run_cli

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
]


def sign_in(page, url: str, name: str, password: str) -> None:
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")


@pytest.fixture(scope="module")
def auth_on_server(shared_streamlit_server, tmp_path_factory: pytest.TempPathFactory):
    """One ``AUTH=on`` dashboard for the module's tests that keep its configuration; each test adds
    and signs in a user of its own (``add_user``), so what one does to its user touches no other."""
    url = f"sqlite:///{tmp_path_factory.mktemp('auth_on')}/history.db"
    server = shared_streamlit_server(
        {"CAMERAS": "demo", "DETECTOR": "none", "DATABASE_URL": url, "AUTH": "on"}
    )
    return server, url


def add_user(url: str, name: str, role: str) -> str:
    """Add ``name`` with ``role`` through the command line; returns the password."""
    password = f"{name}'s password"
    added = run_cli(url, "user", "add", name, "--role", role, "--password-stdin", stdin=password + "\n")
    assert added.returncode == 0, added.stderr
    return password


@pytest.mark.xdist_group("auth_on_server")  # one worker, so the tests share the server (pytest -n)
@pytest.mark.parametrize(
    ("role", "sees_admin_pages"),
    [("viewer", False), ("admin", True)],
)
def test_login_form_sets_an_httponly_cookie_and_opens_the_live_page(
    auth_on_server, browser_context, role: str, sees_admin_pages: bool
) -> None:
    server, url = auth_on_server
    name = f"vera-{role}"
    password = add_user(url, name, role)
    page = browser_context.new_page()
    # an anonymous visit lands on the login form, which remembers where it was going
    page.goto(server.url + "/")
    assert "/auth/login?next=" in page.url
    sign_in(page, server.url, name, "wrong password")
    page.get_by_role("alert").filter(has_text="Wrong name or password.").wait_for(timeout=10_000)
    sign_in(page, server.url, name, password)
    page.get_by_role("heading", name="Live").wait_for(timeout=30_000)
    cookie = next(c for c in browser_context.cookies() if c["name"] == "issc_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("issc_session") == -1  # scripts cannot read it
    # the live stream is served to the signed-in browser
    assert page.request.get(server.url + "/video_feed/check_cams/").status == 200
    page.get_by_text("Signed in as").wait_for(timeout=10_000)
    nav = page.locator('[data-testid="stSidebarNav"]')
    nav.get_by_text("Plates").wait_for(timeout=10_000)
    assert (nav.get_by_text("Tuning").count() > 0) is sees_admin_pages
    # a deep link to an admin page opens it for an admin only
    page.goto(server.url + "/tuning")
    if sees_admin_pages:
        page.get_by_role("heading", name="Tuning").wait_for(timeout=30_000)
    else:
        page.get_by_role("heading", name="Live").wait_for(timeout=30_000)  # Streamlit falls back to Live
        assert page.get_by_role("heading", name="Tuning").count() == 0
    # signing out (a POST form with a CSRF token) ends the session: the API answers 401 again
    page.goto(server.url + "/")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/auth/login**", timeout=10_000)
    assert page.request.get(server.url + "/api/cameras").status == 401
    # a link elsewhere cannot sign anybody out
    assert page.request.get(server.url + "/auth/logout", max_redirects=0).status == 405


@pytest.mark.xdist_group("auth_on_server")
def test_a_removed_users_open_tab_loses_access_within_5_s(auth_on_server, browser_context) -> None:
    # given a viewer signed in, with the Live page open on its websocket
    server, url = auth_on_server
    password = add_user(url, "vera", "viewer")
    page = browser_context.new_page()
    closed: list[float] = []
    page.on(
        "websocket",
        lambda ws: (
            ws.on("close", lambda _ws: closed.append(time.monotonic()))
            if "/_stcore/stream" in ws.url
            else None
        ),
    )
    page.goto(server.url + "/")
    sign_in(page, server.url, "vera", password)
    page.get_by_role("heading", name="Live").wait_for(timeout=30_000)
    page.get_by_text("Signed in as").wait_for(timeout=10_000)
    assert closed == []
    # when an admin removes her
    removed = run_cli(url, "user", "remove", "vera")
    assert removed.returncode == 0, removed.stderr
    gone_at = time.monotonic()
    # then within 5 s her open websocket is closed, and no new one (nor any route) lets her in
    deadline = gone_at + 5
    while not closed and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert closed, "the removed user's websocket was still open 5 s later"
    assert closed[0] - gone_at < 5
    assert page.request.get(server.url + "/api/cameras").status == 401
    assert page.request.get(server.url + "/video_feed/check_cams/").status == 401
    page.reload()  # and opening the dashboard again lands on the login form
    page.wait_for_url("**/auth/login**", timeout=10_000)


def test_a_demoted_proxy_users_open_tab_loses_the_admin_page(
    streamlit_server, chromium, tmp_path: Path
) -> None:
    # given ana, an admin, signed in by a trusted proxy (the header every request of her browser carries)
    url = f"sqlite:///{tmp_path}/history.db"
    added = run_cli(
        url, "user", "add", "ana", "--role", "admin", "--password-stdin", stdin="ana's password\n"
    )
    assert added.returncode == 0, added.stderr
    server = streamlit_server(
        {
            "CAMERAS": "demo",
            "DETECTOR": "none",
            "DATABASE_URL": url,
            "TRUSTED_PROXY_HEADER": "X-Forwarded-User",
        }
    )
    context = chromium.new_context(extra_http_headers={"X-Forwarded-User": "ana"})
    try:
        page = context.new_page()
        sockets = []  # the page's Streamlit websockets, in the order they opened
        page.on("websocket", lambda ws: sockets.append(ws) if "/_stcore/stream" in ws.url else None)
        page.goto(server.url + "/tuning")
        page.get_by_role("heading", name="Tuning").wait_for(timeout=30_000)
        opened = len(sockets)
        assert opened >= 1 and not sockets[-1].is_closed()
        # when an admin makes her a viewer
        demoted = run_cli(url, "user", "role", "ana", "viewer")
        assert demoted.returncode == 0, demoted.stderr
        # then her websocket is closed and comes back (with her new role) ...
        deadline = time.monotonic() + 15
        while not (sockets[opened - 1].is_closed() and len(sockets) > opened) and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert sockets[opened - 1].is_closed() and len(sockets) > opened, "the websocket did not come back"
        # ... and her open tab's next action, a change on the Tuning page, is not applied: the page
        # checks her again at that rerun
        slider = page.get_by_role("slider").first
        slider.focus()
        slider.press("ArrowRight")
        page.get_by_role("heading", name="Tuning").wait_for(state="detached", timeout=15_000)
        page.get_by_role("heading", name="Live").wait_for(timeout=15_000)
        assert page.request.patch(server.url + "/api/plates/1", data={"confirmed": True}).status == 403
    finally:
        context.close()
