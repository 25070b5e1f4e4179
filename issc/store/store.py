"""The history store: the one object callers hold, opening the database and joining its parts.

:class:`Store` migrates the database to the latest schema, then combines the writer
(:mod:`issc.store.writer`), the plate queries and analyst review (:mod:`issc.store.queries`,
:mod:`issc.store.review`), the watchlist (:mod:`issc.store.watchlist`), the key-value settings
(:mod:`issc.store.settings`), the dashboard's cameras (:mod:`issc.store.cameras`) and the counting
lines, zones and visits (:mod:`issc.store.analytics`), which share its engine; it holds the
webhook's outbox (:mod:`issc.store.outbox`) and owns the background retention purge
(:mod:`issc.store.retention`).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Self

from issc.store.analytics import AnalyticsTable
from issc.store.cameras import CameraTable
from issc.store.clips import ClipTable
from issc.store.database import create_engine
from issc.store.keys import PlateKeys
from issc.store.known import KnownPlates
from issc.store.migrate import migrate
from issc.store.outbox import Outbox
from issc.store.records import StoreStatus
from issc.store.retention import Purger, RetentionPolicy
from issc.store.review import ReviewTable
from issc.store.settings import SettingsTable
from issc.store.watchlist import WatchlistTable
from issc.store.writer.queued import QUEUE_MAX_BYTES
from issc.store.writer.thread import HistoryWriter
from issc.types import PlateEvent

logger = logging.getLogger(__name__)


class Store(
    HistoryWriter, ReviewTable, WatchlistTable, SettingsTable, CameraTable, AnalyticsTable, ClipTable
):
    """Plate history, people counts, watchlist, settings, analyst review, cameras, analytics and event
    clips in one SQL database.

    Implements ``EventSink``. The plate queries come with :class:`issc.store.review.ReviewTable`
    (a :class:`issc.store.queries.PlateQueries`).

    Usage::

        with Store("sqlite:///data/issc.db") as store:   # migrates, starts the writer
            store.add_plate_event(event)
            rows = store.search_plates(PlateFilter(q="LS15E8C"), limit=50)

    Args:
        database_url: SQLAlchemy URL (SQLite file by default; ``postgresql+psycopg://...`` works too).
        queue_size: Records that may wait for the writer; beyond that new ones are dropped and counted.
        flush_interval_s: Longest time a record waits before its batch is committed.
        batch_size: Most records per transaction.
        retry_interval_s: Wait between attempts while writes fail.
        queue_max_bytes: JPEG bytes that may wait for the writer; beyond that new records are dropped.
        retention_days: Events and their images older than this many days are purged (0: kept).
        retention_max_gb: While the events and their images take more than this, the oldest events go
            (0: no cap).
        retention_min_keep_h: The size cap never deletes events last seen within this many hours.
        snapshot_retention_days: Snapshots older than this many days are dropped, crops kept (0: kept).
        purge_interval_s: Time between background purges.
        purge_first_after_s: Delay of the first purge after ``start``.

    The retention arguments default to keeping everything; the service passes the ``store`` settings
    (``RETENTION_DAYS``, ``RETENTION_MAX_GB``, ``SNAPSHOT_RETENTION_DAYS``, ``RETENTION_MIN_KEEP_H``).

    Attributes:
        database_url: The URL it was opened with.
        engine: The SQLAlchemy engine every part uses.
        schema_revision: Alembic revision the database is at (the latest one).
        plate_keys: The fold-key table and which substring index it has.
        purger: The retention purge (``purger.purge()`` runs one now).
        outbox: Watchlist hits waiting for the webhook (:class:`issc.store.outbox.Outbox`).
    """

    def __init__(
        self,
        database_url: str = "sqlite:///data/issc.db",
        *,
        queue_size: int = 10_000,
        flush_interval_s: float = 0.5,
        batch_size: int = 500,
        retry_interval_s: float = 1.0,
        queue_max_bytes: int = QUEUE_MAX_BYTES,
        retention_days: int = 0,
        retention_max_gb: float = 0.0,
        retention_min_keep_h: float = 24.0,
        snapshot_retention_days: int = 0,
        purge_interval_s: float = 3600.0,
        purge_first_after_s: float = 60.0,
    ) -> None:
        if queue_size < 1 or batch_size < 1 or queue_max_bytes < 1:
            raise ValueError(
                f"queue_size={queue_size}, batch_size={batch_size} and queue_max_bytes={queue_max_bytes}"
                " must be at least 1"
            )
        policy = RetentionPolicy(
            retention_days, retention_max_gb, snapshot_retention_days, retention_min_keep_h
        )
        if not 0 < flush_interval_s <= 1.0:
            raise ValueError(
                f"flush_interval_s={flush_interval_s} must be in (0, 1] (a crash loses at most 1 s)"
            )
        self.database_url = database_url
        engine = create_engine(database_url)
        self.schema_revision = migrate(engine)
        plate_keys = PlateKeys.detect(engine)
        known = KnownPlates()
        HistoryWriter.__init__(
            self,
            engine,
            plate_keys,
            queue_size=queue_size,
            flush_interval_s=flush_interval_s,
            batch_size=batch_size,
            retry_interval_s=retry_interval_s,
            queue_max_bytes=queue_max_bytes,
            known=known,
        )
        WatchlistTable.__init__(self, engine)
        ReviewTable.__init__(self, engine, plate_keys, known, watchlist=self)
        SettingsTable.__init__(self, engine)
        self.outbox = Outbox(engine)
        CameraTable.__init__(self, engine)
        AnalyticsTable.__init__(self, engine)
        ClipTable.__init__(self, engine)
        self.purger = Purger(
            engine, plate_keys, policy, interval_s=purge_interval_s, first_after_s=purge_first_after_s
        )

    def start(self) -> Self:
        """Start the writer and the retention purge (idempotent). Returns ``self``."""
        HistoryWriter.start(self)
        self.purger.start()
        return self

    def save_provisional(self, event: PlateEvent) -> None:
        """Queue the provisional event of a pass still in view (``event.pass_key`` set); never blocks.

        The final event of the pass (same ``pass_key``) replaces it. The watchlist label is set here,
        as :class:`issc.alerts.sink.AlertingSink` sets it on final events; no alert is raised for it.
        """
        try:
            label = self.watchlist_match(event.text)
        except Exception:
            logger.exception("watchlist lookup failed for a provisional plate event")
            label = None
        if label is not None:
            event = dataclasses.replace(event, watchlist=label)
        self._enqueue(event)

    def status(self) -> StoreStatus:
        """Current health of the writer, with what the last retention purge did."""
        return dataclasses.replace(HistoryWriter.status(self), retention=self.purger.last)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the purge, write what is queued (one last attempt), stop the writer, release connections."""
        self.purger.stop(timeout)
        self.stop(timeout)
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()
