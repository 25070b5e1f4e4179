"""Event clips in the history (``plate_clips``, revision 0015): one MP4 per plate event, filed by
the camera's clip thread (``issc.engine.clips``) beside the event its ``pass_key`` names.

Clips are deleted with their events by the retention purge, dropped with the snapshots after
``SNAPSHOT_RETENTION_DAYS``, counted in the size cap, and go into evidence packs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from issc.store import schema
from issc.store.database import write_transaction
from issc.store.records import from_ms, to_ms
from issc.types import EventClip

E = schema.plate_events
C = schema.plate_clips


@dataclass(frozen=True)
class StoredClip:
    """A stored clip: its event, when it starts, how long it runs, its codec and its MP4 bytes."""

    event_id: int
    camera: str
    started_at: datetime
    duration_s: float
    codec: str
    frames: int
    mp4: bytes


class ClipTable:
    """Saves and reads event clips (a part of :class:`issc.store.Store`)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def save_clip(self, clip: EventClip) -> bool:
        """File ``clip`` beside its event (replacing an earlier clip of it).

        Returns:
            False when no stored event matches it yet (the writer may not have written it).
        """
        where = [E.c.camera == clip.camera]
        if clip.pass_key:
            where.append(E.c.pass_key == clip.pass_key)
        else:
            where.append(E.c.last_seen_ms == to_ms(clip.last_seen))
        with write_transaction(self.engine) as conn:
            event_id = conn.execute(sa.select(E.c.id).where(*where).order_by(E.c.id.desc()).limit(1)).scalar()
            if event_id is None:
                return False
            conn.execute(C.delete().where(C.c.event_id == event_id))
            conn.execute(
                C.insert().values(
                    event_id=event_id,
                    camera=clip.camera,
                    started_ms=to_ms(clip.started_at),
                    duration_ms=round(clip.duration_s * 1000),
                    codec=clip.codec,
                    frames=clip.frames,
                    mp4=clip.mp4,
                )
            )
        return True

    def plate_clip(self, event_id: int) -> StoredClip | None:
        """The clip of an event, or None when it has none."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(C).where(C.c.event_id == event_id)).first()
        if row is None:
            return None
        return StoredClip(
            event_id=row.event_id,
            camera=row.camera,
            started_at=from_ms(row.started_ms),
            duration_s=row.duration_ms / 1000,
            codec=row.codec,
            frames=row.frames,
            mp4=bytes(row.mp4),
        )
