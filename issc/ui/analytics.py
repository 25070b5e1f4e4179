"""Analytics for the pages: the reports of ``issc.store.analytics`` as tables and time charts.

Every chart draws bars from the start to the end of their hour on a time axis spanning the chosen
range, so one hour reads as a bar an hour wide at 1 h, 24 h and 30 days alike.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import altair as alt
import cv2
import numpy as np
import pandas as pd
import streamlit as st

from issc.analytics import ShapeError, parse_shapes, shapes_json
from issc.config import AnalyticsSettings
from issc.store import Store

RANGES: dict[str, timedelta] = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "30d": timedelta(days=30)}
QUERY_TTL_S = 5.0


def _local(iso: str, tz: tzinfo) -> datetime:
    return datetime.fromisoformat(iso).astimezone(tz).replace(tzinfo=None)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def reports(_store: Store, url: str, camera: str | None, since: datetime) -> dict[str, Any]:
    """The zone, line, people and direction reports of one camera since ``since`` (cached a few seconds)."""
    return {
        "zones": _store.zone_report(camera, since=since),
        "lines": _store.line_report(camera, since=since),
        "people": _store.people_report(camera, since=since),
        "directions": _store.direction_report(camera, since=since),
    }


def lines_frame(report: dict[str, Any], tz: tzinfo) -> pd.DataFrame:
    """In/out per line and hour: ``hour, end, line, direction, count`` (long form for the chart)."""
    rows = []
    for line in report["lines"]:
        for h in line["hours"]:
            start = _local(h["hour"], tz)
            for direction in ("in", "out"):
                rows.append(
                    {
                        "hour": start,
                        "end": start + timedelta(hours=1),
                        "camera": line["camera"],
                        "line": line["name"],
                        "direction": direction,
                        "count": h[direction],
                    }
                )
    return pd.DataFrame(rows, columns=["hour", "end", "camera", "line", "direction", "count"])


def occupancy_frame(report: dict[str, Any], tz: tzinfo) -> pd.DataFrame:
    """Peak occupancy and entries per zone and hour."""
    rows = [
        {
            "hour": _local(o["hour"], tz),
            "end": _local(o["hour"], tz) + timedelta(hours=1),
            "camera": z["camera"],
            "zone": z["name"],
            "max_occupancy": o["max"],
            "entries": o["entries"],
        }
        for z in report["zones"]
        for o in z["occupancy"]
    ]
    return pd.DataFrame(rows, columns=["hour", "end", "camera", "zone", "max_occupancy", "entries"])


def visits_frame(report: dict[str, Any], tz: tzinfo) -> pd.DataFrame:
    """Every listed zone visit: ``camera, zone, start, end, dwell_s``."""
    rows = [
        {
            "camera": z["camera"],
            "zone": z["name"],
            "start": _local(v["start"], tz),
            "end": _local(v["end"], tz),
            "dwell_s": v["dwell_s"],
        }
        for z in report["zones"]
        for v in z["visits"]
    ]
    return pd.DataFrame(rows, columns=["camera", "zone", "start", "end", "dwell_s"])


def people_frame(report: dict[str, Any], tz: tzinfo) -> pd.DataFrame:
    """Distinct people per camera and hour."""
    rows = [
        {
            "hour": _local(h["hour"], tz),
            "end": _local(h["hour"], tz) + timedelta(hours=1),
            "camera": c["camera"],
            "distinct": h["distinct"],
        }
        for c in report["cameras"]
        for h in c["hours"]
    ]
    return pd.DataFrame(rows, columns=["hour", "end", "camera", "distinct"])


def hour_bars(
    frame: pd.DataFrame, y: str, color: str, since: datetime, until: datetime, title: str
) -> alt.Chart:
    """Bars an hour wide on a time axis from ``since`` to ``until`` (local, naive)."""
    domain = [since.isoformat(), until.isoformat()]
    return (
        alt.Chart(frame)
        .mark_bar(opacity=0.85)
        .encode(
            x=alt.X("hour:T", title="time", scale=alt.Scale(domain=domain)),
            x2="end:T",
            y=alt.Y(f"{y}:Q", title=title, stack=True),
            color=alt.Color(f"{color}:N", title=color),
            tooltip=["hour:T", f"{color}:N", f"{y}:Q"],
        )
    )


def dwell_histogram(visits: pd.DataFrame) -> alt.Chart:
    """How long visits lasted, in bins of seconds."""
    return (
        alt.Chart(visits)
        .mark_bar()
        .encode(
            x=alt.X("dwell_s:Q", bin=alt.Bin(maxbins=30), title="dwell (s)"),
            y=alt.Y("count():Q", title="visits"),
            color=alt.Color("zone:N"),
        )
    )


def site_frame(store: Store, site: AnalyticsSettings, tz: tzinfo) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Vehicle visits (ended) and vehicles on site now, from the entry and exit cameras."""
    now = datetime.now(UTC).timestamp()
    visits = store.site_visits(site.entries, site.exits, now)
    closed = [
        {
            "plate": v.plate,
            "in": datetime.fromtimestamp(v.entry.at, tz).replace(tzinfo=None),
            "entry camera": v.entry.camera,
            "out": datetime.fromtimestamp(v.exit.at, tz).replace(tzinfo=None),
            "exit camera": v.exit.camera,
            "stay (min)": round((v.duration_s or 0) / 60, 1),
        }
        for v in visits
        if v.exit is not None
    ]
    limit = site.overstay_min * 60
    onsite = [
        {
            "plate": v.plate,
            "since": datetime.fromtimestamp(v.entry.at, tz).replace(tzinfo=None),
            "camera": v.entry.camera,
            "on site (min)": round(v.on_site_s(now) / 60, 1),
            "overstay": bool(limit) and v.on_site_s(now) > limit,
        }
        for v in visits
        if v.exit is None
    ]
    return (
        pd.DataFrame(closed, columns=["plate", "in", "entry camera", "out", "exit camera", "stay (min)"]),
        pd.DataFrame(onsite, columns=["plate", "since", "camera", "on site (min)", "overstay"]),
    )


