"""The one module of the library that imports Streamlit: cached engine, shared widgets, navigation."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import cv2
import numpy as np
import pandas as pd
import streamlit as st

from issc.alerts import Alert
from issc.annotate import FrameAnnotator, format_duration
from issc.config import Settings
from issc.detect import Detector
from issc.engine import Engine
from issc.errors import ConfigError
from issc.plates.text import normalize
from issc.server import engine_or_error
from issc.service import build_detector
from issc.store import PlateFilter, PlateRow, Store
from issc.types import CameraState, CameraStatus, Frame, Tuning

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "pages"


def run_dashboard() -> None:
    """Entry of ``app.py``: page config and navigation over the files in ``pages/``."""
    st.set_page_config(page_title="ISSC — camera analytics", page_icon="📹", layout="wide")
    pages = [
        st.Page(PAGES / "live.py", title="Live", icon=":material/videocam:", default=True),
        st.Page(PAGES / "plates.py", title="Plates", icon=":material/directions_car:"),
        st.Page(PAGES / "tuning.py", title="Tuning", icon=":material/tune:"),
        st.Page(PAGES / "watchlist.py", title="Watchlist", icon=":material/notifications_active:"),
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


# ==========================================================================================
# History pages (Plates, Tuning, Watchlist) and the Live page's watchlist alerts.
# Queries are cached per filter for a couple of seconds; the store itself is never hashed
# (leading underscore), its URL stands in for it in the cache key.
# ==========================================================================================

#: Time-range presets of the Plates page: span back from now (``None``: no lower bound).
RANGE_PRESETS: dict[str, timedelta | None] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "All": None,
    "Custom": None,
}
CUSTOM_RANGE = "Custom"
DEFAULT_RANGE = "24h"
PAGE_SIZES = (25, 50, 100, 200)
QUERY_TTL_S = 2.0
#: How long the Live page keeps a banner up after the latest watchlist hit.
ALERT_BANNER_S = 300.0


def history_store(engine: Engine) -> Store:
    """The engine's history store, or an explanation on the page (and ``st.stop()``) when it has none."""
    store = engine.history
    if store is None:
        st.info(
            "**The plate history is off in this process**, so there is nothing to search or tune "
            "persistently. Start the dashboard with `make run`: it keeps the history in `DATABASE_URL` "
            "(SQLite `data/issc.db` by default).",
            icon=":material/history_toggle_off:",
        )
        st.stop()
    return store


def browser_timezone() -> tzinfo:
    """The viewer's time zone as the browser reports it; UTC when unknown."""
    name = st.context.timezone
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


def time_window(
    preset: str,
    custom_since: datetime | None,
    custom_until: datetime | None,
    tz: tzinfo,
    now: datetime | None = None,
) -> tuple[datetime | None, datetime | None]:
    """``(since, until)`` in UTC for a range preset, or the custom local times of the date inputs.

    Preset windows start at ``now`` floored to 10 s, so reruns within those seconds share cached
    queries; they have no upper bound (new plates appear as they are stored).
    """
    if preset == CUSTOM_RANGE:

        def aware(value: datetime | None) -> datetime | None:
            if value is None:
                return None
            local = value.replace(tzinfo=tz) if value.tzinfo is None else value
            return local.astimezone(UTC)

        return aware(custom_since), aware(custom_until)
    span = RANGE_PRESETS.get(preset)
    if span is None:
        return None, None
    now = now or datetime.now(UTC)
    floored = now - timedelta(seconds=now.second % 10, microseconds=now.microsecond)
    return floored - span, None


def filter_kwargs(flt: PlateFilter) -> dict[str, Any]:
    """The filter as keyword arguments of the store's query methods."""
    return {f.name: getattr(flt, f.name) for f in fields(PlateFilter)}


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False, max_entries=256)
def _plate_rows(
    _store: Store, database_url: str, flt: PlateFilter, limit: int, offset: int
) -> list[PlateRow]:
    return _store.search_plates(**filter_kwargs(flt), limit=limit, offset=offset)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False, max_entries=256)
def _plate_count(_store: Store, database_url: str, flt: PlateFilter) -> int:
    return _store.count_plates(**filter_kwargs(flt))


def plate_rows(store: Store, flt: PlateFilter, limit: int, offset: int) -> list[PlateRow]:
    """One page of matching plate events, newest first (paged in SQL, cached briefly)."""
    return _plate_rows(store, store.database_url, flt, limit, offset)


def plate_count(store: Store, flt: PlateFilter) -> int:
    """How many plate events match (cached briefly)."""
    return _plate_count(store, store.database_url, flt)


def plates_csv(store: Store, flt: PlateFilter) -> str:
    """CSV of exactly the matching events (header first), for the download button."""
    return "".join(store.iter_plates_csv(**filter_kwargs(flt)))


@st.cache_data(ttl=30, show_spinner=False, max_entries=16)
def _history_cameras(_store: Store, database_url: str, since: datetime) -> list[str]:
    return sorted({h.camera for h in _store.plates_per_hour(since=since)})


