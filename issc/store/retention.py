"""Retention of the history: delete what is older than the settings allow, and give the space back.

A background thread (``issc-store-retention``, owned by :class:`issc.store.Store`) purges shortly
after start and then every ``interval_s`` (an hour):

1. full-frame snapshots (and event clips) of events older than ``SNAPSHOT_RETENTION_DAYS`` are
   dropped (crops stay);
2. events older than ``RETENTION_DAYS`` are deleted with their images and clips;
3. while the events and their images (all the purge can delete) take more than ``RETENTION_MAX_GB``,
   the oldest events are deleted, but never one last seen within ``RETENTION_MIN_KEEP_H`` hours:
   tables the purge never touches (people counts, known plates, the watchlist) do not count, so
   they can never make the cap delete the newest events.

Each step works in batches of :data:`BATCH` events, one short transaction each, so the writer never
waits for more than one batch. Deleting events lowers the hourly roll-up (``plate_hours``) by the
events deleted from each hour and removes fold keys that no event carries any more, so charts and
text search stay consistent with the events table. People counts (one small row per camera-minute,
no personal data) are kept.

Space: a new SQLite database is created with ``auto_vacuum = INCREMENTAL`` (set in
:mod:`issc.store.database`), and the purge returns its free pages to the file system in small steps
(``PRAGMA incremental_vacuum``). A database created before that has ``auto_vacuum = NONE``, which
only a ``VACUUM`` can change: when a purge leaves more than :data:`VACUUM_SHARE` of the file free,
the purge runs one ``VACUUM`` (which also switches the file to incremental, so it happens once; the
writer waits while it runs). PostgreSQL reuses freed space through its own autovacuum.

Several processes sharing one PostgreSQL (camera workers and a dashboard, ``docs/deploy.md``) each
own a purger; a session advisory lock (:data:`PURGE_LOCK_KEY`) lets one purge at a time, and the
others skip that round (the next one finds the work done).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from issc.store import schema
from issc.store.analytics import purge_analytics
from issc.store.database import write_transaction
from issc.store.keys import PlateKeys
from issc.store.records import HOUR_MS

logger = logging.getLogger(__name__)

#: Events deleted (or snapshots dropped) per transaction.
BATCH = 200
#: Free pages returned to the file system per transaction (SQLite, incremental auto-vacuum).
VACUUM_PAGES = 2000
#: A purge that leaves more than this share of a non-incremental SQLite file free runs ``VACUUM``.
VACUUM_SHARE = 0.25
#: Bytes counted per event row besides its images, to estimate the history's size.
ROW_BYTES = 300
_DAY_MS = 86_400_000
E = schema.plate_events
I = schema.plate_images  # noqa: E741
C = schema.plate_clips


@dataclass(frozen=True)
class RetentionPolicy:
    """How long the history keeps what (0 everywhere: keep everything forever).

    Attributes:
        days: Events and their images older than this many days are deleted (0: kept).
        max_gb: While the history is larger than this, the oldest events are deleted (0: no cap).
        snapshot_days: Snapshots of events older than this many days are dropped (0: kept).
        min_keep_h: The size cap never deletes events last seen within this many hours.
    """

    days: int = 30
    max_gb: float = 0.0
    snapshot_days: int = 7
    min_keep_h: float = 24.0

    def __post_init__(self) -> None:
        if self.days < 0 or self.max_gb < 0 or self.snapshot_days < 0 or self.min_keep_h < 0:
            raise ValueError(
                f"retention days={self.days}, max_gb={self.max_gb}, snapshot_days={self.snapshot_days} and"
                f" min_keep_h={self.min_keep_h} must be at least 0 (0: keep)"
            )

    @property
    def active(self) -> bool:
        """Whether anything is ever deleted."""
        return bool(self.days or self.max_gb or self.snapshot_days)


@dataclass(frozen=True)
class PurgeResult:
    """What one purge did."""

    events: int = 0
    snapshots: int = 0
    freed_pages: int = 0
    vacuumed: bool = False
    cap_unmet_h: float | None = None  # the size cap is not met: the rest is newer than this many hours

    def summary(self) -> str:
        """One line for the store's status and the log."""
        text = f"deleted {self.events} events, dropped {self.snapshots} snapshots"
        if self.cap_unmet_h is not None:
            text += (
                f"; still over RETENTION_MAX_GB, but every event left is newer than {self.cap_unmet_h:g} h"
                " (RETENTION_MIN_KEEP_H)"
            )
        if self.vacuumed:
            text += ", vacuumed"
        elif self.freed_pages:
            text += f", returned {self.freed_pages} pages"
        return text


