"""Plate history, people counts, watchlist and settings (SQLAlchemy; SQLite by default).

One module per job: :mod:`~issc.store.store` (the :class:`Store` callers hold),
:mod:`~issc.store.writer` (queue and writer thread), :mod:`~issc.store.queries` (plate queries,
each taking a :class:`PlateFilter`), :mod:`~issc.store.keys` (fold keys for text search),
:mod:`~issc.store.watchlist`, :mod:`~issc.store.settings` (key-value), :mod:`~issc.store.review`
(corrections, audit trail, review queue) with :mod:`~issc.store.known` (confirmed plates), :mod:`~issc.store.records`
(what queries return), :mod:`~issc.store.schema` (the latest tables), :mod:`~issc.store.migrate`
(runs the Alembic revisions in ``migrations/``; ``python -m issc.store`` for operators) and
:mod:`~issc.store.database` (engines).
"""

from issc.store.database import create_engine
from issc.store.migrate import head_revision
from issc.store.queries import CSV_COLUMNS
from issc.store.records import (
    AuditEntry,
    CorrectionPair,
    CorrectionResult,
    HourCount,
    LabelledCrop,
    PeopleBucket,
    PlateDetail,
    PlateFilter,
    PlateFrequency,
    PlateRow,
    ReviewItem,
    StoredRead,
    StoreStatus,
    WatchlistEntry,
)
from issc.store.store import Store

__all__ = [
    "CSV_COLUMNS",
    "AuditEntry",
    "CorrectionPair",
    "CorrectionResult",
    "HourCount",
    "LabelledCrop",
    "PeopleBucket",
    "PlateDetail",
    "PlateFilter",
    "PlateFrequency",
    "PlateRow",
    "ReviewItem",
    "Store",
    "StoreStatus",
    "StoredRead",
    "WatchlistEntry",
    "create_engine",
    "head_revision",
]
