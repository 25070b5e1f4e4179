"""Live: every camera's annotated picture in a responsive grid, with its health."""

import math

import streamlit as st

from issc.ui import get_engine, mjpeg_img, status_line

engine = get_engine()
st.title("Live")

cameras = list(engine.cameras.values())
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
            st.markdown(f"**{camera.config.name}** · `{camera.config.kind}` · id {camera.config.id}")
            if mode.startswith("Stream"):
                st.markdown(mjpeg_img(camera.config.id, camera.config.name), unsafe_allow_html=True)
            else:

                @st.fragment(run_every=1.0)
                def _snapshot(camera=camera):
                    _, jpeg = camera.current_jpeg()
                    st.image(jpeg, use_container_width=True)

                _snapshot()

            @st.fragment(run_every=1.0)
            def _status(camera=camera):
                st.markdown(status_line(camera.status()))

            _status()