#: PostgreSQL advisory lock held by the process purging a shared database.
PURGE_LOCK_KEY = 4157


@contextmanager
def _only_purger(engine: sa.Engine) -> Iterator[bool]:
    """Whether this process may purge now: always on SQLite (one process writes the file); on
    PostgreSQL, while it holds :data:`PURGE_LOCK_KEY` (released at the end, or with its session)."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as conn:
        got = bool(conn.execute(sa.text(f"SELECT pg_try_advisory_lock({PURGE_LOCK_KEY})")).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(sa.text(f"SELECT pg_advisory_unlock({PURGE_LOCK_KEY})"))
                conn.commit()


class Purger:
    """Applies a :class:`RetentionPolicy` to a history database, now or from a background thread.

    Args:
        engine: Engine of a migrated history database.
        plate_keys: The database's fold-key table (orphan keys are removed with their events).
        policy: What to keep.
        interval_s: Time between background purges.
        first_after_s: Delay of the first background purge after ``start``.
        clock: Current Unix time in seconds (tests pass a fixed one).
    """

    def __init__(
        self,
        engine: sa.Engine,
        plate_keys: PlateKeys,
        policy: RetentionPolicy,
        *,
        interval_s: float = 3600.0,
        first_after_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.plate_keys = plate_keys
        self.policy = policy
        self.interval_s = interval_s
        self.first_after_s = first_after_s
        self.clock = clock
        self.last: str = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the background thread (nothing when the policy keeps everything; idempotent)."""
        if not self.policy.active or (self._thread is not None and self._thread.is_alive()):
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="issc-store-retention", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background thread (a purge in progress ends after its current batch)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        wait = self.first_after_s
        while not self._stop.wait(wait):
            wait = self.interval_s
            try:
                result = self.purge()
            except Exception as exc:
                self.last = f"purge failed: {type(exc).__name__}"
                logger.exception("history store: retention purge failed; will try again in %.0f s", wait)
                continue
            if result.events or result.snapshots:
                logger.info("history store: retention purge %s", result.summary())

    def purge(self) -> PurgeResult:
        """One purge: snapshots, old events, the size cap, then space back to the file system.

        On PostgreSQL, skipped (nothing done) while another process purges the same database.
        """
        with _only_purger(self.engine) as mine:
            if not mine:
                when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(self.clock()))
                self.last = f"{when} UTC: skipped, another process was purging the shared database"
                return PurgeResult()
            return self._purge()

    def _purge(self) -> PurgeResult:
        now_ms = int(self.clock() * 1000)
        snapshots = events = 0
        if self.policy.snapshot_days:
            snapshots = self._drop_snapshots(now_ms - self.policy.snapshot_days * _DAY_MS)
        if self.policy.days:
            events += self._delete_before(now_ms - self.policy.days * _DAY_MS)
            purge_analytics(self.engine, now_ms - self.policy.days * _DAY_MS)
        unmet = None
        if self.policy.max_gb:
            capped, met = self._cap_size(int(self.policy.max_gb * 1e9), now_ms)
            events += capped
            if not met:
                unmet = self.policy.min_keep_h
                logger.warning(
                    "history store: the events take more than RETENTION_MAX_GB=%g, but those left are newer "
                    "than RETENTION_MIN_KEEP_H=%g h and are kept",
                    self.policy.max_gb,
                    self.policy.min_keep_h,
                )
        freed, vacuumed = self._give_space_back() if events or snapshots else (0, False)
        result = PurgeResult(events, snapshots, freed, vacuumed, unmet)
        self.last = f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(self.clock()))} UTC: {result.summary()}"
        return result

    def _drop_snapshots(self, before_ms: int) -> int:
        dropped = 0
        while not self._stop.is_set():
            with write_transaction(self.engine) as conn:
                ids = list(
                    conn.execute(
                        sa.select(E.c.id)
                        .where(E.c.last_seen_ms < before_ms, E.c.has_snapshot.is_(True))
                        .limit(BATCH)
                    ).scalars()
                )
                if not ids:
                    break
                conn.execute(I.update().where(I.c.event_id.in_(ids)).values(snapshot_jpeg=None))
                conn.execute(E.update().where(E.c.id.in_(ids)).values(has_snapshot=False))
            dropped += len(ids)
        with write_transaction(self.engine) as conn:  # clips are full pictures too: they go with them
            old = sa.select(E.c.id).where(E.c.last_seen_ms < before_ms)
            conn.execute(C.delete().where(C.c.event_id.in_(old.scalar_subquery())))
        return dropped

    def _delete_before(self, before_ms: int) -> int:
        deleted = 0
        while not self._stop.is_set():
            n = self._delete_oldest(before_ms)[0]
            if not n:
                break
            deleted += n
        return deleted

    def _cap_size(self, cap_bytes: int, now_ms: int) -> tuple[int, bool]:
        """Delete the oldest events while the events and their images take more than ``cap_bytes``,
        never one last seen within ``min_keep_h``.

        Returns:
            Events deleted, and whether the size is now within the cap.
        """
        size = self.history_bytes()
        if size <= cap_bytes:
            return 0, True
        with self.engine.connect() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(E)).scalar_one()
        per_event = max(size / max(count, 1), 1.0)
        keep_from_ms = now_ms - int(self.policy.min_keep_h * 3_600_000)
        deleted = 0
        while size > cap_bytes and not self._stop.is_set():
            wanted = min(BATCH, max(1, math.ceil((size - cap_bytes) / per_event)))
            n, freed = self._delete_oldest(keep_from_ms, wanted)
            if not n:
                return deleted, False
            deleted += n
            size -= max(freed, int(per_event * n))
        return deleted, True

    def _delete_oldest(self, before_ms: int | None, limit: int = BATCH) -> tuple[int, int]:
        """Delete one batch of the oldest events (last seen before ``before_ms`` when given).

        Returns:
            Events deleted and the bytes of their images and rows.
        """
        with write_transaction(self.engine) as conn:
            stmt = sa.select(E.c.id, E.c.camera, E.c.last_seen_ms, E.c.fold_key, E.c.unsure).order_by(
                E.c.last_seen_ms, E.c.id
            )
            if before_ms is not None:
                stmt = stmt.where(E.c.last_seen_ms < before_ms)
            rows = conn.execute(stmt.limit(limit)).all()
            if not rows:
                return 0, 0
            ids = [r.id for r in rows]
            image_bytes = conn.execute(
                sa.select(
                    sa.func.coalesce(sa.func.sum(sa.func.length(I.c.crop_jpeg)), 0)
                    + sa.func.coalesce(sa.func.sum(sa.func.length(I.c.snapshot_jpeg)), 0)
                ).where(I.c.event_id.in_(ids))
            ).scalar_one()
            image_bytes += conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(sa.func.length(C.c.mp4)), 0)).where(
                    C.c.event_id.in_(ids)
                )
            ).scalar_one()
            hours: dict[tuple[str, int], int] = {}
            for r in (r for r in rows if not r.unsure):  # the roll-up counts confident events only
                hour = (r.camera, int(r.last_seen_ms) // HOUR_MS * HOUR_MS)
                hours[hour] = hours.get(hour, 0) + 1
            conn.execute(I.delete().where(I.c.event_id.in_(ids)))
            conn.execute(C.delete().where(C.c.event_id.in_(ids)))
            conn.execute(schema.plate_reads.delete().where(schema.plate_reads.c.event_id.in_(ids)))
            conn.execute(schema.plate_audit.delete().where(schema.plate_audit.c.event_id.in_(ids)))
            conn.execute(E.delete().where(E.c.id.in_(ids)))
            h = schema.plate_hours
            for (camera, hour_ms), n in hours.items():
                where = (h.c.camera == camera, h.c.hour_ms == hour_ms)
                conn.execute(h.update().where(*where).values(plates=h.c.plates - n))
                conn.execute(h.delete().where(*where, h.c.plates <= 0))
            self._drop_orphan_keys(conn, {r.fold_key for r in rows if r.fold_key})
        return len(rows), int(image_bytes or 0) + ROW_BYTES * len(rows)

    def _drop_orphan_keys(self, conn: sa.Connection, keys: set[str]) -> None:
        """Remove fold keys that no event carries any more (and their substring-index rows)."""
        if not keys:
            return
        still = set(conn.execute(sa.select(E.c.fold_key).where(E.c.fold_key.in_(keys)).distinct()).scalars())
        orphans = sorted(keys - still)
        if not orphans:
            return
        k = schema.plate_keys
        if self.plate_keys.substring_index == "fts5":
            conn.execute(
                sa.text(
                    f"DELETE FROM {schema.KEYS_FTS} WHERE rowid IN "
                    "(SELECT rowid FROM plate_keys WHERE fold_key IN :keys)"
                ).bindparams(sa.bindparam("keys", expanding=True)),
                {"keys": orphans},
            )
        conn.execute(k.delete().where(k.c.fold_key.in_(orphans)))

    def history_bytes(self) -> int:
        """Estimated size of what the purge can delete: the events' images plus :data:`ROW_BYTES`
        per event (their rows, reads and audit). Tables it never purges do not count."""
        with self.engine.connect() as conn:
            images = conn.execute(
                sa.select(
                    sa.func.coalesce(sa.func.sum(sa.func.length(I.c.crop_jpeg)), 0)
                    + sa.func.coalesce(sa.func.sum(sa.func.length(I.c.snapshot_jpeg)), 0)
                )
            ).scalar_one()
            clips = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(sa.func.length(C.c.mp4)), 0))
            ).scalar_one()
            rows = conn.execute(sa.select(sa.func.count()).select_from(E)).scalar_one()
            return int(images or 0) + int(clips or 0) + ROW_BYTES * int(rows)

    def _give_space_back(self) -> tuple[int, bool]:
        """Return SQLite's free pages to the file system; returns (pages freed, whether VACUUM ran)."""
        if self.engine.dialect.name != "sqlite" or self.engine.url.database in (None, "", ":memory:"):
            return 0, False
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                return self._vacuum(cursor)
            finally:  # in WAL mode the file shrinks when the log is written back
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            raw.close()

    def _vacuum(self, cursor: Any) -> tuple[int, bool]:
        """Free pages back to the file system: incremental steps, or one VACUUM of an old file."""
        mode = cursor.execute("PRAGMA auto_vacuum").fetchone()[0]
        if mode == 2:  # incremental
            freed = 0
            while not self._stop.is_set():
                free = cursor.execute("PRAGMA freelist_count").fetchone()[0]
                if not free:
                    break
                cursor.execute(f"PRAGMA incremental_vacuum({VACUUM_PAGES})").fetchall()
                freed += min(free, VACUUM_PAGES)
            return freed, False
        pages = cursor.execute("PRAGMA page_count").fetchone()[0]
        free = cursor.execute("PRAGMA freelist_count").fetchone()[0]
        if pages and free / pages > VACUUM_SHARE:
            logger.info("history store: %d of %d pages free: VACUUM (switching to incremental)", free, pages)
            cursor.execute("PRAGMA auto_vacuum = INCREMENTAL")
            cursor.execute("VACUUM")
            return free, True
        return 0, False
