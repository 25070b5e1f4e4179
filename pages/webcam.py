"""Webcam: the browser's camera through WebRTC, analysed by the same engine as every camera."""

import av
import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from issc.ui import get_engine, ice_configuration, status_line

engine = get_engine()
st.title("Webcam")
st.caption(
    "Your browser's camera, analysed like any other camera: people and plates are detected and plate "
    "events land in the history as camera **webcam**. Nothing leaves this server."
)

camera, push = engine.webcam()


def on_frame(frame: av.VideoFrame) -> av.VideoFrame:
    """Runs in the WebRTC worker thread: hand the frame to the engine, return the annotated one."""
    before = camera.buffer.latest()
    push.push(frame.to_ndarray(format="bgr24"))
    item = camera.buffer.wait_newer(before.frame.frame_id if before else -1, timeout=0.2)
    if item is None:
        return frame
    out = av.VideoFrame.from_ndarray(item.image, format="bgr24")
    out.pts, out.time_base = frame.pts, frame.time_base
    return out


webrtc_streamer(
    key="issc-webcam",
    mode=WebRtcMode.SENDRECV,
    rtc_configuration=ice_configuration(engine.settings.ice_servers),
    media_stream_constraints={"video": True, "audio": False},
    video_frame_callback=on_frame,
    async_processing=True,
)


@st.fragment(run_every=1.0)
def _status() -> None:
    st.markdown(status_line(camera.status()))


_status()
