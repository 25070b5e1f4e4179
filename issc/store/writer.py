"""The history writer: a queue bounded in records and bytes, one writer thread, batched inserts, health.

Writes never block the caller: ``add_plate_event`` / ``add_people_count`` / ``save_provisional`` put
the record on a bounded queue and return. One writer thread (``issc-store-writer``) takes records off
the queue and commits them in batches at least every ``flush_interval_s``, so a crash loses at most
that much; a batch holding a pass's plate event (one with a ``pass_key``) is committed at once. The queue holds at most ``queue_size`` records and ``queue_max_bytes`` of JPEGs; beyond
either, new records are dropped, counted, and logged once per burst of drops (with its count).

When a write fails because of the database (disk full, read-only file, database down: the driver's
``OperationalError``) the writer keeps the batch, reports the failure in :meth:`HistoryWriter.status`,
retries, and writes the batch once the database works again. When it fails because of a record
(a constraint, a value the database refuses), the batch is written one record at a time and each
record that fails on its own is set aside: logged, counted and kept in a short dead-letter list,
so that one poison record never blocks the ones behind it.

A plate event that carries a ``pass_key`` (see :mod:`issc.plates.voting`) is
upserted by it: the provisional event written while the pass is still in view is replaced by the
final one, and the hourly roll-up counts the pass once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from typing import Any, Self

import sqlalchemy as sa

from issc.plates.text import normalize
from issc.redact import redact
from issc.search import fold
from issc.store import schema
from issc.store.analytics import write_analytics
from issc.store.database import dialect_insert, write_transaction
from issc.store.keys import PlateKeys
from issc.store.known import KnownPlates
from issc.store.records import HOUR_MS, DeadLetter, StoreStatus, format_char_conf, to_ms
from issc.types import (
    AnalyticsRecord,
    Crossing,
    HourTotals,
    PeopleCount,
    PlateDirection,
    PlateEvent,
    ZoneVisit,
)

logger = logging.getLogger(__name__)

Record = PlateEvent | PeopleCount | Crossing | ZoneVisit | HourTotals | PlateDirection
#: Default byte bound of the queue: JPEGs of records waiting for the writer.
QUEUE_MAX_BYTES = 256 * 1024 * 1024
#: Bytes counted per record besides its JPEGs.
_RECORD_OVERHEAD = 256
#: Records set aside that :meth:`HistoryWriter.dead_letters` keeps.
DEAD_LETTERS_KEPT = 100
#: Errors that say the database cannot write now (retry the batch), not that a record is bad.
_DATABASE_ERRORS = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError, OSError)


def record_bytes(record: Record) -> int:
    """What a queued record costs against the byte bound: its JPEGs plus a small overhead."""
    if isinstance(record, PlateEvent):
        return len(record.crop_jpeg or b"") + len(record.snapshot_jpeg or b"") + _RECORD_OVERHEAD
    return _RECORD_OVERHEAD


class HistoryWriter:
    """Queues plate events and people counts and commits them from one thread.

    :class:`issc.store.Store` adds ``close`` (stop, then release the engine), completing ``EventSink``.

    Args:
        engine: Engine of a migrated history database.
        plate_keys: The database's fold-key table, kept up to date with each event.
        queue_size: Records that may wait for the writer; beyond that new ones are dropped and counted.
        queue_max_bytes: JPEG bytes that may wait for the writer; beyond that new records are dropped.
        flush_interval_s: Longest time a record waits before its batch is committed.
        batch_size: Most records per transaction.
        retry_interval_s: Wait between attempts while writes fail.
        known: Confirmed plates, to mark a read one edit from one "probably X" (none: not marked).
    """

    def __init__(
        self,
        engine: sa.Engine,
        plate_keys: PlateKeys,
        *,
        queue_size: int,
        flush_interval_s: float,
        batch_size: int,
        retry_interval_s: float,
        queue_max_bytes: int = QUEUE_MAX_BYTES,
        known: KnownPlates | None = None,
    ) -> None:
        self.engine = engine
        self.plate_keys = plate_keys
        self.known = known
        self._queue: queue.Queue[Record] = queue.Queue(maxsize=queue_size)
        self._max_bytes = queue_max_bytes
        self._flush_interval_s = flush_interval_s
        self._batch_size = batch_size
        self._retry_interval_s = retry_interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending = 0  # records taken off the queue but not yet committed
        self._bytes = 0  # bytes of queued and pending records
        self._accepted = 0
        self._written = 0
        self._dropped = 0
        self._burst = 0  # drops since the queue last accepted a record
        self._poisoned = 0
        self._dead: deque[DeadLetter] = deque(maxlen=DEAD_LETTERS_KEPT)
        self._error: str | None = None

    def start(self) -> Self:
        """Start the writer thread (idempotent). Returns ``self``."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run_writer, name="issc-store-writer", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued (one last attempt) and stop the writer thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def add_plate_event(self, event: PlateEvent) -> None:
        """Queue a plate event for writing; never blocks (counts a drop when the queue is full)."""
        self._enqueue(event)

    def add_people_count(self, count: PeopleCount) -> None:
        """Queue a per-minute people count (upserted per camera and minute); never blocks."""
        self._enqueue(count)

    def add_analytics(self, record: AnalyticsRecord) -> None:
        """Queue a line crossing, a zone visit or hourly totals (upserted per hour); never blocks."""
        self._enqueue(record)

    def _enqueue(self, record: Record) -> None:
        size = record_bytes(record)
        with self._lock:
            try:
                if self._bytes + size > self._max_bytes:
                    raise queue.Full
                self._queue.put_nowait(record)
            except queue.Full:
                self._dropped += 1
                self._burst += 1
                if self._burst == 1:
                    logger.warning(
                        "history store: queue full (%d records, %.0f MB): dropping new records",
                        self._queue.qsize(),
                        self._bytes / 1e6,
                    )
                return
            self._bytes += size
            self._accepted += 1
            burst, self._burst = self._burst, 0
        if burst:
            logger.warning("history store: queue accepts records again; %d dropped meanwhile", burst)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued before this call is committed (or set aside as poison).

        Returns:
            True when written; False on timeout (e.g. while the disk is failing).
        """
        with self._lock:
            target = self._accepted
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._written + self._poisoned >= target:
                    return True
            time.sleep(0.02)
        return False

    def dead_letters(self) -> list[DeadLetter]:
        """The latest records set aside because they could not be written (oldest first)."""
        with self._lock:
            return list(self._dead)

    def status(self) -> StoreStatus:
        """Current health: whether writes succeed, what is buffered, dropped, set aside and written."""
        with self._lock:
            buffered = self._queue.qsize() + self._pending
            error, dropped, written = self._error, self._dropped, self._written
            held, poisoned = self._bytes, self._poisoned
        extra: dict[str, Any] = {"queued_bytes": held, "poisoned": poisoned}
        if error is None:
            message = "writing normally" if self._thread is not None else "writer not started"
            return StoreStatus(True, message, buffered, dropped, written, **extra)
        message = (
            f"cannot write the history ({error}); keeping {buffered} records in memory and retrying"
            f" every {self._retry_interval_s:g} s — free disk space or fix the database"
        )
        return StoreStatus(False, message, buffered, dropped, written, **extra)

    def _run_writer(self) -> None:
        batch: list[Record] = []
        while True:
            stopping = self._stop.is_set()
            self._fill(batch, stopping)
            if not batch:
                if stopping:
                    return
                continue
            try:
                self._commit(batch)
            except Exception as exc:
                with self._lock:
                    first = self._error is None
                    self._error = _short_error(exc)
                    self._pending = len(batch)
                if first:
                    logger.exception("history store: write failed, will retry")
                if stopping:
                    logger.error("history store: %d records not written at shutdown: %s", len(batch), exc)
                    return
                self._stop.wait(self._retry_interval_s)
                continue
            with self._lock:
                self._pending = 0
                if self._error is not None:
                    logger.warning("history store: writing again")
                self._error = None

    def _fill(self, batch: list[Record], stopping: bool) -> None:
        """Add queued records to ``batch`` for up to one flush interval (not at all when stopping)."""
        deadline = time.monotonic() + (0 if stopping else self._flush_interval_s)
        if not batch and not stopping:
            try:
                batch.append(self._queue.get(timeout=0.2))
            except queue.Empty:
                return
            with self._lock:
                self._pending = len(batch)
        if any(_commit_now(r) for r in batch):
            deadline = 0
        while len(batch) < self._batch_size:
            remaining = deadline - time.monotonic()
            try:
                record = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            batch.append(record)
            if _commit_now(record):
                deadline = 0  # a pass's event: commit now (what is already queued comes along)
            with self._lock:
                self._pending = len(batch)

    def _commit(self, batch: list[Record]) -> None:
        """Write ``batch`` and empty it; poison records are set aside.

        Raises:
            Exception: the database cannot write now; ``batch`` keeps what is still to be written.
        """
        try:
            self._write(batch)
        except _DATABASE_ERRORS:
            raise
        except Exception:
            logger.warning("history store: a batch of %d failed on a record; writing one by one", len(batch))
        else:
            self._done(batch, written=len(batch))
            batch.clear()
            return
        while batch:  # find the poison: each record in its own transaction
            record = batch[0]
            try:
                self._write([record])
            except _DATABASE_ERRORS:
                raise
            except Exception as exc:
                self._set_aside(record, exc)
            else:
                self._done([record], written=1)
            batch.pop(0)

    def _done(self, records: list[Record], *, written: int) -> None:
        with self._lock:
            self._written += written
            self._bytes -= sum(record_bytes(r) for r in records)

    def _set_aside(self, record: Record, exc: Exception) -> None:
        letter = DeadLetter(time.time(), type(record).__name__, _describe(record), _short_error(exc))
        logger.error(
            "history store: setting aside a %s that cannot be written: %s", letter.kind, letter.error
        )
        with self._lock:
            self._poisoned += 1
            self._bytes -= record_bytes(record)
            self._dead.append(letter)

    def _write(self, batch: list[Record]) -> None:
        with write_transaction(self.engine) as conn:
            for record in batch:
                if isinstance(record, PlateEvent):
                    self._insert_event(conn, record)
                elif isinstance(record, PeopleCount):
                    _upsert_people(conn, record)
                elif isinstance(record, Crossing | ZoneVisit | HourTotals | PlateDirection):
                    write_analytics(conn, record)
                else:
                    raise TypeError(f"cannot store a {type(record).__name__}")

    def _insert_event(self, conn: sa.Connection, event: PlateEvent) -> None:
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
            probable=None if self.known is None else self.known.probable(conn, event.camera, text),
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
            self.plate_keys.insert(conn, [key])
        if not values.get("unsure", old is not None and old.unsure):
            count_hour(conn, event.camera, values["last_seen_ms"], +1)


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


def _upsert_people(conn: sa.Connection, count: PeopleCount) -> None:
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


def _describe(record: Record) -> str:
    """A short description of a record for the dead-letter list (no images)."""
    if isinstance(record, PlateEvent):
        return f"plate {record.text!r} on {record.camera!r} last seen {record.last_seen!s}"
    if isinstance(record, PeopleCount):
        return f"people count on {record.camera!r} for {record.minute!s}"
    return repr(record)[:200]


def _short_error(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    line = str(original).splitlines()[0] if str(original) else ""
    return redact(f"{type(original).__name__}: {line}".strip())


def _commit_now(record: Record) -> bool:
    """A pass's plate event (it carries a ``pass_key``) is committed without waiting for the batch."""
    return isinstance(record, PlateEvent) and bool(record.pass_key)
