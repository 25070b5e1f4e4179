"""Webcam: the browser's camera through WebRTC, analysed by the same engine as every camera."""

import av
import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from issc.engine import WEBCAM_ID
from issc.ui.access import get_service, require_role
from issc.ui.widgets import ice_configuration, status_line

require_role("admin")
service = get_service()
engine = service.engine
st.title("Webcam")
if service.settings.cluster.engine == "remote":
    st.info(
        "This dashboard runs with **ENGINE=remote**: it shows the cameras of the workers and runs none "
        "itself, so it cannot analyse your browser's camera. Open the Webcam page of a dashboard with "
        "ENGINE=local (the default) for that.",
        icon=":material/info:",
    )
    st.stop()
st.caption(
    "Your browser's camera, analysed like any other camera: people and plates are detected and plate "
    "events land in the history as camera **webcam**. Nothing leaves this server."
)


def on_frame(frame: av.VideoFrame) -> av.VideoFrame:
    """Runs in the WebRTC worker thread: hand the frame to the engine, return the annotated one."""
    before = engine.push_webcam_frame(frame.to_ndarray(format="bgr24"))
    item = engine.wait_newer(WEBCAM_ID, before, timeout=0.2)
    if item is None:
        return frame
    out = av.VideoFrame.from_ndarray(item.image, format="bgr24")
    out.pts, out.time_base = frame.pts, frame.time_base
    return out


webrtc_streamer(
    key="issc-webcam",
    mode=WebRtcMode.SENDRECV,
    rtc_configuration=ice_configuration(service.settings.web.ice_servers),
    media_stream_constraints={"video": True, "audio": False},
    video_frame_callback=on_frame,
    async_processing=True,
)


@st.fragment(run_every=1.0)
def _status() -> None:
    if WEBCAM_ID in {c.id for c in engine.configs()}:
        st.markdown(status_line(engine.status_of(WEBCAM_ID)))
    else:
        st.caption("Waiting for the first frame from your browser.")


_status()
