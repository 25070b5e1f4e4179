"""The one module of the library that imports Streamlit: cached engine, shared widgets, navigation."""

from __future__ import annotations

import html
from pathlib import Path

import streamlit as st

from issc.annotate import format_duration
from issc.engine import Engine
from issc.errors import ConfigError
from issc.server import engine_or_error
from issc.types import CameraState, CameraStatus

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "pages"


def run_dashboard() -> None:
    """Entry of ``app.py``: page config and navigation over the files in ``pages/``."""
    st.set_page_config(page_title="ISSC — camera analytics", page_icon="📹", layout="wide")
    pages = [
        st.Page(PAGES / "live.py", title="Live", icon=":material/videocam:", default=True),
        st.Page(PAGES / "webcam.py", title="Webcam", icon=":material/photo_camera_front:"),
    ]
    st.navigation(pages).run()


@st.cache_resource(show_spinner="Starting cameras…")
def _cached_engine() -> Engine:
    # The engine itself is process-wide (issc.engine.shared_engine): clearing this cache or
    # reloading a module finds the same running engine instead of starting more threads.
    return engine_or_error()


def get_engine() -> Engine:
    """The running engine, or a clear configuration error on the page (and ``st.stop()``)."""
    try:
        engine = _cached_engine()
        if not engine.running:
            _cached_engine.clear()
            engine = _cached_engine()
    except ConfigError as exc:
        st.error(f"**Configuration error.** {exc}", icon=":material/settings_alert:")
        st.info(
            "Fix the value in `.env`, `issc.toml` or the environment, then restart with `make run`. "
            "The README's configuration table lists every setting and its default."
        )
        st.stop()
    return engine


def base_path() -> str:
    """URL prefix of the server (``server.baseUrlPath``), for links to our own routes."""
    prefix = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{prefix}" if prefix else ""


STATE_BADGES = {
    CameraState.ONLINE: ("green", "online"),
    CameraState.CONNECTING: ("orange", "connecting"),
    CameraState.OFFLINE: ("red", "offline"),
}


def status_line(status: CameraStatus) -> str:
    """One markdown line: state badge, fps, latency, drops, detector state."""
    color, label = STATE_BADGES[status.state]
    parts = [f":{color}-badge[{label}]"]
    if status.state == CameraState.ONLINE:
        parts.append(f"{status.fps:.1f} fps")
        if status.latency_ms is not None:
            parts.append(f"latency {status.latency_ms:.1f} ms")
        parts.append(f"dropped {status.dropped}")
        parts.append(f"detector: {status.detector_state} ({status.detect_fps:.1f}/s)")
    else:
        if status.down_since is not None:
            import time

            parts.append(f"down for {format_duration(time.time() - status.down_since)}")
        if status.last_error:
            parts.append(status.last_error)
    return " · ".join(parts)


def ice_configuration(ice_servers: str) -> dict:
    """WebRTC ICE servers from ``ICE_SERVERS``; none by default, so it works offline on localhost/LAN."""
    urls = [u.strip() for u in ice_servers.split(",") if u.strip()]
    return {"iceServers": [{"urls": urls}] if urls else []}


def mjpeg_img(camera_id: str, name: str) -> str:
    """An ``<img>`` showing the camera's MJPEG route: the browser streams it, no reruns needed."""
    src = f"{base_path()}/video_feed/{html.escape(camera_id)}/"
    return (
        f'<img src="{src}" alt="{html.escape(name)}" '
        'style="width:100%;aspect-ratio:16/9;object-fit:contain;background:#111;border-radius:6px" />'
    )
