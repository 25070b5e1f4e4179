"""The hourly plate roll-up (``plate_hours``): confident events counted once per hour and camera."""

from __future__ import annotations

import sqlalchemy as sa

from issc.store import schema
from issc.store.database import dialect_insert
from issc.store.records import HOUR_MS


def count_hour(conn: sa.Connection, camera: str, last_seen_ms: int, delta: int) -> None:
    """Add ``delta`` to the roll-up (confident events only) of the hour ``last_seen_ms`` falls in (rows reaching 0 go)."""
    h = schema.plate_hours
    hour_ms = last_seen_ms // HOUR_MS * HOUR_MS
    if delta > 0:
        insert = dialect_insert(conn)(h).values(camera=camera, hour_ms=hour_ms, plates=delta)
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["camera", "hour_ms"], set_={"plates": h.c.plates + delta}
            )
        )
        return
    where = (h.c.camera == camera, h.c.hour_ms == hour_ms)
    conn.execute(h.update().where(*where).values(plates=h.c.plates + delta))
    conn.execute(h.delete().where(*where, h.c.plates <= 0))
