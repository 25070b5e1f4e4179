"""The history store: plate events, people counts, watchlist and settings in one SQL database.

Writes never block the caller: ``add_plate_event`` / ``add_people_count`` put the record on a bounded
queue and return. One writer thread (``issc-store-writer``) takes records off the queue and commits
them in batches at least every ``flush_interval_s`` (default 0.5 s), so a crash loses at most that
much. When a write fails (disk full, read-only file, database down) the writer keeps the batch,
reports the failure in :meth:`Store.status`, retries, and writes the batch once the database works
again; meanwhile new records wait on the queue and, once it is full, are dropped (newest first) and
counted.

Reads (search, charts, CSV, images) run on the caller's thread with their own pooled connection.
SQLite runs in WAL mode, so readers never wait for the writer.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import StaticPool

from issc.plates.text import levenshtein, normalize
from issc.search import allowed_distance, fold, is_near, split_pieces
from issc.store import schema
from issc.store.records import (
    HourCount,
    PeopleBucket,
    PlateFilter,
    PlateFrequency,
    PlateRow,
    StoreStatus,
    WatchlistEntry,
    from_ms,
    to_ms,
)
from issc.tuning import tuning_from_dict
from issc.types import PeopleCount, PlateEvent, Tuning

logger = logging.getLogger(__name__)

E = schema.plate_events
HOUR_MS = 3_600_000
#: When a text query matches more distinct plates than this, filter events by pattern instead of by key.
MAX_KEYS = 1000
#: Sort order of the characters a fold key can hold (``fold`` leaves only 3 and 9 of the digits).
_KEY_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
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
)

Record = PlateEvent | PeopleCount


def create_engine(database_url: str) -> sa.Engine:
    """An engine for ``database_url``; SQLite gets its parent folder, WAL mode and real transactions.

    Args:
        database_url: SQLAlchemy URL, e.g. ``sqlite:///data/issc.db`` or
            ``postgresql+psycopg://user:pw@host/db``.

    Returns:
        The engine. Nothing is connected yet.
    """
    url = sa.make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    memory = url.database in (None, "", ":memory:")
    if memory:
        engine = sa.create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 10})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling skips BEGIN before DDL; take control of it (SQLAlchemy's
        # documented recipe) so that migrations and write batches are atomic.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA busy_timeout = 10000")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = FULL")  # one fsync per batch, at most one per second
            if not memory:
                try:
                    cursor.execute("PRAGMA journal_mode = WAL")
                except Exception as exc:  # a read-only file still serves reads
                    logger.warning("could not switch SQLite to WAL mode: %s", exc)
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine


class Store:
    """Plate history, people counts, watchlist and settings. Implements ``EventSink``.

    Usage::

        with Store("sqlite:///data/issc.db") as store:   # migrates, starts the writer
            store.add_plate_event(event)
            rows = store.search_plates(q="LS15E8C", limit=50)

    Args:
        database_url: SQLAlchemy URL (SQLite file by default; ``postgresql+psycopg://...`` works too).
        queue_size: Records that may wait for the writer; beyond that new ones are dropped and counted.
        flush_interval_s: Longest time a record waits before its batch is committed.
        batch_size: Most records per transaction.
        retry_interval_s: Wait between attempts while writes fail.
    """

    def __init__(
        self,
        database_url: str = "sqlite:///data/issc.db",
        *,
        queue_size: int = 10_000,
        flush_interval_s: float = 0.5,
        batch_size: int = 500,
        retry_interval_s: float = 1.0,
    ) -> None:
        if queue_size < 1 or batch_size < 1:
            raise ValueError(f"queue_size={queue_size} and batch_size={batch_size} must be at least 1")
        if not 0 < flush_interval_s <= 1.0:
            raise ValueError(
                f"flush_interval_s={flush_interval_s} must be in (0, 1] (a crash loses at most 1 s)"
            )
        self.database_url = database_url
        self.engine = create_engine(database_url)
        self.schema_version = schema.migrate(self.engine)
        self._substring_index = self._detect_substring_index()
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
        self._watchlist: tuple[WatchlistEntry, ...] = ()
        self._reload_watchlist()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Store:
        """Start the writer thread (idempotent). Returns ``self``."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run_writer, name="issc-store-writer", daemon=True)
            self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (one last attempt), stop the writer and release connections."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing (EventSink)

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
                    self._upsert_people(conn, record)

    def _insert_event(self, conn: sa.Connection, event: PlateEvent) -> None:
        text = normalize(event.text) or event.text
        key = fold(text)
        result = conn.execute(
            E.insert().values(
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
        insert_keys(conn, [key], fts=self._substring_index == "fts5")
        hours = _dialect_insert(conn)(schema.plate_hours).values(
            camera=event.camera, hour_ms=to_ms(event.last_seen) // HOUR_MS * HOUR_MS, plates=1
        )
        conn.execute(
            hours.on_conflict_do_update(
                index_elements=["camera", "hour_ms"], set_={"plates": schema.plate_hours.c.plates + 1}
            )
        )

    def _upsert_people(self, conn: sa.Connection, count: PeopleCount) -> None:
        values = {
            "camera": count.camera,
            "minute_ms": to_ms(count.minute),
            "max_count": int(count.max_count),
            "mean_count": float(count.mean_count),
            "samples": int(count.samples),
        }
        insert = _dialect_insert(conn)(schema.people_counts).values(**values)
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["camera", "minute_ms"],
                set_={k: insert.excluded[k] for k in ("max_count", "mean_count", "samples")},
            )
        )

    # ------------------------------------------------------------------ plate queries

    def search_plates(
        self,
        q: str | None = None,
        camera: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        min_conf: float | None = None,
        watchlist_only: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> list[PlateRow]:
        """One page of plate events matching the filters, newest (``last_seen``) first.

        Args:
            q: Plate text: substrings and near misses match (see :class:`PlateFilter`).
            camera: Only this camera.
            since: Only events last seen at or after this time (timezone-aware).
            until: Only events last seen before this time (timezone-aware).
            min_conf: Only events with at least this confidence.
            watchlist_only: Only watchlist hits.
            limit: Page size, 1..10000.
            offset: Rows to skip.

        Returns:
            The rows of the page (images not included).
        """
        if not 1 <= limit <= 10_000 or offset < 0:
            raise ValueError(f"limit={limit} must be in 1..10000 and offset={offset} at least 0")
        flt = PlateFilter(q, camera, since, until, min_conf, watchlist_only)
        with self.engine.connect() as conn:
            where = self._where(conn, flt)
            if where is None:
                return []
            stmt = sa.select(*_ROW_COLUMNS).where(*where).order_by(E.c.last_seen_ms.desc(), E.c.id.desc())
            rows = conn.execute(stmt.limit(limit).offset(offset)).all()
        return [_plate_row(r) for r in rows]

    def count_plates(
        self,
        q: str | None = None,
        camera: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        min_conf: float | None = None,
        watchlist_only: bool = False,
    ) -> int:
        """How many plate events match the filters (same arguments as :meth:`search_plates`)."""
        flt = PlateFilter(q, camera, since, until, min_conf, watchlist_only)
        with self.engine.connect() as conn:
            where = self._where(conn, flt)
            if where is None:
                return 0
            return int(conn.execute(sa.select(sa.func.count()).select_from(E).where(*where)).scalar_one())

    def get_plate(self, event_id: int) -> PlateRow | None:
        """One plate event by id, or ``None``."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(*_ROW_COLUMNS).where(E.c.id == event_id)).first()
        return None if row is None else _plate_row(row)

    def plate_image(self, event_id: int, kind: Literal["crop", "snapshot"]) -> bytes | None:
        """The crop or snapshot JPEG of an event; ``None`` when the event or the image is missing."""
        if kind not in ("crop", "snapshot"):
            raise ValueError(f"kind={kind!r} must be 'crop' or 'snapshot'")
        column = schema.plate_images.c[f"{kind}_jpeg"]
        with self.engine.connect() as conn:
            data = conn.execute(sa.select(column).where(schema.plate_images.c.event_id == event_id)).scalar()
        return bytes(data) if data else None

    def plates_per_hour(
        self,
        q: str | None = None,
        camera: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        min_conf: float | None = None,
        watchlist_only: bool = False,
    ) -> list[HourCount]:
        """Plate events per UTC hour and camera, oldest hour first (hours without events left out).

        Without a text, confidence or watchlist filter, whole hours come from the hourly roll-up the
        writer keeps, and only the partial hours at the ends of the range are counted from events.
        """
        flt = PlateFilter(q, camera, since, until, min_conf, watchlist_only)
        with self.engine.connect() as conn:
            if flt.query_text or flt.min_conf is not None or flt.watchlist_only:
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

    def top_plates(
        self,
        q: str | None = None,
        camera: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        min_conf: float | None = None,
        watchlist_only: bool = False,
        limit: int = 10,
    ) -> list[PlateFrequency]:
        """The most frequent plate texts among the matching events (ties: most recently seen first)."""
        flt = PlateFilter(q, camera, since, until, min_conf, watchlist_only)
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

    def people_over_time(
        self,
        camera: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        bucket_minutes: int = 60,
    ) -> list[PeopleBucket]:
        """People per camera in buckets of ``bucket_minutes``: peak and mean, oldest bucket first."""
        if bucket_minutes < 1:
            raise ValueError(f"bucket_minutes={bucket_minutes} must be at least 1")
        flt = PlateFilter(None, camera, since, until)  # validates the times
        p = schema.people_counts
        size = bucket_minutes * 60_000
        bucket = (p.c.minute_ms // size).label("bucket")
        where = []
        if flt.camera is not None:
            where.append(p.c.camera == flt.camera)
        if flt.since is not None:
            where.append(p.c.minute_ms >= to_ms(flt.since))
        if flt.until is not None:
            where.append(p.c.minute_ms < to_ms(flt.until))
        stmt = (
            sa.select(bucket, p.c.camera, sa.func.max(p.c.max_count), sa.func.avg(p.c.mean_count))
            .where(*where)
            .group_by(bucket, p.c.camera)
            .order_by(bucket, p.c.camera)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [PeopleBucket(from_ms(int(b) * size), cam, int(mx), float(mean)) for b, cam, mx, mean in rows]

    def iter_plates_csv(
        self,
        q: str | None = None,
        camera: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        min_conf: float | None = None,
        watchlist_only: bool = False,
        chunk_rows: int = 1000,
    ) -> Iterator[str]:
        """CSV of exactly the matching events, newest first, as text chunks (header first).

        Rows are streamed from the database ``chunk_rows`` at a time; memory stays flat for any count.
        Times are ISO-8601 UTC; ``box`` is ``x1 y1 x2 y2``.
        """
        flt = PlateFilter(q, camera, since, until, min_conf, watchlist_only)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        with self.engine.connect() as conn:
            where = self._where(conn, flt)
            if where is not None:
                stmt = sa.select(*_ROW_COLUMNS).where(*where).order_by(E.c.last_seen_ms.desc(), E.c.id.desc())
                result = conn.execution_options(yield_per=chunk_rows).execute(stmt)
                for partition in result.partitions():
                    for r in partition:
                        writer.writerow(_csv_row(r))
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        if buffer.tell():
            yield buffer.getvalue()

    def _where(self, conn: sa.Connection, flt: PlateFilter) -> list[sa.ColumnElement[bool]] | None:
        """SQL conditions for ``flt``; ``None`` when no event can match (unknown plate text)."""
        where: list[sa.ColumnElement[bool]] = []
        if flt.camera is not None:
            where.append(E.c.camera == flt.camera)
        if flt.since is not None:
            where.append(E.c.last_seen_ms >= to_ms(flt.since))
        if flt.until is not None:
            where.append(E.c.last_seen_ms < to_ms(flt.until))
        if flt.min_conf is not None:
            where.append(E.c.confidence >= flt.min_conf)
        if flt.watchlist_only:
            where.append(E.c.watchlist.is_not(None))
        query_key = fold(flt.query_text)
        if query_key:
            keys = self._matching_keys(conn, query_key)
            if keys is None:
                where.append(E.c.fold_key.contains(query_key, autoescape=True))
            elif not keys:
                return None
            else:
                where.append(E.c.fold_key.in_(sorted(keys)))
        return where

    def matching_keys(self, q: str) -> set[str] | None:
        """Fold keys a text query matches: substrings plus near misses (``None``: too many to list)."""
        with self.engine.connect() as conn:
            return self._matching_keys(conn, fold(q))

    def _matching_keys(self, conn: sa.Connection, query_key: str) -> set[str] | None:
        if len(query_key) < 3:
            return None  # too short for an index to help: filter events by pattern
        keys = set(conn.execute(self._substring_keys_stmt(query_key).limit(MAX_KEYS + 1)).scalars())
        if len(keys) > MAX_KEYS:
            return None
        distance = allowed_distance(len(query_key))
        if distance:
            keys.update(self._near_keys(conn, query_key, distance))
        return keys if len(keys) <= MAX_KEYS else None

    def _substring_keys_stmt(self, fragment: str) -> sa.Select[tuple[str]]:
        pattern = f"%{fragment}%"
        if self._substring_index == "fts5" and len(fragment) >= 3:
            fts = sa.table(schema.KEYS_FTS, sa.column("fold_key"))
            return sa.select(fts.c.fold_key).where(fts.c.fold_key.like(pattern))
        return sa.select(schema.plate_keys.c.fold_key).where(schema.plate_keys.c.fold_key.like(pattern))

    def _near_keys(self, conn: sa.Connection, query_key: str, distance: int) -> set[str]:
        """Keys within ``distance`` edits: candidates by pigeonhole pieces, then exact check."""
        k = schema.plate_keys.c
        pieces = split_pieces(query_key, distance)
        length_ok = sa.func.length(k.fold_key).between(len(query_key) - distance, len(query_key) + distance)
        candidates: set[str] = set()
        for column, piece in ((k.fold_key, pieces[0]), (k.fold_rev, pieces[-1][::-1])):
            stmt = sa.select(k.fold_key).where(_prefix_condition(column, piece), length_ok)
            candidates.update(conn.execute(stmt).scalars())
        for piece in pieces[1:-1]:
            candidates.update(conn.execute(self._substring_keys_stmt(piece)).scalars())
        return {key for key in candidates if is_near(key, query_key, distance)}

    def _detect_substring_index(self) -> str | None:
        with self.engine.connect() as conn:
            inspector = sa.inspect(conn)
            if conn.dialect.name == "sqlite" and inspector.has_table(schema.KEYS_FTS):
                return "fts5"
            if conn.dialect.name == "postgresql" and any(
                ix["name"] == schema.KEYS_TRGM_INDEX for ix in inspector.get_indexes("plate_keys")
            ):
                return "pg_trgm"
        return None

    # ------------------------------------------------------------------ watchlist

    def add_watchlist(self, plate: str, label: str, max_distance: int | None = None) -> WatchlistEntry:
        """Add a plate to flag.

        Args:
            plate: Plate text (normalised before storing).
            label: What to show on a hit, e.g. "stolen".
            max_distance: Edits allowed after look-alike folding; default about one per six characters.

        Returns:
            The stored entry.
        """
        text = normalize(plate)
        if not text:
            raise ValueError(f"plate={plate!r} has no letters or digits")
        if not label.strip():
            raise ValueError("label must not be empty")
        distance = allowed_distance(len(text)) if max_distance is None else max_distance
        if distance < 0:
            raise ValueError(f"max_distance={max_distance} must be at least 0")
        created = time.time()
        with self.engine.begin() as conn:
            entry_id = conn.execute(
                schema.watchlist.insert().values(
                    plate=text, label=label.strip(), max_distance=distance, created_ms=int(created * 1000)
                )
            ).inserted_primary_key[0]
        self._reload_watchlist()
        return next(e for e in self._watchlist if e.id == entry_id)

    def update_watchlist(
        self,
        entry_id: int,
        *,
        plate: str | None = None,
        label: str | None = None,
        max_distance: int | None = None,
    ) -> WatchlistEntry | None:
        """Change fields of an entry; returns the new entry or ``None`` when the id is unknown."""
        values: dict[str, Any] = {}
        if plate is not None:
            if not normalize(plate):
                raise ValueError(f"plate={plate!r} has no letters or digits")
            values["plate"] = normalize(plate)
        if label is not None:
            if not label.strip():
                raise ValueError("label must not be empty")
            values["label"] = label.strip()
        if max_distance is not None:
            if max_distance < 0:
                raise ValueError(f"max_distance={max_distance} must be at least 0")
            values["max_distance"] = max_distance
        if values:
            with self.engine.begin() as conn:
                conn.execute(
                    schema.watchlist.update().where(schema.watchlist.c.id == entry_id).values(**values)
                )
            self._reload_watchlist()
        return next((e for e in self._watchlist if e.id == entry_id), None)

    def remove_watchlist(self, entry_id: int) -> bool:
        """Delete an entry; False when the id is unknown."""
        with self.engine.begin() as conn:
            deleted = conn.execute(
                schema.watchlist.delete().where(schema.watchlist.c.id == entry_id)
            ).rowcount
        self._reload_watchlist()
        return bool(deleted)

    def list_watchlist(self) -> list[WatchlistEntry]:
        """All entries, oldest first."""
        return list(self._watchlist)

    def watchlist_match(self, text: str) -> str | None:
        """Label of the closest watchlist entry within its allowed distance of ``text``, else ``None``.

        Distances are counted after look-alike folding (``LS15E8C`` is 0 edits from ``LS15EBC``).
        Reads an in-memory copy: cheap enough to call for every event.
        """
        key = fold(text)
        if not key:
            return None
        best: tuple[int, str] | None = None
        for entry in self._watchlist:
            entry_key = fold(entry.plate)
            if abs(len(key) - len(entry_key)) > entry.max_distance:
                continue
            distance = levenshtein(key, entry_key)
            if distance <= entry.max_distance and (best is None or distance < best[0]):
                best = (distance, entry.label)
        return None if best is None else best[1]

    def _reload_watchlist(self) -> None:
        w = schema.watchlist
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(w).order_by(w.c.id)).all()
        self._watchlist = tuple(
            WatchlistEntry(r.id, r.plate, r.label, r.max_distance, from_ms(r.created_ms)) for r in rows
        )

    # ------------------------------------------------------------------ settings

    def get_setting(self, key: str, default: Any = None) -> Any:
        """The JSON value stored under ``key``, or ``default``."""
        s = schema.settings
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(s.c.value).where(s.c.key == key)).scalar()
        return default if value is None else json.loads(value)

    def set_setting(self, key: str, value: Any) -> None:
        """Store ``value`` (anything ``json.dumps`` takes) under ``key``, replacing what was there."""
        encoded = json.dumps(value)
        with self.engine.begin() as conn:
            insert = _dialect_insert(conn)(schema.settings).values(key=key, value=encoded)
            conn.execute(insert.on_conflict_do_update(index_elements=["key"], set_={"value": encoded}))

    def load_tuning(self, default: Tuning | None = None) -> Tuning:
        """The tuning saved by :meth:`save_tuning`; unknown or bad saved values fall back to ``default``."""
        base = default or Tuning()
        saved = self.get_setting("tuning")
        if not isinstance(saved, dict):
            return base
        try:
            return tuning_from_dict(saved, base)
        except (TypeError, ValueError) as exc:
            logger.warning("ignoring saved tuning %r: %s", saved, exc)
            return base

    def save_tuning(self, tuning: Tuning) -> None:
        """Persist ``tuning`` so the next start uses it."""
        self.set_setting("tuning", dataclasses.asdict(tuning))


def insert_keys(conn: sa.Connection, keys: Iterable[str], *, fts: bool) -> None:
    """Record fold keys in ``plate_keys`` (and the FTS table) unless already there."""
    k = schema.plate_keys
    for key in keys:
        inserted = conn.execute(
            _dialect_insert(conn)(k).values(fold_key=key, fold_rev=key[::-1]).on_conflict_do_nothing()
        ).rowcount
        if inserted and fts:
            conn.execute(
                sa.text(
                    f"INSERT INTO {schema.KEYS_FTS} (rowid, fold_key) "
                    "SELECT rowid, fold_key FROM plate_keys WHERE fold_key = :key"
                ),
                {"key": key},
            )


def _hour_counts(counts: dict[tuple[int, str], int]) -> list[HourCount]:
    return [HourCount(from_ms(h * HOUR_MS), cam, n) for (h, cam), n in sorted(counts.items()) if n]


def _dialect_insert(conn: sa.Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _prefix_condition(column: sa.ColumnElement[str], prefix: str) -> sa.ColumnElement[bool]:
    """``column`` starts with ``prefix``, as an index range (portable across collations)."""
    lower = column >= prefix
    stem = prefix.rstrip("Z")
    if not stem:
        return lower
    upper = stem[:-1] + _KEY_ALPHABET[_KEY_ALPHABET.index(stem[-1]) + 1]
    return sa.and_(lower, column < upper)


def _short_error(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    return f"{type(original).__name__}: {str(original).splitlines()[0] if str(original) else ''}".strip()


_ROW_COLUMNS = (
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
)


def _parse_box(box: str) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = (int(v) for v in box.split(","))
    return (x1, y1, x2, y2)


def _plate_row(r: sa.Row[Any]) -> PlateRow:
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
    )


def _csv_row(r: sa.Row[Any]) -> list[Any]:
    return [
        r.id,
        from_ms(r.first_seen_ms).isoformat(),
        from_ms(r.last_seen_ms).isoformat(),
        r.camera,
        r.text,
        f"{r.confidence:.3f}",
        r.reads,
        r.ocr_calls,
        r.watchlist or "",
        r.box.replace(",", " "),
    ]
