"""Small pieces the pages share: camera status lines and stream tiles, links between pages, the
viewer's time zone, and the watchlist hits this session has not shown yet."""

from __future__ import annotations

import html
import time
from datetime import UTC, tzinfo
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from issc.alerts.alert import Alert
from issc.annotate import format_duration
from issc.engine import Engine
from issc.redact import redact
from issc.service import Service
from issc.types import CameraState, CameraStatus
from issc.ui.navigation import PAGES

#: How long the Live page keeps a banner up after the latest watchlist hit.
ALERT_BANNER_S = 300.0
WATCHLIST_DISTANCES = ("Automatic", 0, 1, 2, 3)

STATE_BADGES = {
    CameraState.ONLINE: ("green", "online"),
    CameraState.CONNECTING: ("orange", "connecting"),
    CameraState.OFFLINE: ("red", "offline"),
}


def base_path() -> str:
    """URL prefix of the server (``server.baseUrlPath``), for links to our own routes."""
    prefix = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{prefix}" if prefix else ""


def status_line(status: CameraStatus) -> str:
    """One markdown line: state badge, fps, latency, drops, detector state."""
    color, label = STATE_BADGES[status.state]
    parts = [f":{color}-badge[{label}]"]
    if status.worker:
        on = "on" if status.state == CameraState.ONLINE else "last on"
        parts.append(f"{on} worker `{status.worker}`")
    if status.state == CameraState.ONLINE:
        parts.append(f"{status.fps:.1f} fps")
        if status.latency_ms is not None:
            parts.append(f"latency {status.latency_ms:.1f} ms")
        parts.append(f"dropped {status.dropped}")
        parts.append(f"detector: {status.detector_state} ({status.detect_fps:.1f}/s)")
    else:
        if status.down_since is not None:
            parts.append(f"down for {format_duration(time.time() - status.down_since)}")
        if status.last_error:
            parts.append(redact(status.last_error))
    return " · ".join(parts)


def ice_configuration(ice_servers: str) -> dict:
    """WebRTC ICE servers from ``ICE_SERVERS``; none by default, so it works offline on localhost/LAN."""
    urls = [u.strip() for u in ice_servers.split(",") if u.strip()]
    return {"iceServers": [{"urls": urls}] if urls else []}


def mjpeg_img(camera_id: str, name: str) -> str:
    """An ``<img>`` showing the camera's MJPEG route: the browser streams it, no reruns needed."""
    src = f"{base_path()}/video_feed/{html.escape(quote(camera_id, safe=''))}/"
    return (
        f'<img src="{src}" alt="{html.escape(name)}" '
        'style="width:100%;aspect-ratio:16/9;object-fit:contain;background:#111;border-radius:6px" />'
    )


def browser_timezone() -> tzinfo:
    """The viewer's time zone as the browser reports it; UTC when unknown."""
    name = st.context.timezone
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


def link_to_page(page_file: str, label: str, icon: str, query: dict[str, str]) -> None:
    """A link to another page of the dashboard with query parameters (its filters).

    ``st.page_link`` keeps the session; where the page is not registered with ``st.navigation``
    (a page run on its own, as in tests) a plain link does the same job with a reload.
    """
    from streamlit.errors import StreamlitPageNotFoundError

    try:
        st.page_link(PAGES / page_file, label=label, icon=icon, query_params=query)
    except StreamlitPageNotFoundError:
        url = f"{base_path()}/{Path(page_file).stem}?{urlencode(query)}"
        st.markdown(f"{icon} [{label}]({url})")


def take_new_alerts(engine: Engine) -> tuple[list[Alert], Alert | None]:
    """Watchlist hits this session has not shown yet, and the latest hit if it is recent.

    The first call in a session only notes where the alerts stand, so older hits do not pop up
    again on every new page load. Without a watchlist (no history store) there are none.
    """
    alerts = engine.alerts(0)
    top = alerts[-1].seq if alerts else 0
    engine_id, seen = st.session_state.get("_issc_alert_seq", (None, None))
    if engine_id != id(engine) or seen is None or seen > top:  # first look, or a new engine
        fresh: list[Alert] = [] if engine_id is None else alerts
    else:
        fresh = [a for a in alerts if a.seq > seen]
    st.session_state["_issc_alert_seq"] = (id(engine), top)
    latest = alerts[-1] if alerts and time.time() - alerts[-1].at < ALERT_BANNER_S else None
    return fresh, latest


def webhook_state(webhook_url: str | None) -> str:
    """How hits reach the webhook, naming only its host (paths and queries may hold secrets)."""
    if not webhook_url:
        return "not POSTed anywhere yet: no webhook is configured (set `WEBHOOK_URL` to POST hits as JSON)."
    host = urlsplit(webhook_url).hostname or "the configured URL"
    return f"POSTed as JSON to the webhook on **{host}** (`WEBHOOK_URL` is set)."


def store_banner(service: Service) -> None:
    """A warning at the top of a page while the history store cannot write (or drops records).

    Pages call it once near the top; it costs one in-memory status read and shows nothing while the
    store writes normally or the history is off.
    """
    store = service.store
    if store is None:
        return
    status = store.status()
    if not status.ok:
        st.warning(f"History: {redact(status.message)}", icon="⚠️")
    elif status.dropped or status.poisoned:
        st.warning(
            f"History: {status.dropped} records dropped (queue full) and {status.poisoned} set aside"
            " (could not be written) since start; see the log.",
            icon="⚠️",
        )
