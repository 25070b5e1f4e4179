"""The history writer: a bounded queue, one writer thread, batched inserts, and the writer's health.

Writes never block the caller: ``add_plate_event`` / ``add_people_count`` put the record on a bounded
queue and return. One writer thread (``issc-store-writer``) takes records off the queue and commits
them in batches at least every ``flush_interval_s``, so a crash loses at most that much. When a write
fails (disk full, read-only file, database down) the writer keeps the batch, reports the failure in
:meth:`HistoryWriter.status`, retries, and writes the batch once the database works again; meanwhile
new records wait on the queue and, once it is full, are dropped (newest first) and counted.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Self

import sqlalchemy as sa

from issc.plates.text import normalize
from issc.search import fold
from issc.store import schema
from issc.store.database import dialect_insert
from issc.store.keys import PlateKeys
from issc.store.records import HOUR_MS, StoreStatus, to_ms
from issc.types import PeopleCount, PlateEvent

logger = logging.getLogger(__name__)

Record = PlateEvent | PeopleCount


class HistoryWriter:
    """Queues plate events and people counts and commits them from one thread.

    :class:`issc.store.Store` adds ``close`` (stop, then release the engine), completing ``EventSink``.

    Args:
        engine: Engine of a migrated history database.
        plate_keys: The database's fold-key table, kept up to date with each event.
        queue_size: Records that may wait for the writer; beyond that new ones are dropped and counted.
        flush_interval_s: Longest time a record waits before its batch is committed.
        batch_size: Most records per transaction.
        retry_interval_s: Wait between attempts while writes fail.
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
    ) -> None:
        self.engine = engine
        self.plate_keys = plate_keys
        self._queue: queue.Queue[Record] = queue.Queue(maxsize=queue_size)
        self._flush_interval_s = flush_interval_s
        self._batch_size = batch_size
        self._retry_interval_s = retry_interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending = 0  # records taken off the queue but not yet committed
        self._accepted = 0
        self._written = 0
        self._dropped = 0
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

    def _enqueue(self, record: Record) -> None:
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            with self._lock:
                self._dropped += 1
            return
        with self._lock:
            self._accepted += 1

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued before this call is committed.

        Returns:
            True when written; False on timeout (e.g. while the disk is failing).
        """
        with self._lock:
            target = self._accepted
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._written >= target:
                    return True
            time.sleep(0.02)
        return False

    def status(self) -> StoreStatus:
        """Current health: whether writes succeed, what is buffered, dropped and written."""
        with self._lock:
            buffered = self._queue.qsize() + self._pending
            error, dropped, written = self._error, self._dropped, self._written
        if error is None:
            message = "writing normally" if self._thread is not None else "writer not started"
            return StoreStatus(True, message, buffered, dropped, written)
        message = (
            f"cannot write the history ({error}); keeping {buffered} records in memory and retrying"
            f" every {self._retry_interval_s:g} s — free disk space or fix the database"
        )
        return StoreStatus(False, message, buffered, dropped, written)

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
                self._write(batch)
            except Exception as exc:
                with self._lock:
                    first = self._error is None
                    self._error = _short_error(exc)
                if first:
                    logger.exception("history store: write failed, will retry")
                if stopping:
                    logger.error("history store: %d records not written at shutdown: %s", len(batch), exc)
                    return
                self._stop.wait(self._retry_interval_s)
                continue
            with self._lock:
                self._written += len(batch)
                self._pending = 0
                if self._error is not None:
                    logger.warning("history store: writing again")
                self._error = None
            batch = []

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
        while len(batch) < self._batch_size:
            remaining = deadline - time.monotonic()
            try:
                record = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            batch.append(record)
            with self._lock:
                self._pending = len(batch)

    def _write(self, batch: list[Record]) -> None:
        with self.engine.begin() as conn:
            for record in batch:
                if isinstance(record, PlateEvent):
                    self._insert_event(conn, record)
                else:
                    _upsert_people(conn, record)

    def _insert_event(self, conn: sa.Connection, event: PlateEvent) -> None:
        text = normalize(event.text) or event.text
        key = fold(text)
        result = conn.execute(
            schema.plate_events.insert().values(
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
            )
        )
        if event.crop_jpeg or event.snapshot_jpeg:
            conn.execute(
                schema.plate_images.insert().values(
                    event_id=result.inserted_primary_key[0],
                    crop_jpeg=event.crop_jpeg or None,
                    snapshot_jpeg=event.snapshot_jpeg or None,
                )
            )
        self.plate_keys.insert(conn, [key])
        hours = dialect_insert(conn)(schema.plate_hours).values(
            camera=event.camera, hour_ms=to_ms(event.last_seen) // HOUR_MS * HOUR_MS, plates=1
        )
        conn.execute(
            hours.on_conflict_do_update(
                index_elements=["camera", "hour_ms"], set_={"plates": schema.plate_hours.c.plates + 1}
            )
        )


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


def _short_error(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    return f"{type(original).__name__}: {str(original).splitlines()[0] if str(original) else ''}".strip()
