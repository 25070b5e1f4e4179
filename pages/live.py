"""Live: every camera's annotated picture in a responsive grid, with its health."""

import math
import time

import streamlit as st

from issc.annotate import format_duration
from issc.ui.access import current_user, get_service
from issc.ui.widgets import (
    ALERT_BANNER_S,
    link_to_page,
    mjpeg_img,
    status_line,
    store_banner,
    take_new_alerts,
)

service = get_service()
engine = service.engine
user = current_user()
is_admin = user is not None and user.can("admin")
st.title("Live")
store_banner(service)


@st.fragment(run_every=2.0)
def _watchlist_alerts() -> None:
    """A toast per new watchlist hit, and a banner while the latest hit is recent."""
    fresh, latest = take_new_alerts(engine)
    for alert in fresh[-5:]:  # a burst shows its newest few; the banner and the Plates page have all
        event = alert.event
        st.toast(f"Watchlist hit: **{event.text}** ({event.watchlist}) on {event.camera}", icon="🚨")
    if latest is not None:
        event = latest.event
        ago = format_duration(time.time() - latest.at)
        with st.container(horizontal=True, vertical_alignment="center"):
            st.warning(
                f"**Watchlist hit: {event.text}** ({event.watchlist}) on {event.camera}, {ago} ago "
                f"(banner shown for {ALERT_BANNER_S / 60:.0f} minutes).",
                icon=":material/notifications_active:",
            )
            link_to_page("plates.py", "Watchlist hits", ":material/directions_car:", {"watchlist": "true"})


_watchlist_alerts()

cameras = engine.configs()
if service.settings.cluster.engine == "remote":
    workers = engine.workers()
    lines = [f"- `{w.id}`: {len(w.cameras)} running, {len(w.standby)} standby" for w in workers]
    st.sidebar.markdown(
        "**Live workers**\n" + ("\n".join(lines) if lines else "\nnone: start `python -m issc.worker`")
    )
    if not cameras:
        st.info(
            "No worker has registered a camera yet (ENGINE=remote): start a worker with the same "
            "DATABASE_URL and WORKER_TOKEN (see docs/deploy.md).",
            icon=":material/info:",
        )
per_row = st.sidebar.slider("Tiles per row", 1, 4, min(len(cameras), 3) or 1, key="live_per_row")
mode = st.sidebar.radio(
    "Picture",
    ["Stream (MJPEG)", "Snapshots (1/s)"],
    key="live_mode",
    help="Stream: the browser plays each camera's MJPEG route. Snapshots: a still refreshed every second, "
    "lighter on slow links.",
)

for row in range(math.ceil(len(cameras) / per_row)):
    columns = st.columns(per_row)
    for column, camera in zip(columns, cameras[row * per_row : (row + 1) * per_row], strict=False):
        with column, st.container(border=True):
            st.markdown(f"**{camera.name}** · `{camera.kind}` · id {camera.id}")
            if mode.startswith("Stream"):
                st.markdown(mjpeg_img(camera.id, camera.name), unsafe_allow_html=True)
            else:

                @st.fragment(run_every=1.0)
                def _snapshot(camera=camera):
                    _, jpeg = engine.current_jpeg(camera.id)
                    st.image(jpeg, use_container_width=True)

                _snapshot()

            @st.fragment(run_every=1.0)
            def _status(camera=camera):
                status = engine.status_of(camera.id)
                st.markdown(status_line(status))
                stuck = status.detector_state.startswith(("stopped", "backing off"))
                if (
                    stuck
                    and is_admin
                    and status.worker is None
                    and st.button("Retry detector", key=f"retry_{camera.id}")
                ):
                    engine.retry_detector(camera.id)  # with the next frame: a fixed key or plan is found
                    st.toast(f"{camera.name}: the detector is tried again", icon=":material/refresh:")

            _status()
