"""Plate and people queries: pages of events, counts, images, charts and CSV, each for a PlateFilter.

Every query runs on the caller's thread with its own pooled connection (SQLite's WAL mode means it
never waits for the writer). A text filter is turned into the fold keys it matches first (see
:mod:`issc.store.keys`), so the event query is an indexed ``IN`` list.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from issc.search import fold
from issc.store import schema
from issc.store.keys import PlateKeys
from issc.store.records import (
    HOUR_MS,
    HourCount,
    PeopleBucket,
    PlateFilter,
    PlateFrequency,
    PlateRow,
    from_ms,
    parse_char_conf,
    to_ms,
)

E = schema.plate_events
#: Every plate event, for queries over the whole history.
EVERYTHING = PlateFilter()
CSV_COLUMNS = (
    "id",
    "first_seen",
    "last_seen",
    "camera",
    "text",
    "confidence",
    "reads",
    "ocr_calls",
    "watchlist",
    "box",
    "original_text",
    "confirmed",
    "reviewed_by",
    "probable",
    "unsure",
)


class PlateQueries:
    """What the Plates page and the JSON routes read.

    Args:
        engine: Engine of a migrated history database.
        plate_keys: The database's fold-key table, to turn text filters into keys.
    """

    def __init__(self, engine: sa.Engine, plate_keys: PlateKeys) -> None:
        self.engine = engine
        self.plate_keys = plate_keys

    def search_plates(
        self, flt: PlateFilter = EVERYTHING, limit: int = 50, offset: int = 0
    ) -> list[PlateRow]:
        """One page of plate events matching ``flt``, newest (``last_seen``) first.

        Args:
            flt: Which events (text, camera, time window, confidence, watchlist hits).
            limit: Page size, 1..10000.
            offset: Rows to skip.

        Returns:
            The rows of the page (images not included).
        """
        if not 1 <= limit <= 10_000 or offset < 0:
            raise ValueError(f"limit={limit} must be in 1..10000 and offset={offset} at least 0")
        with self.engine.connect() as conn:
            where = self._where(conn, flt)
            if where is None:
                return []
            stmt = sa.select(*ROW_COLUMNS).where(*where).order_by(E.c.last_seen_ms.desc(), E.c.id.desc())
            rows = conn.execute(stmt.limit(limit).offset(offset)).all()
        return [plate_row(r) for r in rows]

    def count_plates(self, flt: PlateFilter = EVERYTHING) -> int:
        """How many plate events match ``flt``."""
        with self.engine.connect() as conn:
            where = self._where(conn, flt)
            if where is None:
                return 0
            return int(conn.execute(sa.select(sa.func.count()).select_from(E).where(*where)).scalar_one())

    def get_plate(self, event_id: int) -> PlateRow | None:
        """One plate event by id, or ``None``."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(*ROW_COLUMNS).where(E.c.id == event_id)).first()
        return None if row is None else plate_row(row)

    def plate_image(self, event_id: int, kind: Literal["crop", "snapshot"]) -> bytes | None:
        """The crop or snapshot JPEG of an event; ``None`` when the event or the image is missing."""
        if kind not in ("crop", "snapshot"):
            raise ValueError(f"kind={kind!r} must be 'crop' or 'snapshot'")
        column = schema.plate_images.c[f"{kind}_jpeg"]
        with self.engine.connect() as conn:
            data = conn.execute(sa.select(column).where(schema.plate_images.c.event_id == event_id)).scalar()
        return bytes(data) if data else None

    def cameras_since(self, since: datetime) -> list[str]:
        """Cameras with plate events in hours from ``since`` on (the hourly roll-up), by name."""
        h = schema.plate_hours
        lo = to_ms(since) // HOUR_MS * HOUR_MS
        query = sa.select(h.c.camera).where(h.c.hour_ms >= lo).distinct().order_by(h.c.camera)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def plates_per_hour(self, flt: PlateFilter = EVERYTHING) -> list[HourCount]:
        """Plate events per UTC hour and camera, oldest hour first (hours without events left out).

        Without a text, confidence or watchlist filter, whole hours come from the hourly roll-up the
        writer keeps, and only the partial hours at the ends of the range are counted from events.
        """
        with self.engine.connect() as conn:
            # the roll-up counts confident events only (the default history)
            filtered = flt.min_conf is not None or flt.watchlist_only or flt.reviewed is not None
            if filtered or flt.query_text or flt.unsure != "exclude":
                return _hour_counts(self._count_hours(conn, flt))
            lo = None if flt.since is None else -(-to_ms(flt.since) // HOUR_MS) * HOUR_MS
            hi = None if flt.until is None else to_ms(flt.until) // HOUR_MS * HOUR_MS
            if lo is not None and hi is not None and lo >= hi:
                return _hour_counts(self._count_hours(conn, flt))
            h = schema.plate_hours
            where = [] if flt.camera is None else [h.c.camera == flt.camera]
            if lo is not None:
                where.append(h.c.hour_ms >= lo)
            if hi is not None:
                where.append(h.c.hour_ms < hi)
            counts = {
                (int(ms) // HOUR_MS, cam): int(n)
                for ms, cam, n in conn.execute(sa.select(h.c.hour_ms, h.c.camera, h.c.plates).where(*where))
            }
            edges = []
            if lo is not None and flt.since is not None and to_ms(flt.since) < lo:
                edges.append(dataclasses.replace(flt, until=from_ms(lo)))
            if hi is not None and flt.until is not None and to_ms(flt.until) > hi:
                edges.append(dataclasses.replace(flt, since=from_ms(hi)))
            for edge in edges:
                for key, n in self._count_hours(conn, edge).items():
                    counts[key] = counts.get(key, 0) + n
        return _hour_counts(counts)

    def _count_hours(self, conn: sa.Connection, flt: PlateFilter) -> dict[tuple[int, str], int]:
        """Matching events per (hour number, camera), counted from the events table."""
        where = self._where(conn, flt)
        if where is None:
            return {}
        hour = (E.c.last_seen_ms // HOUR_MS).label("hour")
        stmt = sa.select(hour, E.c.camera, sa.func.count()).where(*where).group_by(hour, E.c.camera)
        return {(int(h), cam): int(n) for h, cam, n in conn.execute(stmt)}

    def top_plates(self, flt: PlateFilter = EVERYTHING, limit: int = 10) -> list[PlateFrequency]:
        """The most frequent plate texts among the events matching ``flt`` (ties: most recently seen first)."""
        n = sa.func.count().label("n")
        last = sa.func.max(E.c.last_seen_ms).label("last")
        with self.engine.connect() as conn:
            where = self._where(conn, flt)
            if where is None:
                return []
            stmt = (
                sa.select(E.c.text, n, last)
                .where(*where)
                .group_by(E.c.text)
                .order_by(n.desc(), last.desc())
                .limit(limit)
            )
            rows = conn.execute(stmt).all()
        return [PlateFrequency(text, int(count), from_ms(int(ms))) for text, count, ms in rows]

    def people_over_time(self, flt: PlateFilter = EVERYTHING, bucket_minutes: int = 60) -> list[PeopleBucket]:
        """People per camera in buckets of ``bucket_minutes``: peak and mean, oldest bucket first.

        People counts carry no plate text or confidence: only the filter's camera and time window apply
        (a filter's other fields are ignored, so a page can pass the filter its plate queries use).
        """
        if bucket_minutes < 1:
            raise ValueError(f"bucket_minutes={bucket_minutes} must be at least 1")
        p = schema.people_counts
        size = bucket_minutes * 60_000
        bucket = (p.c.minute_ms // size).label("bucket")
        where = _camera_and_window(p.c.camera, p.c.minute_ms, flt)
        stmt = (
            sa.select(bucket, p.c.camera, sa.func.max(p.c.max_count), sa.func.avg(p.c.mean_count))
            .where(*where)
            .group_by(bucket, p.c.camera)
            .order_by(bucket, p.c.camera)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [PeopleBucket(from_ms(int(b) * size), cam, int(mx), float(mean)) for b, cam, mx, mean in rows]

    def iter_plates_csv(self, flt: PlateFilter = EVERYTHING, chunk_rows: int = 1000) -> Iterator[str]:
        """CSV of exactly the events matching ``flt``, newest first, as text chunks (header first).

        The events are read ``chunk_rows`` at a time by keyset (``last_seen_ms``, ``id``
        descending), each page on a short connection of its own that goes back to the pool before
        the page is yielded: however slowly the client reads, no connection is held meanwhile, so
        downloads never starve the writer. The download holds the events that existed when it began
        (ids up to the largest then), each once; events written meanwhile are left out. Memory
        stays flat for any count. Times are ISO-8601 UTC; ``box`` is ``x1 y1 x2 y2``; ``text`` is the
        reviewed text and ``original_text`` the machine's read (the same unless an analyst corrected it);
        ``unsure`` is ``yes`` for an event whose best vote stayed below the recognition threshold.
        """
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        with self.engine.connect() as conn:
            where = self._where(conn, flt)
            top = conn.execute(sa.select(sa.func.max(E.c.id))).scalar() if where is not None else None
        if where is not None and top is not None:
            base = sa.select(*ROW_COLUMNS).where(*where, E.c.id <= top)
            order = (E.c.last_seen_ms.desc(), E.c.id.desc())
            after: tuple[int, int] | None = None
            while True:
                stmt = base
                if after is not None:
                    seen_ms, event_id = after
                    stmt = stmt.where(
                        sa.or_(
                            E.c.last_seen_ms < seen_ms,
                            sa.and_(E.c.last_seen_ms == seen_ms, E.c.id < event_id),
                        )
                    )
                with self.engine.connect() as conn:
                    rows = conn.execute(stmt.order_by(*order).limit(chunk_rows)).all()
                for r in rows:
                    writer.writerow(csv_cells(plate_row(r)))
                if len(rows) < chunk_rows:
                    break
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
                after = (int(rows[-1].last_seen_ms), int(rows[-1].id))
        yield buffer.getvalue()

    def _where(self, conn: sa.Connection, flt: PlateFilter) -> list[sa.ColumnElement[bool]] | None:
        """SQL conditions for ``flt``; ``None`` when no event can match (unknown plate text)."""
        where = _camera_and_window(E.c.camera, E.c.last_seen_ms, flt)
        if flt.min_conf is not None:
            where.append(E.c.confidence >= flt.min_conf)
        if flt.watchlist_only:
            where.append(E.c.watchlist.is_not(None))
        if flt.reviewed is not None:
            where.append(E.c.reviewed_ms.is_not(None) if flt.reviewed else E.c.reviewed_ms.is_(None))
        if flt.unsure != "include":
            where.append(E.c.unsure.is_(sa.true()) if flt.unsure == "only" else E.c.unsure.is_(sa.false()))
        query_key = fold(flt.query_text)
        if query_key:
            keys = self.plate_keys.matching(conn, query_key)
            if keys is None:
                where.append(E.c.fold_key.contains(query_key, autoescape=True))
            elif not keys:
                return None
            else:
                where.append(E.c.fold_key.in_(sorted(keys)))
        return where


def _hour_counts(counts: dict[tuple[int, str], int]) -> list[HourCount]:
    return [HourCount(from_ms(h * HOUR_MS), cam, n) for (h, cam), n in sorted(counts.items()) if n]


ROW_COLUMNS = (
    E.c.id,
    E.c.camera,
    E.c.first_seen_ms,
    E.c.last_seen_ms,
    E.c.text,
    E.c.confidence,
    E.c.reads,
    E.c.box,
    E.c.ocr_calls,
    E.c.watchlist,
    E.c.has_crop,
    E.c.has_snapshot,
    E.c.original_text,
    E.c.confirmed,
    E.c.reviewed_by,
    E.c.reviewed_ms,
    E.c.probable,
    E.c.char_conf,
    E.c.unsure,
)


def _parse_box(box: str) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = (int(v) for v in box.split(","))
    return (x1, y1, x2, y2)


def plate_row(r: sa.Row[Any]) -> PlateRow:
    return PlateRow(
        id=r.id,
        camera=r.camera,
        first_seen=from_ms(r.first_seen_ms),
        last_seen=from_ms(r.last_seen_ms),
        text=r.text,
        confidence=r.confidence,
        reads=r.reads,
        box=_parse_box(r.box),
        ocr_calls=r.ocr_calls,
        watchlist=r.watchlist,
        has_crop=bool(r.has_crop),
        has_snapshot=bool(r.has_snapshot),
        original_text=r.original_text,
        confirmed=bool(r.confirmed),
        reviewed_by=r.reviewed_by,
        reviewed_at=None if r.reviewed_ms is None else from_ms(r.reviewed_ms),
        probable=r.probable,
        char_conf=parse_char_conf(r.char_conf),
        unsure=bool(r.unsure),
    )


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows as text: a string starting with ``= + - @``, a tab or a
    carriage return gets a leading apostrophe (formula injection: ``=HYPERLINK(...)`` in a label)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_cells(row: PlateRow) -> list[Any]:
    """One event's cells under ``CSV_COLUMNS``: the download and the evidence pack write the same."""
    return [
        csv_cell(cell)
        for cell in (
            row.id,
            row.first_seen.isoformat(),
            row.last_seen.isoformat(),
            row.camera,
            row.text,
            f"{row.confidence:.3f}",
            row.reads,
            row.ocr_calls,
            row.watchlist or "",
            " ".join(str(v) for v in row.box),
            row.original_text or row.text,
            "yes" if row.confirmed else "no",
            row.reviewed_by or "",
            row.probable or "",
            "yes" if row.unsure else "no",
        )
    ]


def _camera_and_window(
    camera: sa.ColumnElement[str], time_ms: sa.ColumnElement[int], flt: PlateFilter
) -> list[sa.ColumnElement[bool]]:
    """Conditions for the filter's camera and time window on a table's own columns."""
    where: list[sa.ColumnElement[bool]] = []
    if flt.camera is not None:
        where.append(camera == flt.camera)
    if flt.since is not None:
        where.append(time_ms >= to_ms(flt.since))
    if flt.until is not None:
        where.append(time_ms < to_ms(flt.until))
    return where
