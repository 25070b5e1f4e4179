"""What the writer queues: the record types, what each costs against the byte bound, and which
commit at once (a pass's plate event)."""

from __future__ import annotations

from issc.types import Crossing, HourTotals, PeopleCount, PlateDirection, PlateEvent, ZoneVisit

Record = PlateEvent | PeopleCount | Crossing | ZoneVisit | HourTotals | PlateDirection
#: Default byte bound of the queue: JPEGs of records waiting for the writer.
QUEUE_MAX_BYTES = 256 * 1024 * 1024
#: Bytes counted per record besides its JPEGs.
RECORD_OVERHEAD = 256


def record_bytes(record: Record) -> int:
    """What a queued record costs against the byte bound: its JPEGs plus a small overhead."""
    if isinstance(record, PlateEvent):
        return len(record.crop_jpeg or b"") + len(record.snapshot_jpeg or b"") + RECORD_OVERHEAD
    return RECORD_OVERHEAD


def commit_now(record: Record) -> bool:
    """A pass's plate event (it carries a ``pass_key``) is committed without waiting for the batch."""
    return isinstance(record, PlateEvent) and bool(record.pass_key)
