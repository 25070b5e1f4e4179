"""Lines, zones and visits in the history: each camera's shapes, and the analytics queries.

The API (``/api/analytics/*``) and the Analytics page read these. Every report over a time range
reads the hourly totals (``analytics_hours``), so a 30-day view costs a few hundred rows whatever
the number of crossings; only the visit list reads ``zone_visits``, bounded by ``limit``.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from issc.analytics import Shape, parse_shapes, shapes_json
from issc.analytics.vehicles import SiteRead, VehicleVisit, pair_visits
from issc.store import schema
from issc.store.database import dialect_insert, write_transaction
from issc.store.records import HOUR_MS, from_ms, to_ms
from issc.store.settings import notify_change
from issc.types import AnalyticsRecord, Crossing, PlateDirection, ZoneVisit

#: Payload of the change notice sent when a camera's lines and zones are stored (issc.cluster.changes).
ZONES_CHANGED = "zones"
#: Most visits one report lists (newest kept); the totals cover all of them.
MAX_VISITS = 1000
#: How far back vehicle visits and the on-site list look for entry reads.
SITE_LOOKBACK_DAYS = 30


@dataclass(frozen=True)
class CameraShapes:
    """A camera's stored lines and zones and the frame size their pixels refer to."""

    camera: str
    shapes: tuple[Shape, ...]
    width: int
    height: int
    updated_at: float


def _iso(ms: int) -> str:
    return from_ms(ms).isoformat()


def _ms(value: datetime | None, default: int) -> int:
    return default if value is None else to_ms(value)


