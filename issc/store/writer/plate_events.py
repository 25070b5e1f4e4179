"""A plate event's rows: the event, its images, its votes and its fold key; a pass's final event
replaces the provisional one written under the same ``pass_key`` (see :mod:`issc.plates.voting`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from issc.plates.text import normalize
from issc.search import fold
from issc.store import schema
from issc.store.keys import PlateKeys
from issc.store.known import KnownPlates
from issc.store.records import format_char_conf, to_ms
from issc.store.writer.hours import count_hour
from issc.types import PlateEvent


def insert_event(
    conn: sa.Connection, event: PlateEvent, plate_keys: PlateKeys, known: KnownPlates | None
) -> None:
    """Write a plate event with its images and votes; one with a ``pass_key`` replaces the pass's
    provisional event (an analyst's review of it stands), and the hourly roll-up counts the pass once."""
    E = schema.plate_events
    text = normalize(event.text) or event.text
    key = fold(text)
    pass_key = event.pass_key
    values: dict[str, Any] = dict(
        camera=event.camera,
        first_seen_ms=to_ms(event.first_seen),
        last_seen_ms=to_ms(event.last_seen),
        text=text,
        confidence=float(event.confidence),
        reads=int(event.reads),
        box=",".join(str(int(v)) for v in event.box),
        ocr_calls=int(event.ocr_calls),
        watchlist=event.watchlist,
        has_crop=bool(event.crop_jpeg),
        has_snapshot=bool(event.snapshot_jpeg),
        fold_key=key,
        pass_key=pass_key,
        char_conf=format_char_conf(event.char_conf),
        probable=None if known is None else known.probable(conn, event.camera, text),
        unsure=bool(event.unsure),
    )
    old = None
    if pass_key is not None:
        old = conn.execute(
            sa.select(E.c.id, E.c.camera, E.c.last_seen_ms, E.c.text, E.c.reviewed_ms, E.c.unsure).where(
                E.c.pass_key == pass_key
            )
        ).first()
    if old is None:
        event_id = conn.execute(E.insert().values(**values)).inserted_primary_key[0]
    else:
        event_id = old.id
        if old.reviewed_ms is not None:
            # an analyst reviewed the provisional event: their text stands, the final read is
            # kept as the original (the audit trail has what they changed)
            for name in ("text", "fold_key", "watchlist", "probable", "char_conf", "unsure"):
                del values[name]
            values["original_text"] = text if text != old.text else None
        conn.execute(E.update().where(E.c.id == event_id).values(**values))
        conn.execute(schema.plate_images.delete().where(schema.plate_images.c.event_id == event_id))
        conn.execute(schema.plate_reads.delete().where(schema.plate_reads.c.event_id == event_id))
        if not old.unsure:
            count_hour(conn, old.camera, int(old.last_seen_ms), -1)
    if event.crop_jpeg or event.snapshot_jpeg:
        conn.execute(
            schema.plate_images.insert().values(
                event_id=event_id,
                crop_jpeg=event.crop_jpeg or None,
                snapshot_jpeg=event.snapshot_jpeg or None,
            )
        )
    if event.votes:
        conn.execute(
            schema.plate_reads.insert(),
            [
                dict(
                    event_id=event_id,
                    seq=seq,
                    text=(read.text or "")[:32],
                    confidence=float(read.confidence),
                    at_ms=None if read.at is None else round(read.at * 1000),
                    source=read.source,
                    char_conf=format_char_conf(read.char_conf),
                )
                for seq, read in enumerate(event.votes)
            ],
        )
    if "fold_key" in values:
        plate_keys.insert(conn, [key])
    if not values.get("unsure", old is not None and old.unsure):
        count_hour(conn, event.camera, values["last_seen_ms"], +1)
