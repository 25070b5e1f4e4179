"""History for the pages: cached queries over the store and the tables and charts made of them.

Queries are cached per filter for a couple of seconds; the store itself is never hashed (leading
underscore), its URL stands in for it in the cache key.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import urlencode

import cv2
import numpy as np
import pandas as pd
import streamlit as st

from issc.api import MAX_QUERY_CHARS
from issc.store import PlateFilter, PlateRow, Store
from issc.ui.widgets import base_path

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


def cap_linked_query(key: str = "q") -> None:
    """Cut a search linked in the URL (``?q=``) to :data:`MAX_QUERY_CHARS`, as the API does: each
    piece of a search is one more lookup, so a 60,000-character link must not become thousands."""
    linked = st.query_params.get(key)
    if linked is not None and len(linked) > MAX_QUERY_CHARS:
        st.query_params[key] = linked[:MAX_QUERY_CHARS]
        st.session_state.pop(key, None)
        st.warning(
            f"The search was {len(linked):,} characters long; only its first {MAX_QUERY_CHARS} are used.",
            icon=":material/content_cut:",
        )


DEFAULT_RANGE = "24h"
PAGE_SIZES = (25, 50, 100, 200)
QUERY_TTL_S = 2.0


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


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False, max_entries=256)
def _plate_rows(
    _store: Store, database_url: str, flt: PlateFilter, limit: int, offset: int
) -> list[PlateRow]:
    return _store.search_plates(flt, limit=limit, offset=offset)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False, max_entries=256)
def _plate_count(_store: Store, database_url: str, flt: PlateFilter) -> int:
    return _store.count_plates(flt)


def clear_caches() -> None:
    """Forget cached rows and counts (after a correction, so the table shows it at once)."""
    _plate_rows.clear()
    _plate_count.clear()


def plate_rows(store: Store, flt: PlateFilter, limit: int, offset: int) -> list[PlateRow]:
    """One page of matching plate events, newest first (paged in SQL, cached briefly)."""
    return _plate_rows(store, store.database_url, flt, limit, offset)


def plate_count(store: Store, flt: PlateFilter) -> int:
    """How many plate events match (cached briefly)."""
    return _plate_count(store, store.database_url, flt)


def plates_csv_url(flt: PlateFilter) -> str:
    """The streamed ``/api/plates.csv`` of exactly the matching events (same filter, API form).

    The Plates page links there instead of building the file in the page's process: the route
    streams it page by page from the database, so any history size costs the same memory, and it
    checks the same session cookie as the page.
    """
    return f"{base_path()}/api/plates.csv" + _filter_query(flt)


def plates_evidence_url(flt: PlateFilter) -> str:
    """The streamed ``/api/plates/evidence.zip`` of the matching events (like :func:`plates_csv_url`)."""
    return f"{base_path()}/api/plates/evidence.zip" + _filter_query(flt)


def _filter_query(flt: PlateFilter) -> str:
    """``?q=…&unsure=…`` of a filter in the API's form (empty when nothing is filtered)."""
    params: dict[str, str] = {}
    if flt.q:
        params["q"] = flt.q
    if flt.camera:
        params["camera"] = flt.camera
    if flt.since is not None:
        params["since"] = flt.since.astimezone(UTC).isoformat()
    if flt.until is not None:
        params["until"] = flt.until.astimezone(UTC).isoformat()
    if flt.min_conf:
        params["min_conf"] = f"{flt.min_conf:g}"
    if flt.watchlist_only:
        params["watchlist_only"] = "true"
    if flt.unsure != "exclude":
        params["unsure"] = flt.unsure
    query = urlencode(params)
    return f"?{query}" if query else ""


@st.cache_data(ttl=30, show_spinner=False, max_entries=16)
def _history_cameras(_store: Store, database_url: str, since: datetime) -> list[str]:
    return _store.cameras_since(since)  # the names only: not cameras x 720 hourly rows


def history_cameras(store: Store, days: int = 30) -> list[str]:
    """Cameras with plate events in the last ``days`` days (from the hourly roll-up)."""
    today = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return _history_cameras(store, store.database_url, today - timedelta(days=days))


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False, max_entries=64)
def _hourly(_store: Store, database_url: str, flt: PlateFilter) -> list[tuple[datetime, str, int]]:
    return [(h.hour, h.camera, h.plates) for h in _store.plates_per_hour(flt)]


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False, max_entries=64)
def _people(
    _store: Store, database_url: str, flt: PlateFilter, bucket_minutes: int
) -> list[tuple[datetime, str, int, float]]:
    buckets = _store.people_over_time(flt, bucket_minutes)  # its camera and time window only
    return [(b.start, b.camera, b.max_count, b.mean_count) for b in buckets]


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False, max_entries=64)
def _top(_store: Store, database_url: str, flt: PlateFilter, limit: int) -> list[tuple[str, int, datetime]]:
    return [(p.text, p.plates, p.last_seen) for p in _store.top_plates(flt, limit=limit)]


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
    rows = _people(store, store.database_url, flt, minutes)
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
    """The Plates table: crop thumbnail URL, local time, camera, text, confidence, reads, watchlist,
    review state."""
    return pd.DataFrame(
        {
            "crop": [plate_image_url(r.id) if r.has_crop else None for r in rows],
            "time": pd.to_datetime([r.last_seen for r in rows], utc=True).tz_convert(tz),
            "camera": [r.camera for r in rows],
            "plate": [r.text for r in rows],
            "confidence": [r.confidence for r in rows],
            "reads": [r.reads for r in rows],
            "watchlist": [r.watchlist or "" for r in rows],
            "review": [_review_state(r) for r in rows],
        }
    )


def _review_state(row: PlateRow) -> str:
    if row.unsure:  # below the recognition threshold and nobody confirmed it yet
        return "unsure" + (f" · probably {row.probable}" if row.probable else "")
    if row.corrected:
        return f"corrected (was {row.original_text})"
    if row.confirmed:
        return "confirmed"
    return f"probably {row.probable}" if row.probable else ""


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
        "review": st.column_config.TextColumn(
            "Review",
            help="Unsure (best vote below the recognition threshold: no alert, confirm it on the Review "
            "page), corrected or confirmed by an analyst, or a confirmed plate one edit away",
        ),
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