class AnalyticsTable:
    """Shapes per camera and the analytics reports (a part of :class:`issc.store.Store`)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    # -- shapes ------------------------------------------------------------------------------

    def camera_shapes(self, camera: str) -> CameraShapes | None:
        """The lines and zones stored for ``camera`` (None when it has none stored)."""
        z = schema.camera_zones
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(z).where(z.c.camera == camera)).first()
        return None if row is None else _shapes_row(row)

    def all_camera_shapes(self) -> dict[str, CameraShapes]:
        """Every camera's stored lines and zones, by camera name."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(schema.camera_zones)).all()
        return {r.camera: _shapes_row(r) for r in rows}

    def put_camera_shapes(
        self, camera: str, shapes: tuple[Shape, ...], width: int, height: int
    ) -> CameraShapes:
        """Store ``camera``'s lines and zones (replacing what it had)."""
        z = schema.camera_zones
        now_ms = int(time.time() * 1000)
        values = {
            "shapes": json.dumps(shapes_json(shapes)),
            "width": int(width),
            "height": int(height),
            "updated_ms": now_ms,
        }
        with write_transaction(self.engine) as conn:
            insert = dialect_insert(conn)(z).values(camera=camera, **values)
            conn.execute(insert.on_conflict_do_update(index_elements=["camera"], set_=values))
            notify_change(conn, ZONES_CHANGED)  # workers (ENGINE=remote) read them again
        return CameraShapes(camera, shapes, width, height, now_ms / 1000)

    # -- reports -----------------------------------------------------------------------------

    def _hours(
        self, kind: str, camera: str | None, since: datetime | None, until: datetime | None
    ) -> list[sa.Row]:
        h = schema.analytics_hours
        since_ms = _ms(since, 0) // HOUR_MS * HOUR_MS
        stmt = sa.select(h).where(h.c.kind == kind, h.c.hour_ms >= since_ms)
        if until is not None:
            stmt = stmt.where(h.c.hour_ms < _ms(until, 0))
        if camera is not None:
            stmt = stmt.where(h.c.camera == camera)
        with self.engine.connect() as conn:
            return list(conn.execute(stmt.order_by(h.c.camera, h.c.name, h.c.hour_ms)))

    def zone_report(
        self,
        camera: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = MAX_VISITS,
    ) -> dict[str, Any]:
        """``{"zones": [{"camera", "name", "visits": [{"start", "end", "dwell_s"}], "visit_count",
        "mean_dwell_s", "max_occupancy", "occupancy": [{"hour", "max", "entries"}]}]}``."""
        zones: dict[tuple[str, str], dict[str, Any]] = {}

        def zone(cam: str, name: str) -> dict[str, Any]:
            key = (cam, name)
            if key not in zones:
                zones[key] = {
                    "camera": cam,
                    "name": name,
                    "visits": [],
                    "visit_count": 0,
                    "dwell_s": 0.0,
                    "max_occupancy": 0,
                    "occupancy": [],
                }
            return zones[key]

        for r in self._hours("zone", camera, since, until):
            z = zone(r.camera, r.name)
            z["visit_count"] += r.visits
            z["dwell_s"] += r.dwell_ms / 1000
            z["max_occupancy"] = max(z["max_occupancy"], r.max_occupancy)
            z["occupancy"].append({"hour": _iso(r.hour_ms), "max": r.max_occupancy, "entries": r.entries})
        v = schema.zone_visits
        stmt = sa.select(v.c.camera, v.c.zone, v.c.start_ms, v.c.end_ms).where(v.c.end_ms >= _ms(since, 0))
        if until is not None:
            stmt = stmt.where(v.c.start_ms < _ms(until, 0))
        if camera is not None:
            stmt = stmt.where(v.c.camera == camera)
        with self.engine.connect() as conn:
            rows = list(conn.execute(stmt.order_by(v.c.start_ms.desc()).limit(limit)))
        for r in reversed(rows):
            zone(r.camera, r.zone)["visits"].append(
                {
                    "start": _iso(r.start_ms),
                    "end": _iso(r.end_ms),
                    "dwell_s": round((r.end_ms - r.start_ms) / 1000, 1),
                }
            )
        out = []
        for z in zones.values():
            dwell = z.pop("dwell_s")
            z["mean_dwell_s"] = round(dwell / z["visit_count"], 1) if z["visit_count"] else None
            out.append(z)
        return {"zones": out}

    def line_report(
        self, camera: str | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> dict[str, Any]:
        """``{"lines": [{"camera", "name", "in", "out", "hours": [{"hour", "in", "out"}]}]}``."""
        lines: dict[tuple[str, str], dict[str, Any]] = {}
        for r in self._hours("line", camera, since, until):
            line = lines.setdefault(
                (r.camera, r.name), {"camera": r.camera, "name": r.name, "in": 0, "out": 0, "hours": []}
            )
            line["in"] += r.in_count
            line["out"] += r.out_count
            line["hours"].append({"hour": _iso(r.hour_ms), "in": r.in_count, "out": r.out_count})
        return {"lines": list(lines.values())}

    def people_report(
        self, camera: str | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> dict[str, Any]:
        """``{"cameras": [{"camera", "hours": [{"hour", "distinct"}]}]}``: distinct people per hour."""
        cams: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in self._hours("people", camera, since, until):
            cams[r.camera].append({"hour": _iso(r.hour_ms), "distinct": r.distinct_people})
        return {"cameras": [{"camera": c, "hours": hours} for c, hours in cams.items()]}

    def site_reads(self, cameras: tuple[str, ...], since: float, limit: int = 200_000) -> list[SiteRead]:
        """Plate events on ``cameras``, and those of any camera whose pass crossed a counting line
        (direction ``in``/``out``), last seen at or after ``since`` (UNIX s), oldest first."""
        e, d = schema.plate_events, schema.plate_directions
        crossed = d.c.direction.in_(("in", "out"))
        which = sa.or_(e.c.camera.in_(cameras), crossed) if cameras else crossed
        stmt = (
            sa.select(e.c.id, e.c.camera, e.c.text, e.c.last_seen_ms, e.c.confirmed, d.c.direction)
            .select_from(e.outerjoin(d, d.c.pass_key == e.c.pass_key))
            .where(which, e.c.last_seen_ms >= int(since * 1000))
            .order_by(e.c.last_seen_ms.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = list(conn.execute(stmt))
        return [
            SiteRead(
                r.id,
                r.camera,
                r.text,
                r.last_seen_ms / 1000,
                bool(r.confirmed),
                r.direction if r.direction in ("in", "out") else "",
            )
            for r in reversed(rows)
        ]

    def direction_report(
        self,
        camera: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = MAX_VISITS,
    ) -> dict[str, Any]:
        """``{"passes": [{"time", "camera", "plate", "direction", "growth"}]}``, newest first."""
        d, e = schema.plate_directions, schema.plate_events
        stmt = (
            sa.select(e.c.last_seen_ms, e.c.camera, e.c.text, d.c.direction, d.c.growth)
            .join(d, d.c.pass_key == e.c.pass_key)
            .where(e.c.last_seen_ms >= _ms(since, 0))
        )
        if until is not None:
            stmt = stmt.where(e.c.last_seen_ms < _ms(until, 0))
        if camera is not None:
            stmt = stmt.where(e.c.camera == camera)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.order_by(e.c.last_seen_ms.desc()).limit(limit)).all()
        return {
            "passes": [
                {
                    "time": _iso(r.last_seen_ms),
                    "camera": r.camera,
                    "plate": r.text,
                    "direction": r.direction,
                    "growth": r.growth,
                }
                for r in rows
            ]
        }

    def site_visits(
        self, entries: tuple[str, ...], exits: tuple[str, ...], now: float | None = None
    ) -> list[VehicleVisit]:
        """Vehicle visits and stays (``exit`` None: on site now) of the last ``SITE_LOOKBACK_DAYS``."""
        now = time.time() if now is None else now
        cameras = tuple(dict.fromkeys(entries + exits))
        return pair_visits(self.site_reads(cameras, now - SITE_LOOKBACK_DAYS * 86_400), entries, exits)


def purge_analytics(engine: sa.Engine, before_ms: int) -> int:
    """Delete crossings, visits and hourly totals older than ``before_ms`` (retention)."""
    deleted = 0
    with write_transaction(engine) as conn:
        for table, column in (
            (schema.line_crossings, schema.line_crossings.c.at_ms),
            (schema.zone_visits, schema.zone_visits.c.end_ms),
            (schema.analytics_hours, schema.analytics_hours.c.hour_ms),
            (schema.plate_directions, schema.plate_directions.c.at_ms),
        ):
            deleted += conn.execute(table.delete().where(column < before_ms)).rowcount or 0
    return deleted


def _shapes_row(row: sa.Row) -> CameraShapes:
    shapes = parse_shapes(json.loads(row.shapes), row.width, row.height)
    return CameraShapes(row.camera, shapes, row.width, row.height, row.updated_ms / 1000)


def write_analytics(conn: sa.Connection, record: AnalyticsRecord) -> None:
    """Insert a crossing or a visit, or upsert hourly totals (the writer's transaction)."""
    if isinstance(record, Crossing):
        conn.execute(
            schema.line_crossings.insert().values(
                camera=record.camera,
                line=record.line,
                direction=record.direction,
                at_ms=round(record.at * 1000),
                person=record.person,
            )
        )
    elif isinstance(record, PlateDirection):
        d = schema.plate_directions
        values = {
            "camera": record.camera,
            "direction": record.direction,
            "growth": float(record.growth),
            "at_ms": round(record.at * 1000),
        }
        insert = dialect_insert(conn)(d).values(pass_key=record.pass_key, **values)
        conn.execute(insert.on_conflict_do_update(index_elements=["pass_key"], set_=values))
    elif isinstance(record, ZoneVisit):
        conn.execute(
            schema.zone_visits.insert().values(
                camera=record.camera,
                zone=record.zone,
                person=record.person,
                start_ms=round(record.start * 1000),
                end_ms=round(record.end * 1000),
            )
        )
    else:
        h = schema.analytics_hours
        values = {
            "in_count": record.in_count,
            "out_count": record.out_count,
            "entries": record.entries,
            "visits": record.visits,
            "dwell_ms": round(record.dwell_s * 1000),
            "max_occupancy": record.max_occupancy,
            "distinct_people": record.distinct,
        }
        insert = dialect_insert(conn)(h).values(
            camera=record.camera, hour_ms=record.hour * 1000, kind=record.kind, name=record.name, **values
        )
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["camera", "hour_ms", "kind", "name"],
                set_={k: insert.excluded[k] for k in values},
            )
        )
