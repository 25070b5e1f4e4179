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
    """Who this session belongs to: the principal the server's middleware let in (it hands it over in
    a request header it controls), else the session cookie checked here; None when nobody signed in."""
    passed = auth.read_principal_header(st.context.headers.get(auth.PRINCIPAL_HEADER))
    if passed is not None:
        return passed
    try:
        gate = auth.gate_for(process.current())
    except ConfigError:
        return None  # the page shows the error itself (get_service)
    headers = {k.lower(): v for k, v in st.context.headers.items()}
    return gate.identify(headers, dict(st.context.cookies), None)


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