def directions_frame(report: dict[str, Any], tz: tzinfo) -> pd.DataFrame:
    """Plate passes with the way they went (towards or away from the camera), newest first."""
    rows = [
        {
            "time": _local(p["time"], tz),
            "camera": p["camera"],
            "plate": p["plate"],
            "direction": p["direction"],
            "growth": p["growth"],
        }
        for p in report["passes"]
    ]
    return pd.DataFrame(rows, columns=["time", "camera", "plate", "direction", "growth"])


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """A table as CSV (UTF-8)."""
    return frame.to_csv(index=False).encode("utf-8")


def save_shapes(store: Store, engine: Any, camera: str, text: str, width: int, height: int) -> str | None:
    """Check and store the JSON of a camera's lines and zones, and apply it; the problem, or None."""
    try:
        payload = json.loads(text or '{"zones": []}')
        shapes = parse_shapes(payload, width, height)
    except json.JSONDecodeError as exc:
        return f"That is not JSON: {exc.msg} (line {exc.lineno})."
    except ShapeError as exc:
        return f"{exc}."
    store.put_camera_shapes(camera, shapes, width, height)
    set_shapes = getattr(engine, "set_shapes", None)  # ENGINE=remote: the workers follow the change feed
    if set_shapes is not None:
        set_shapes(camera, shapes)
    return None


def add_drawn_shape(
    store: Store,
    engine: Any,
    camera: str,
    shape: dict[str, Any],
    width: int,
    height: int,
) -> str | None:
    """Add a shape drawn on the picture (``{"name", "kind", "points", "in"}``) to ``camera``'s stored
    lines and zones, replacing one of the same name; checked as the API checks a PUT. The problem, or None."""
    name = str(shape.get("name") or "").strip()
    if not name:
        return "Give the line or zone a name."
    stored = store.camera_shapes(camera)
    others = [s.to_json() for s in (stored.shapes if stored else ()) if s.name != name]
    item = {"name": name, "kind": shape["kind"], "points": [[round(x), round(y)] for x, y in shape["points"]]}
    if shape["kind"] == "line":
        item["in"] = shape.get("in") or "left"
    return save_shapes(store, engine, camera, json.dumps({"zones": [*others, item]}), width, height)


def remove_shape(store: Store, engine: Any, camera: str, name: str) -> str | None:
    """Remove the line or zone ``name`` from ``camera``'s stored shapes; the problem, or None."""
    stored = store.camera_shapes(camera)
    if stored is None:
        return None
    kept = [s.to_json() for s in stored.shapes if s.name != name]
    return save_shapes(store, engine, camera, json.dumps({"zones": kept}), stored.width, stored.height)


def drawing_overlay(image: np.ndarray, points: list[tuple[float, float]], kind: str) -> np.ndarray:
    """``image`` (BGR) as RGB with the points clicked so far and the shape they make drawn on it."""
    out = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    pts = np.round(np.asarray(points, dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)
    if len(points) >= 2:
        cv2.polylines(out, [pts], kind == "zone" and len(points) >= 3, (255, 64, 64), 2, cv2.LINE_AA)
    for x, y in points:
        cv2.circle(out, (round(x), round(y)), 5, (255, 64, 64), -1, cv2.LINE_AA)
    if kind == "line" and len(points) >= 2:  # an arrow on the first segment: the walking direction
        cv2.arrowedLine(
            out, tuple(pts[0, 0]), tuple(pts[1, 0]), (255, 220, 64), 2, cv2.LINE_AA, tipLength=0.08
        )
    return out


def shapes_text(store: Store, camera: str) -> str:
    """The stored lines and zones of ``camera`` as indented JSON (an empty list when none)."""
    stored = store.camera_shapes(camera)
    return json.dumps(shapes_json(stored.shapes if stored else ()), indent=1)
