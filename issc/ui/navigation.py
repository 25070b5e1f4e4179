"""The dashboard's pages and navigation, run by ``app.py``."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from issc.ui import access

PAGES = Path(__file__).resolve().parents[2] / "pages"


def run_dashboard() -> None:
    """Entry of ``app.py``: page config and navigation over the files in ``pages/``."""
    st.set_page_config(page_title="ISSC — camera analytics", page_icon="📹", layout="wide")
    pages = [
        st.Page(PAGES / "live.py", title="Live", icon=":material/videocam:", default=True),
        st.Page(PAGES / "plates.py", title="Plates", icon=":material/directions_car:"),
        st.Page(PAGES / "analytics.py", title="Analytics", icon=":material/insights:"),
    ]
    user = access.current_user()
    if user is None or user.can("analyst"):
        pages.append(st.Page(PAGES / "review.py", title="Review", icon=":material/fact_check:"))
    if user is None or user.can(
        "admin"
    ):  # nobody: the page itself says so (pages run without a server in tests)
        pages += [
            st.Page(PAGES / "tuning.py", title="Tuning", icon=":material/tune:"),
            st.Page(PAGES / "watchlist.py", title="Watchlist", icon=":material/notifications_active:"),
            st.Page(PAGES / "webcam.py", title="Webcam", icon=":material/photo_camera_front:"),
        ]
    if user is not None and user.via == "session":
        st.sidebar.caption(f"Signed in as **{user.name}** ({user.role})")
        st.sidebar.markdown('<a href="/auth/logout" target="_self">Sign out</a>', unsafe_allow_html=True)
    st.navigation(pages).run()
