"""Users: who has access, with which role; add, change, reset, remove; API tokens; the audit trail (admin)."""

from datetime import datetime

import pandas as pd
import streamlit as st

from issc.auth import Accounts
from issc.auth.accounts import ROLES, AuthError
from issc.auth.admin import UserAdmin
from issc.ui import access, widgets

admin_user = access.require_role("admin")
service = access.get_service()
st.title("Users")
store = access.history_store(service)
tz = widgets.browser_timezone()


@st.cache_resource
def _accounts(url: str, _engine: object) -> Accounts:
    return Accounts(_engine)  # type: ignore[arg-type]


admin = UserAdmin(_accounts(store.database_url, store.engine), admin_user.name)


def _when(ms: int | None) -> str:
    return "never" if ms is None else datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M")


def _run(change, done: str, secret_label: str | None = None) -> None:
    """Form callback: make the change, keep a secret to show once, or the error."""
    try:
        secret = change()
    except AuthError as exc:
        st.session_state["_users_error"] = str(exc)
        return
    if secret_label is not None:
        st.session_state["_users_secret"] = (secret_label, secret)
    st.toast(done, icon=":material/check:")


st.caption(
    "Every change here is audited (who, when, what). The command line stays: "
    "`python -m issc.auth user …` and `token …` on the server."
)
if shown := st.session_state.pop("_users_secret", None):
    label, secret = shown
    st.success(f"**{label}** (shown once: copy it now):", icon=":material/key:")
    st.code(secret, language=None)
if error := st.session_state.pop("_users_error", None):
    st.error(error, icon=":material/error:")

# --- users --------------------------------------------------------------------------------
users = admin.users()
st.subheader(f"Users ({len(users)})")
st.dataframe(
    pd.DataFrame(
        {
            "name": [u.name for u in users],
            "role": [u.role for u in users],
            "last sign-in": [_when(u.last_login_ms) for u in users],
            "added": [_when(u.created_ms) for u in users],
        }
    ),
    hide_index=True,
    width="stretch",
    key="users_table",
)

with st.form("users_add", border=True):
    st.markdown("**Add a user**")
    name_col, role_col = st.columns([3, 2])
    name_col.text_input("User name", key="users_add_name", max_chars=64, placeholder="carol")
    role_col.selectbox("Role", ROLES, key="users_add_role")
    st.form_submit_button(
        "Add user",
        icon=":material/person_add:",
        type="primary",
        on_click=lambda: _run(
            lambda: admin.add_user(
                st.session_state["users_add_name"].strip(), st.session_state["users_add_role"]
            ),
            f"Added {st.session_state['users_add_name'].strip()}",
            f"Password of {st.session_state['users_add_name'].strip()}",
        ),
    )

names = [u.name for u in users]
chosen = st.selectbox("Change a user", names, index=None, placeholder="Choose a user", key="users_choice")
if chosen is not None and chosen in names:
    current = next(u for u in users if u.name == chosen)
    with st.container(border=True):
        role_col, reset_col, remove_col = st.columns([3, 2, 2], vertical_alignment="bottom")
        role_key = f"users_role_{chosen}"
        role_col.selectbox(f"Role of {chosen}", ROLES, index=ROLES.index(current.role), key=role_key)
        role_col.button(
            "Change role",
            key=f"users_set_role_{chosen}",
            on_click=lambda: _run(
                lambda: admin.set_role(chosen, st.session_state[role_key]),
                f"{chosen} is now {st.session_state[role_key]} (their sessions ended)",
            ),
        )
        reset_col.button(
            "Reset password",
            key=f"users_reset_{chosen}",
            icon=":material/lock_reset:",
            on_click=lambda: _run(
                lambda: admin.reset_password(chosen), "Password reset", f"New password of {chosen}"
            ),
        )
        remove_col.button(
            "Remove user",
            key=f"users_remove_{chosen}",
            icon=":material/person_remove:",
            on_click=lambda: _run(lambda: admin.remove_user(chosen), f"Removed {chosen}"),
        )

# --- sessions -----------------------------------------------------------------------------
sessions = admin.sessions()
st.subheader(f"Open sessions ({len(sessions)})")
st.caption("A browser's sign-in. Ending one signs that browser out; API tokens are listed below.")
if sessions:
    st.dataframe(
        pd.DataFrame(
            {
                "session": [s.id for s in sessions],
                "user": [s.user for s in sessions],
                "client": [s.client or "?" for s in sessions],
                "signed in": [_when(s.created_ms) for s in sessions],
                "last seen": [_when(s.last_seen_ms) for s in sessions],
                "expires": [_when(s.expires_ms) for s in sessions],
            }
        ),
        hide_index=True,
        width="stretch",
        key="sessions_table",
    )
    labels = {f"{s.id}: {s.user} from {s.client or '?'}": s for s in sessions}
    picked = st.selectbox(
        "End a session", list(labels), index=None, placeholder="Choose a session", key="sessions_choice"
    )
    if picked is not None and picked in labels:
        session = labels[picked]
        one_col, all_col = st.columns(2)
        one_col.button(
            "End this session",
            key=f"sessions_end_{session.id}",
            icon=":material/logout:",
            on_click=lambda: _run(
                lambda: admin.end_session(session.id), f"Ended session {session.id} of {session.user}"
            ),
        )
        all_col.button(
            f"End every session of {session.user}",
            key=f"sessions_end_all_{session.user}",
            icon=":material/logout:",
            on_click=lambda: _run(
                lambda: admin.end_user_sessions(session.user), f"Ended the sessions of {session.user}"
            ),
        )
else:
    st.caption("No one is signed in with a browser (or sign-in is off).")

# --- tokens -------------------------------------------------------------------------------
tokens = admin.tokens()
st.subheader(f"API tokens ({len(tokens)})")
if tokens:
    st.dataframe(
        pd.DataFrame(
            {
                "name": [t.name for t in tokens],
                "role": [t.role for t in tokens],
                "created": [_when(t.created_ms) for t in tokens],
                "last used": [_when(t.last_used_ms) for t in tokens],
            }
        ),
        hide_index=True,
        width="stretch",
    )
with st.form("tokens_add", border=True):
    name_col, role_col = st.columns([3, 2])
    name_col.text_input("Token name", key="tokens_add_name", max_chars=64, placeholder="prometheus")
    role_col.selectbox("Role", ROLES, key="tokens_add_role")
    st.form_submit_button(
        "Create token",
        icon=":material/key:",
        on_click=lambda: _run(
            lambda: admin.create_token(
                st.session_state["tokens_add_name"].strip(), st.session_state["tokens_add_role"]
            ),
            "Token created",
            f"Token {st.session_state['tokens_add_name'].strip()}",
        ),
    )
if tokens:
    revoke = st.selectbox("Revoke a token", [t.name for t in tokens], index=None, key="tokens_revoke")
    if revoke is not None:
        st.button(
            f"Revoke {revoke}",
            icon=":material/key_off:",
            on_click=lambda: _run(lambda: admin.revoke_token(revoke), f"Revoked {revoke}"),
        )

# --- audit --------------------------------------------------------------------------------
st.subheader("Audit trail")
trail = admin.audit()
if not trail:
    st.caption("No change made on this page yet.")
else:
    st.dataframe(
        pd.DataFrame(
            {
                "when": [_when(a.at_ms) for a in trail],
                "who": [a.actor for a in trail],
                "what": [a.action for a in trail],
                "target": [a.target for a in trail],
                "detail": [a.detail for a in trail],
            }
        ),
        hide_index=True,
        width="stretch",
        key="users_audit",
    )
