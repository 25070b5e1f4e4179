"""The dashboard's pages and navigation, run by ``app.py``."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from issc.ui import access

PAGES = Path(__file__).resolve().parents[2] / "pages"

#: Each page's own path (``/live``, ``/plates``, …): a typed or shared URL opens its page directly.
#: The Live page is also the app's root (``/``); Streamlit serves a default page only at the root,
#: so ``/live`` is a hidden second entry for the same script.
URL_PATHS = {
    "live": "live",
    "plates": "plates",
    "analytics": "analytics",
    "review": "review",
    "tuning": "tuning",
    "cameras": "cameras",
    "users": "users",
    "watchlist": "watchlist",
    "webcam": "webcam",
}


def _page(name: str, title: str, icon: str, **kwargs: object) -> st.Page:
    return st.Page(PAGES / f"{name}.py", title=title, icon=icon, url_path=URL_PATHS[name], **kwargs)  # type: ignore[arg-type]


def run_dashboard() -> None:
    """Entry of ``app.py``: page config and navigation over the files in ``pages/``."""
    st.set_page_config(page_title="ISSC — camera analytics", page_icon="📹", layout="wide")
    live_icon = ":material/videocam:"
    pages = [
        st.Page(PAGES / "live.py", title="Live", icon=live_icon, url_path="", default=True),
        _page("live", "Live", live_icon, visibility="hidden"),
        _page("plates", "Plates", ":material/directions_car:"),
        _page("analytics", "Analytics", ":material/insights:"),
    ]
    user = access.current_user()
    if user is None or user.can("analyst"):
        pages.append(_page("review", "Review", ":material/fact_check:"))
    if user is None or user.can(
        "admin"
    ):  # nobody: the page itself says so (pages run without a server in tests)
        pages += [
            _page("tuning", "Tuning", ":material/tune:"),
            _page("cameras", "Cameras", ":material/video_settings:"),
            _page("users", "Users", ":material/group:"),
            _page("watchlist", "Watchlist", ":material/notifications_active:"),
            _page("webcam", "Webcam", ":material/photo_camera_front:"),
        ]
    if user is not None and user.via == "session":
        st.sidebar.caption(f"Signed in as **{user.name}** ({user.role})")
        access.logout_button(user)
    st.navigation(pages).run()
