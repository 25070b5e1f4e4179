"""The writer thread: a queue bounded in records and bytes, batched commits, retries while the
database cannot write, poison records set aside, and the health the pages show."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from typing import Any, Self

import sqlalchemy as sa

from issc.store.database import write_transaction
from issc.store.keys import PlateKeys
from issc.store.known import KnownPlates
from issc.store.records import DeadLetter, StoreStatus
from issc.store.writer.failures import DATABASE_ERRORS, DEAD_LETTERS_KEPT, describe, short_error
from issc.store.writer.queued import QUEUE_MAX_BYTES, Record, commit_now, record_bytes
from issc.store.writer.rows import write_records
from issc.types import AnalyticsRecord, PeopleCount, PlateEvent

logger = logging.getLogger(__name__)

#: Put on the queue by ``flush`` and ``stop``: the writer commits what is queued now instead of
#: waiting out its flush interval (never written, never counted).
_WAKE: Any = object()


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
        self._progress = threading.Condition(self._lock)  # notified when records are written or set aside
        self._pending = 0  # records taken off the queue but not yet committed
        self._wakes = 0  # _WAKE marks on the queue (not records)
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
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _wake(self) -> None:
        """Have the writer commit what is queued now rather than at the end of its flush interval."""
        with self._lock:
            if self._wakes:
                return  # one is on its way already
            try:
                self._queue.put_nowait(_WAKE)
            except queue.Full:
                return  # a full queue never keeps the writer waiting
            self._wakes += 1

    def _is_wake(self, item: Record) -> bool:
        """Whether ``item``, just taken off the queue, is a wake mark (then counted as taken)."""
        if item is not _WAKE:
            return False
        with self._lock:
            self._wakes -= 1
        return True

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
            if self._written + self._poisoned >= target:
                return True
        self._wake()
        with self._progress:
            return self._progress.wait_for(lambda: self._written + self._poisoned >= target, timeout)

    def dead_letters(self) -> list[DeadLetter]:
        """The latest records set aside because they could not be written (oldest first)."""
        with self._lock:
            return list(self._dead)

    def status(self) -> StoreStatus:
        """Current health: whether writes succeed, what is buffered, dropped, set aside and written."""
        with self._lock:
            buffered = self._queue.qsize() - self._wakes + self._pending
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
                    self._error = short_error(exc)
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
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                return
            if self._is_wake(first):
                return  # nothing was queued: the caller checks for a stop
            batch.append(first)
            with self._lock:
                self._pending = len(batch)
        if any(commit_now(r) for r in batch):
            deadline = 0
        while len(batch) < self._batch_size:
            remaining = deadline - time.monotonic()
            try:
                record = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if self._is_wake(record):
                deadline = 0  # flush or stop: take what is queued already, then commit
                continue
            batch.append(record)
            if commit_now(record):
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
        except DATABASE_ERRORS:
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
            except DATABASE_ERRORS:
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
            self._progress.notify_all()

    def _set_aside(self, record: Record, exc: Exception) -> None:
        letter = DeadLetter(time.time(), type(record).__name__, describe(record), short_error(exc))
        logger.error(
            "history store: setting aside a %s that cannot be written: %s", letter.kind, letter.error
        )
        with self._lock:
            self._poisoned += 1
            self._bytes -= record_bytes(record)
            self._dead.append(letter)
            self._progress.notify_all()

    def _write(self, batch: list[Record]) -> None:
        with write_transaction(self.engine) as conn:
            write_records(conn, batch, self.plate_keys, self.known)