def history_cameras(store: Store, days: int = 30) -> list[str]:
    """Cameras with plate events in the last ``days`` days (from the hourly roll-up)."""
    today = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return _history_cameras(store, store.database_url, today - timedelta(days=days))


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False, max_entries=64)
def _hourly(_store: Store, database_url: str, flt: PlateFilter) -> list[tuple[datetime, str, int]]:
    return [(h.hour, h.camera, h.plates) for h in _store.plates_per_hour(**filter_kwargs(flt))]


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False, max_entries=64)
def _people(
    _store: Store,
    database_url: str,
    camera: str | None,
    since: datetime | None,
    until: datetime | None,
    bucket_minutes: int,
) -> list[tuple[datetime, str, int, float]]:
    buckets = _store.people_over_time(camera, since, until, bucket_minutes=bucket_minutes)
    return [(b.start, b.camera, b.max_count, b.mean_count) for b in buckets]


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False, max_entries=64)
def _top(_store: Store, database_url: str, flt: PlateFilter, limit: int) -> list[tuple[str, int, datetime]]:
    return [(p.text, p.plates, p.last_seen) for p in _store.top_plates(**filter_kwargs(flt), limit=limit)]


def plates_per_hour_frame(store: Store, flt: PlateFilter, tz: tzinfo) -> pd.DataFrame:
    """Columns ``hour`` (local), ``camera``, ``plates``: one row per camera and hour with plates."""
    rows = _hourly(store, store.database_url, flt)
    return pd.DataFrame(
        {
            "hour": pd.to_datetime([r[0] for r in rows], utc=True).tz_convert(tz),
            "camera": [r[1] for r in rows],
            "plates": [r[2] for r in rows],
        }
    )


def people_bucket_minutes(since: datetime | None, until: datetime | None) -> int:
    """A bucket size that gives a readable number of points for the window."""
    if since is None:
        return 60
    span = (until or datetime.now(UTC)) - since
    if span <= timedelta(hours=2):
        return 5
    if span <= timedelta(days=2):
        return 15
    return 60


def people_frame(store: Store, flt: PlateFilter, tz: tzinfo) -> pd.DataFrame:
    """Columns ``time`` (local bucket start), ``camera``, ``peak``, ``mean``: people per camera."""
    minutes = people_bucket_minutes(flt.since, flt.until)
    rows = _people(store, store.database_url, flt.camera, flt.since, flt.until, minutes)
    return pd.DataFrame(
        {
            "time": pd.to_datetime([r[0] for r in rows], utc=True).tz_convert(tz),
            "camera": [r[1] for r in rows],
            "peak": [r[2] for r in rows],
            "mean": [round(r[3], 2) for r in rows],
        }
    )


def top_plates_frame(store: Store, flt: PlateFilter, limit: int = 10) -> pd.DataFrame:
    """Columns ``plate``, ``seen``, ``last_seen``: the most frequent plate texts among the matches."""
    rows = _top(store, store.database_url, flt, limit)
    return pd.DataFrame(
        {"plate": [r[0] for r in rows], "seen": [r[1] for r in rows], "last_seen": [r[2] for r in rows]}
    )


@st.cache_data(ttl=600, show_spinner=False, max_entries=64)
def _image(_store: Store, database_url: str, event_id: int, kind: str) -> bytes | None:
    return _store.plate_image(event_id, kind)  # type: ignore[arg-type]


def stored_image(store: Store, event_id: int, kind: str) -> bytes | None:
    """The crop or snapshot JPEG of an event (images never change: cached for minutes)."""
    return _image(store, store.database_url, event_id, kind)


def plate_image_url(event_id: int, kind: str = "crop") -> str:
    """URL of a stored image on our own JSON/image routes (``issc.api``)."""
    return f"{base_path()}/api/plates/{event_id}/{kind}.jpg"


def plates_table(rows: list[PlateRow], tz: tzinfo) -> pd.DataFrame:
    """The Plates table: crop thumbnail URL, local time, camera, text, confidence, reads, watchlist."""
    return pd.DataFrame(
        {
            "crop": [plate_image_url(r.id) if r.has_crop else None for r in rows],
            "time": pd.to_datetime([r.last_seen for r in rows], utc=True).tz_convert(tz),
            "camera": [r.camera for r in rows],
            "plate": [r.text for r in rows],
            "confidence": [r.confidence for r in rows],
            "reads": [r.reads for r in rows],
            "watchlist": [r.watchlist or "" for r in rows],
        }
    )


def plates_column_config() -> dict[str, Any]:
    """Column settings of :func:`plates_table` for ``st.dataframe``."""
    return {
        "crop": st.column_config.ImageColumn("Plate", width=150, help="Best crop of the pass"),
        "time": st.column_config.DatetimeColumn("Last seen", format="YYYY-MM-DD HH:mm:ss"),
        "camera": st.column_config.TextColumn("Camera"),
        "plate": st.column_config.TextColumn("Text"),
        "confidence": st.column_config.ProgressColumn(
            "Confidence", format="%.2f", min_value=0.0, max_value=1.0, help="Voted OCR confidence"
        ),
        "reads": st.column_config.NumberColumn("Reads", format="%d", help="OCR reads that agreed"),
        "watchlist": st.column_config.TextColumn("Watchlist", help="Label of the matching watchlist entry"),
    }


