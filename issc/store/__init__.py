"""Plate history, people counts, watchlist and settings (SQLAlchemy; SQLite by default).

See :mod:`issc.store.store` for the writer's guarantees and :mod:`issc.store.schema` for migrations.
"""

from issc.store.records import (
    HourCount,
    PeopleBucket,
    PlateFilter,
    PlateFrequency,
    PlateRow,
    StoreStatus,
    WatchlistEntry,
)
from issc.store.schema import LATEST_VERSION, migrate
from issc.store.store import CSV_COLUMNS, Store, create_engine

__all__ = [
    "CSV_COLUMNS",
    "LATEST_VERSION",
    "HourCount",
    "PeopleBucket",
    "PlateFilter",
    "PlateFrequency",
    "PlateRow",
    "Store",
    "StoreStatus",
    "WatchlistEntry",
    "create_engine",
    "migrate",
]
