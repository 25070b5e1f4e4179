"""How pages reach the process's service (``issc.service``): its engine, store and settings, or a
clear configuration error on the page; and who the page's user is (``issc.auth``)."""

from __future__ import annotations

import streamlit as st

from issc import auth
from issc import service as process
from issc.engine import Engine
from issc.errors import ConfigError
from issc.redact import redact
from issc.service import Service
from issc.store import Store


def get_service() -> Service:
    """The running service, or the configuration error on the page (and ``st.stop()``).

    The service is process-wide and started by the server; nothing here re-reads the settings.
    """
    try:
        return process.current()
    except ConfigError as exc:
        st.error(f"**Configuration error.** {redact(str(exc))}", icon=":material/settings_alert:")
        st.info(
            "Fix the value in `.env`, `issc.toml` or the environment, then restart with `make run`. "
            "The README's configuration table lists every setting and its default."
        )
        st.stop()
        raise  # st.stop() raises; this keeps type checkers informed


def get_engine() -> Engine:
    """The running engine's façade (see :func:`get_service`)."""
    return get_service().engine


def history_store(service: Service) -> Store:
    """The service's history store, or an explanation on the page (and ``st.stop()``) when it has none."""
    store = service.store
    if store is None:
        st.info(
            "**The plate history is off in this process**, so there is nothing to search or tune "
            "persistently. Start the dashboard with `make run`: it keeps the history in `DATABASE_URL` "
            "(SQLite `data/issc.db` by default).",
            icon=":material/history_toggle_off:",
        )
        st.stop()
    return store


def current_user() -> auth.Principal | None:
    """Who this session belongs to, as it is now; None when nobody signed in.

    The middleware let the tab's websocket in with a principal (handed over in a request header it
    controls); each rerun checks it again (:meth:`Gate.recheck`, at most 2 s old), so a removed user
    or an ended session is signed out here (a message and ``st.stop()``). A role change ends the user's
    sessions too (they sign in again with the new role); a proxy's user gets the new role at once.
    """
    passed = auth.read_principal_header(st.context.headers.get(auth.PRINCIPAL_HEADER))
    try:
        gate = auth.gate_for(process.current())
    except ConfigError:
        return passed  # the page shows the error itself (get_service)
    headers = {k.lower(): v for k, v in st.context.headers.items()}
    if passed is None:
        found = gate.identify(headers, dict(st.context.cookies), None)
        return found if isinstance(found, auth.Principal) else None
    now = gate.recheck(passed, headers, dict(st.context.cookies))
    if now is None:
        signed_out()
    return now


def signed_out() -> None:
    """This tab's session ended (signed out elsewhere, removed or changed by an admin): say so, stop."""
    st.warning(
        "**You are signed out**: this session has ended. Sign in again to go on.", icon=":material/logout:"
    )
    st.markdown('<a href="/auth/login" target="_self">Sign in</a>', unsafe_allow_html=True)
    st.stop()


def logout_button(user: auth.Principal) -> None:
    """The sidebar's Sign out button (a POST form with the session's CSRF token)."""
    cookie = st.context.cookies.get(auth.COOKIE, "")
    try:
        gate = auth.gate_for(process.current())
    except ConfigError:
        return
    if cookie:
        st.sidebar.html(auth.logout_form(gate, cookie))


def require_role(role: str) -> auth.Principal:
    """The session's user when they have ``role`` (or a stronger one); else a message and ``st.stop()``."""
    get_service()  # a configuration error is shown first
    user = current_user()
    if user is None or not user.can(role):
        who = "Nobody is signed in" if user is None else f"**{user.name}** is a {user.role}"
        st.error(f"{who}, and this page needs the **{role}** role.", icon=":material/lock:")
        st.markdown(
            '<a href="/auth/login" target="_self">Sign in as another user</a>', unsafe_allow_html=True
        )
        st.stop()
        raise RuntimeError("unreachable")  # st.stop() raises
    return user