def snapshot_with_box(jpeg: bytes, box: tuple[int, int, int, int]) -> np.ndarray | None:
    """The snapshot (BGR) with the plate's box drawn in amber; ``None`` if it cannot be decoded."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return None
    thickness = max(2, round(max(image.shape[:2]) / 400))
    x1, y1, x2, y2 = box
    cv2.rectangle(image, (x1, y1), (x2, y2), (0, 176, 255), thickness, cv2.LINE_AA)
    return image


# --- tuning --------------------------------------------------------------------------------


@st.cache_resource(show_spinner="Loading the detector for previews…")
def _preview_detector(detector_key: str, _settings: Settings) -> Detector:
    return build_detector(_settings)


def detector_key(settings: Settings) -> str:
    """What identifies the configured detector (no secrets: the API key is left out)."""
    keys = ("detector_kind", "api_url", "human_model", "plate_model", "onnx_model", "onnx_classes")
    return "|".join(str(getattr(settings, k)) for k in keys)


def preview_detector(engine: Engine) -> Detector:
    """One detector for previews, built once per configuration (models load once)."""
    return _preview_detector(detector_key(engine.settings), engine.settings)


@dataclass(frozen=True)
class PreviewResult:
    """One picture analysed with one tuning: the annotated copy and what was found."""

    image: np.ndarray  # annotated, BGR
    people: int
    plates: tuple[str, ...]  # "LS15EBC 0.93", or "unread 0.41" for plates without text yet
    seconds: float


@st.cache_data(ttl=600, max_entries=16, show_spinner="Analysing the picture…")
def _preview(_detector: Detector, key: str, image: np.ndarray, tuning: Tuning) -> PreviewResult:
    from issc.detect.base import PERSON, PLATE
    from issc.plates.pipeline import PlateAnalyzer

    started = time.perf_counter()
    frame = Frame(image, 0, "preview", time.time(), time.monotonic())
    dets = PlateAnalyzer(_detector, "preview", tuning).analyze(frame).detections
    texts = dets.data.get("plate_text")
    plates = []
    for i in np.flatnonzero(dets.class_id == PLATE):
        text = str(texts[i]) if texts is not None and texts[i] else "unread"
        plates.append(f"{text} {float(dets.confidence[i]):.2f}")
    return PreviewResult(
        image=FrameAnnotator().annotate(image, dets),
        people=int(np.count_nonzero(dets.class_id == PERSON)),
        plates=tuple(plates),
        seconds=time.perf_counter() - started,
    )


def preview(engine: Engine, image: np.ndarray, tuning: Tuning) -> PreviewResult:
    """Detect, track and read plates in one picture with ``tuning``, as the cameras would."""
    return _preview(preview_detector(engine), detector_key(engine.settings), image, tuning)


# --- watchlist -----------------------------------------------------------------------------

WATCHLIST_DISTANCES = ("Automatic", 0, 1, 2, 3)


def watchlist_plate(text: str) -> str:
    """The plate as the watchlist stores it (A-Z, 0-9).

    Raises:
        ValueError: one sentence when nothing usable is left.
    """
    plate = normalize(text)
    if not plate:
        raise ValueError(
            f"“{text.strip()}” has no letters or digits: enter the plate as written, e.g. LS15 EBC."
            if text.strip()
            else "Enter a plate, e.g. LS15 EBC."
        )
    return plate


def webhook_state(settings: Settings) -> str:
    """How hits reach the webhook, naming only its host (paths and queries may hold secrets)."""
    if not settings.webhook_url:
        return "not POSTed anywhere yet: no webhook is configured (set `WEBHOOK_URL` to POST hits as JSON)."
    host = urlsplit(settings.webhook_url).hostname or "the configured URL"
    return f"POSTed as JSON to the webhook on **{host}** (`WEBHOOK_URL` is set)."


def take_new_alerts(engine: Engine) -> tuple[list[Alert], Alert | None]:
    """Watchlist hits this session has not shown yet, and the latest hit if it is recent.

    The first call in a session only notes where the alerts stand, so older hits do not pop up
    again on every new page load. Sinks without alerts (``MemorySink``) give nothing.
    """
    alerts_after = getattr(engine.sink, "alerts_after", None)
    if not callable(alerts_after):
        return [], None
    alerts: list[Alert] = alerts_after(0)
    top = alerts[-1].seq if alerts else 0
    sink_id, seen = st.session_state.get("_issc_alert_seq", (None, None))
    if sink_id != id(engine.sink) or seen is None or seen > top:  # first look, or a new engine
        fresh: list[Alert] = [] if sink_id is None else alerts
    else:
        fresh = [a for a in alerts if a.seq > seen]
    st.session_state["_issc_alert_seq"] = (id(engine.sink), top)
    latest = alerts[-1] if alerts and time.time() - alerts[-1].at < ALERT_BANNER_S else None
    return fresh, latest


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
