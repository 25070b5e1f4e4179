"""The history store: the one object callers hold, opening the database and joining its parts.

:class:`Store` migrates the database to the latest schema, then combines the writer
(:mod:`issc.store.writer`), the plate queries (:mod:`issc.store.queries`), the watchlist
(:mod:`issc.store.watchlist`) and the key-value settings (:mod:`issc.store.settings`), which share
its engine.
"""

from __future__ import annotations

from issc.store.database import create_engine
from issc.store.keys import PlateKeys
from issc.store.migrate import migrate
from issc.store.queries import PlateQueries
from issc.store.settings import SettingsTable
from issc.store.watchlist import WatchlistTable
from issc.store.writer import HistoryWriter


class Store(HistoryWriter, PlateQueries, WatchlistTable, SettingsTable):
    """Plate history, people counts, watchlist and settings in one SQL database. Implements ``EventSink``.

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

    Attributes:
        database_url: The URL it was opened with.
        engine: The SQLAlchemy engine every part uses.
        schema_revision: Alembic revision the database is at (the latest one).
        plate_keys: The fold-key table and which substring index it has.
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
        engine = create_engine(database_url)
        self.schema_revision = migrate(engine)
        plate_keys = PlateKeys.detect(engine)
        HistoryWriter.__init__(
            self,
            engine,
            plate_keys,
            queue_size=queue_size,
            flush_interval_s=flush_interval_s,
            batch_size=batch_size,
            retry_interval_s=retry_interval_s,
        )
        PlateQueries.__init__(self, engine, plate_keys)
        WatchlistTable.__init__(self, engine)
        SettingsTable.__init__(self, engine)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (one last attempt), stop the writer and release connections."""
        self.stop(timeout)
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()
