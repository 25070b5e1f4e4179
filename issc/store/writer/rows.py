"""Records to rows: what one batch writes, by record type (plate events, people counts, analytics)."""

from __future__ import annotations

import sqlalchemy as sa

from issc.store import schema
from issc.store.analytics import write_analytics
from issc.store.database import dialect_insert
from issc.store.keys import PlateKeys
from issc.store.known import KnownPlates
from issc.store.records import to_ms
from issc.store.writer.plate_events import insert_event
from issc.store.writer.queued import Record
from issc.types import Crossing, HourTotals, PeopleCount, PlateDirection, PlateEvent, ZoneVisit


def write_records(
    conn: sa.Connection, batch: list[Record], plate_keys: PlateKeys, known: KnownPlates | None
) -> None:
    """Insert or upsert each record of ``batch`` on ``conn`` (one transaction, the caller's)."""
    for record in batch:
        if isinstance(record, PlateEvent):
            insert_event(conn, record, plate_keys, known)
        elif isinstance(record, PeopleCount):
            upsert_people(conn, record)
        elif isinstance(record, Crossing | ZoneVisit | HourTotals | PlateDirection):
            write_analytics(conn, record)
        else:
            raise TypeError(f"cannot store a {type(record).__name__}")


def upsert_people(conn: sa.Connection, count: PeopleCount) -> None:
    """Upsert a per-minute people count (one row per camera and minute)."""
    values = {
        "camera": count.camera,
        "minute_ms": to_ms(count.minute),
        "max_count": int(count.max_count),
        "mean_count": float(count.mean_count),
        "samples": int(count.samples),
    }
    insert = dialect_insert(conn)(schema.people_counts).values(**values)
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["camera", "minute_ms"],
            set_={k: insert.excluded[k] for k in ("max_count", "mean_count", "samples")},
        )
    )
