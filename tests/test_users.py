"""Users managed on the dashboard: audited changes on real SQLite and PostgreSQL, and the Users page
in a real browser (add a user, sign in as them, remove them)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import requests
import streamlit as st
from conftest import ROOT
from streamlit.testing.v1 import AppTest
from test_auth import accounts, run_cli  # noqa: F401  (the fixture)
from test_browser_auth import sign_in

from issc import service as process
from issc.auth import Accounts, AuthError
from issc.auth.admin import UserAdmin
from issc.store import create_engine
from issc.store.migrate import migrate


def test_every_change_is_audited_and_the_last_admin_stays(accounts: Accounts) -> None:  # noqa: F811
    # Given an admin acting on the page
    accounts.add_user("root", "admin", "root's password")
    admin = UserAdmin(accounts, "root")
    # When they add carol, promote her, reset her password, make a token and revoke it
    first = admin.add_user("carol", "viewer")
    assert accounts.check_password("carol", first) is not None  # the password shown once works
    admin.set_role("carol", "analyst")
    second = admin.reset_password("carol")
    assert second != first and accounts.check_password("carol", first) is None
    assert accounts.check_password("carol", second).role == "analyst"
    token = admin.create_token("grafana", "viewer")
    assert accounts.check_token(token) is not None
    admin.revoke_token("grafana")
    assert accounts.check_token(token) is None
    # Then the last admin can be neither demoted nor removed, nor can one remove oneself
    with pytest.raises(AuthError, match="last admin"):
        admin.set_role("root", "viewer")
    with pytest.raises(AuthError, match="cannot remove yourself"):
        admin.remove_user("root")
    with pytest.raises(AuthError, match="does not exist"):
        admin.remove_user("nobody")
    admin.remove_user("carol")
    assert [u.name for u in admin.users()] == ["root"]
    # and the trail says who did what, newest first, without any secret
    trail = admin.audit()
    assert [(a.actor, a.action, a.target, a.detail) for a in trail] == [
        ("root", "user.remove", "carol", "was analyst"),
        ("root", "token.revoke", "grafana", ""),
        ("root", "token.create", "grafana", "role viewer"),
        ("root", "user.password", "carol", "reset"),
        ("root", "user.role", "carol", "viewer -> analyst"),
        ("root", "user.add", "carol", "role viewer"),
    ]
    assert all(first not in a.detail and second not in a.detail for a in trail)
    assert trail[0].at_ms >= trail[-1].at_ms > 0


def test_a_sign_in_is_noted(accounts: Accounts) -> None:  # noqa: F811
    accounts.add_user("dora", "viewer", "dora's password")
    assert accounts.users()[0].last_login_ms is None
    before = int(time.time() * 1000)
    accounts.note_sign_in("dora")
    assert accounts.users()[0].last_login_ms >= before


def test_an_admin_lists_and_ends_open_sessions_audited(accounts: Accounts) -> None:  # noqa: F811
    # Given root and carol signed in: carol from two browsers
    accounts.add_user("root", "admin", "root's password")
    accounts.add_user("carol", "viewer", "carol's password")
    mine = accounts.open_session("root", 3600, "10.0.0.1")
    laptop = accounts.open_session("carol", 3600, "10.0.0.2")
    phone = accounts.open_session("carol", 3600, "10.0.0.3")
    admin = UserAdmin(accounts, "root")
    assert [(s.user, s.client) for s in admin.sessions()] == [
        ("root", "10.0.0.1"),
        ("carol", "10.0.0.2"),
        ("carol", "10.0.0.3"),
    ]
    assert [s.client for s in admin.sessions("carol")] == ["10.0.0.2", "10.0.0.3"]
    # When the admin ends carol's laptop session, only that browser is signed out
    laptop_id = admin.sessions("carol")[0].id
    assert admin.end_session(laptop_id) == "carol"
    assert accounts.session_user(laptop) is None
    assert accounts.session_user(phone).name == "carol"
    with pytest.raises(AuthError, match="not open"):
        admin.end_session(laptop_id)
    # and then every session of carol: her phone too, the admin's own stays
    assert admin.end_user_sessions("carol") == 1
    assert accounts.session_user(phone) is None
    assert [s.user for s in admin.sessions()] == ["root"] and accounts.session_user(mine).name == "root"
    with pytest.raises(AuthError, match="does not exist"):
        admin.end_user_sessions("nobody")
    # Then the trail says who ended which, and never holds a session token
    trail = admin.audit()
    assert [(a.actor, a.action, a.target, a.detail) for a in trail] == [
        ("root", "session.end_all", "carol", "1 session"),
        ("root", "session.end", "carol", f"session {laptop_id}"),
    ]
    assert all(t not in a.detail for a in trail for t in (mine, laptop, phone))


def test_the_users_page_lists_open_sessions_and_ends_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given carol signed in from two browsers, and an admin on the Users page (AUTH=off: this machine)
    url = f"sqlite:///{tmp_path}/history.db"
    engine = create_engine(url)
    migrate(engine)
    users = Accounts(engine)
    users.add_user("carol", "viewer", "carol's password")
    laptop = users.open_session("carol", 3600, "10.0.0.2")
    phone = users.open_session("carol", 3600, "10.0.0.3")
    for name, value in {"DATABASE_URL": url, "CAMERAS": "demo", "DETECTOR": "none", "AUTH": "off"}.items():
        monkeypatch.setenv(name, value)
    try:
        at = AppTest.from_file(str(ROOT / "pages" / "users.py"), default_timeout=30).run()
        assert not at.exception
        assert "Open sessions (2)" in [h.value for h in at.subheader]
        table = next(df.value for df in at.dataframe if "client" in df.value.columns)
        assert list(zip(table["user"], table["client"], strict=True)) == [
            ("carol", "10.0.0.2"),
            ("carol", "10.0.0.3"),
        ]
        assert all(laptop not in str(v) and phone not in str(v) for v in table.to_numpy().ravel())
        # When the admin picks the laptop's session and ends it
        choice = at.selectbox(key="sessions_choice")
        choice.select(next(o for o in choice.options if "10.0.0.2" in o)).run()
        next(b for b in at.button if b.label == "End this session").click().run()
        assert not at.exception
        # Then that browser is signed out, the phone is not, and the trail says so
        assert users.session_user(laptop) is None and users.session_user(phone).name == "carol"
        assert "Open sessions (1)" in [h.value for h in at.subheader]
        trail = UserAdmin(users, "test").audit()
        assert [(a.action, a.target) for a in trail] == [("session.end", "carol")]
    finally:
        process.stop()
        st.cache_data.clear()
        st.cache_resource.clear()
        engine.dispose()


pytestmark_browser = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Debian's chromium is not installed"
)


@pytest.mark.browser
@pytestmark_browser
def test_add_a_user_sign_in_as_them_and_remove_them(streamlit_server, chromium, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/history.db"
    added = run_cli(
        url, "user", "add", "root", "--role", "admin", "--password-stdin", stdin="root's password\n"
    )
    assert added.returncode == 0, added.stderr
    server = streamlit_server({"CAMERAS": "demo", "DETECTOR": "none", "DATABASE_URL": url, "AUTH": "on"})
    admin_ctx = chromium.new_context(viewport={"width": 1400, "height": 1000})
    carol_ctx = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = admin_ctx.new_page()
        page.goto(server.url + "/users")
        sign_in(page, server.url, "root", "root's password")
        page.get_by_role("heading", name="Users", exact=True).wait_for(timeout=30_000)
        # When the admin adds carol as an analyst, her password is shown once
        form = page.locator('[data-testid="stForm"]').first
        form.get_by_role("textbox", name="User name").fill("carol")
        form.locator('[data-testid="stSelectbox"]').click()
        page.get_by_role("option", name="analyst", exact=True).click()
        form.get_by_role("button", name="Add user").click()
        page.get_by_text("Password of carol").wait_for(timeout=15_000)
        password = page.locator('[data-testid="stCode"] code').first.inner_text().strip()
        assert len(password) >= 12

        # Then carol signs in with it and gets an analyst's pages
        carol = carol_ctx.new_page()
        carol.goto(server.url + "/")
        sign_in(carol, server.url, "carol", password)
        carol.get_by_role("heading", name="Live").wait_for(timeout=30_000)
        nav = carol.locator('[data-testid="stSidebarNav"]')
        nav.get_by_text("Review").wait_for(timeout=10_000)
        assert nav.get_by_text("Users").count() == 0
        assert carol.request.get(server.url + "/api/cameras").status == 200

        # When the admin removes her, her session ends (within the gate's 5 s cache)
        page.reload()
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Change a user").click(timeout=30_000)
        page.get_by_role("option", name="carol", exact=True).click()
        page.get_by_role("button", name="Remove user").click(timeout=30_000)
        page.get_by_text("Removed carol").wait_for(timeout=15_000)
        engine = create_engine(url)
        trail = [(a.actor, a.action, a.target) for a in UserAdmin(Accounts(engine), "test").audit()]
        engine.dispose()
        assert trail == [("root", "user.remove", "carol"), ("root", "user.add", "carol")]
        deadline = time.monotonic() + 10
        while carol.request.get(server.url + "/api/cameras").status != 401 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert carol.request.get(server.url + "/api/cameras").status == 401
        assert requests.get(server.url + "/api/cameras", timeout=10).status_code == 401
    finally:
        admin_ctx.close()
        carol_ctx.close()
