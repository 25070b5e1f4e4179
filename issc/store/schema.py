"""The history schema: the latest tables (for queries) and the ordered migrations that build them.

Times are stored as integer milliseconds since the Unix epoch (UTC): the same type, index order and
arithmetic (``ms // 3_600_000`` is the hour) on SQLite and PostgreSQL.

Migrations are plain functions ``(connection) -> None`` in :data:`MIGRATIONS`; migration *n* (1-based)
takes a database from version *n - 1* to *n*. :func:`migrate` runs the missing ones in order, each in
its own transaction together with the bump of ``schema_version``, so a crash mid-way leaves the
database at the last complete version and the next start carries on. A migration never uses the
latest table objects below (they describe the end state, not the state at that step).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlalchemy as sa

from issc.search import fold

logger = logging.getLogger(__name__)

metadata = sa.MetaData()

plate_events = sa.Table(
    "plate_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("camera", sa.String(64), nullable=False),
    sa.Column("first_seen_ms", sa.BigInteger, nullable=False),
    sa.Column("last_seen_ms", sa.BigInteger, nullable=False),
    sa.Column("text", sa.String(32), nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("reads", sa.Integer, nullable=False),
    sa.Column("box", sa.String(64), nullable=False),  # "x1,y1,x2,y2" in the snapshot's pixels
    sa.Column("ocr_calls", sa.Integer, nullable=False),
    sa.Column("watchlist", sa.String(128)),
    sa.Column("has_crop", sa.Boolean, nullable=False),
    sa.Column("has_snapshot", sa.Boolean, nullable=False),
    sa.Column("fold_key", sa.String(32)),  # v2
)

plate_images = sa.Table(
    "plate_images",
    metadata,
    sa.Column("event_id", sa.Integer, sa.ForeignKey("plate_events.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("crop_jpeg", sa.LargeBinary),
    sa.Column("snapshot_jpeg", sa.LargeBinary),
)

plate_keys = sa.Table(  # v2: one row per distinct fold key, for fuzzy and substring look-ups
    "plate_keys",
    metadata,
    sa.Column("fold_key", sa.String(32), primary_key=True),
    sa.Column("fold_rev", sa.String(32), nullable=False),
)

people_counts = sa.Table(
    "people_counts",
    metadata,
    sa.Column("camera", sa.String(64), primary_key=True),
    sa.Column("minute_ms", sa.BigInteger, primary_key=True),
    sa.Column("max_count", sa.Integer, nullable=False),
    sa.Column("mean_count", sa.Float, nullable=False),
    sa.Column("samples", sa.Integer, nullable=False),
)

watchlist = sa.Table(
    "watchlist",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("plate", sa.String(32), nullable=False),
    sa.Column("label", sa.String(128), nullable=False),
    sa.Column("max_distance", sa.Integer, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),  # JSON
)

plate_hours = sa.Table(  # v4: plate events per camera and UTC hour, kept by the writer
    "plate_hours",
    metadata,
    sa.Column("camera", sa.String(64), primary_key=True),
    sa.Column("hour_ms", sa.BigInteger, primary_key=True),
    sa.Column("plates", sa.Integer, nullable=False),
)

schema_version = sa.Table("schema_version", metadata, sa.Column("version", sa.Integer, nullable=False))

#: Name of the SQLite FTS5 trigram table over ``plate_keys.fold_key`` (v3, when FTS5 is built in).
KEYS_FTS = "plate_keys_fts"
#: Name of the PostgreSQL pg_trgm index over ``plate_keys.fold_key`` (v3, when pg_trgm is installed).
KEYS_TRGM_INDEX = "ix_plate_keys_trgm"


def _v1_initial(conn: sa.Connection) -> None:
    """Events (images apart, so list queries never read blobs), people per minute, watchlist, settings."""
    md = sa.MetaData()
    events = sa.Table(
        "plate_events",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("camera", sa.String(64), nullable=False),
        sa.Column("first_seen_ms", sa.BigInteger, nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger, nullable=False),
        sa.Column("text", sa.String(32), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("reads", sa.Integer, nullable=False),
        sa.Column("box", sa.String(64), nullable=False),
        sa.Column("ocr_calls", sa.Integer, nullable=False),
        sa.Column("watchlist", sa.String(128)),
        sa.Column("has_crop", sa.Boolean, nullable=False),
        sa.Column("has_snapshot", sa.Boolean, nullable=False),
    )
    # Time-range filters and chart aggregations read only these indexes (they cover confidence, camera, text).
    sa.Index(
        "ix_plate_events_last_seen",
        events.c.last_seen_ms,
        events.c.confidence,
        events.c.camera,
        events.c.text,
    )
    sa.Index(
        "ix_plate_events_camera_last_seen",
        events.c.camera,
        events.c.last_seen_ms,
        events.c.confidence,
        events.c.text,
    )
    sa.Index("ix_plate_events_text", events.c.text)
    sa.Table(
        "plate_images",
        md,
        sa.Column(
            "event_id", sa.Integer, sa.ForeignKey("plate_events.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("crop_jpeg", sa.LargeBinary),
        sa.Column("snapshot_jpeg", sa.LargeBinary),
    )
    sa.Table(
        "people_counts",
        md,
        sa.Column("camera", sa.String(64), primary_key=True),
        sa.Column("minute_ms", sa.BigInteger, primary_key=True),
        sa.Column("max_count", sa.Integer, nullable=False),
        sa.Column("mean_count", sa.Float, nullable=False),
        sa.Column("samples", sa.Integer, nullable=False),
    )
    sa.Table(
        "watchlist",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("plate", sa.String(32), nullable=False),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("max_distance", sa.Integer, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    sa.Table(
        "settings",
        md,
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    md.create_all(conn)
    conn.execute(sa.text("CREATE INDEX ix_people_counts_minute ON people_counts (minute_ms)"))
    conn.execute(
        sa.text(
            "CREATE INDEX ix_plate_events_watchlist ON plate_events (last_seen_ms) WHERE watchlist IS NOT NULL"
        )
    )


def _v2_fold_keys(conn: sa.Connection) -> None:
    """Fold keys on events and a table of distinct keys (with reversed key) for fuzzy search."""
    conn.execute(sa.text("ALTER TABLE plate_events ADD COLUMN fold_key VARCHAR(32)"))
    md = sa.MetaData()
    keys = sa.Table(
        "plate_keys",
        md,
        sa.Column("fold_key", sa.String(32), primary_key=True),
        sa.Column("fold_rev", sa.String(32), nullable=False),
    )
    sa.Index("ix_plate_keys_fold_rev", keys.c.fold_rev)
    md.create_all(conn)
    texts = [row[0] for row in conn.execute(sa.text("SELECT DISTINCT text FROM plate_events"))]
    if texts:
        conn.execute(
            sa.text("UPDATE plate_events SET fold_key = :key WHERE text = :text"),
            [{"key": fold(t), "text": t} for t in texts],
        )
        distinct = sorted({fold(t) for t in texts})
        conn.execute(keys.insert(), [{"fold_key": k, "fold_rev": k[::-1]} for k in distinct])
    conn.execute(sa.text("CREATE INDEX ix_plate_events_fold_key ON plate_events (fold_key, last_seen_ms)"))


def _v3_substring_index(conn: sa.Connection) -> None:
    """A trigram index over distinct fold keys where the database offers one (else LIKE scans)."""
    if conn.dialect.name == "sqlite":
        try:
            with conn.begin_nested():
                conn.execute(
                    sa.text(f"CREATE VIRTUAL TABLE {KEYS_FTS} USING fts5(fold_key, tokenize='trigram')")
                )
        except sa.exc.OperationalError as exc:
            logger.warning("SQLite without FTS5 trigram (%s): substring search will scan plate keys", exc)
            return
        conn.execute(
            sa.text(f"INSERT INTO {KEYS_FTS} (rowid, fold_key) SELECT rowid, fold_key FROM plate_keys")
        )
    elif conn.dialect.name == "postgresql":
        try:
            with conn.begin_nested():
                conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
                conn.execute(
                    sa.text(f"CREATE INDEX {KEYS_TRGM_INDEX} ON plate_keys USING gin (fold_key gin_trgm_ops)")
                )
        except sa.exc.DBAPIError as exc:
            logger.warning("PostgreSQL without pg_trgm (%s): substring search will scan plate keys", exc)


def _v4_hourly_rollup(conn: sa.Connection) -> None:
    """Plate counts per camera and hour, so long-range charts without text filters read few rows."""
    md = sa.MetaData()
    sa.Table(
        "plate_hours",
        md,
        sa.Column("camera", sa.String(64), primary_key=True),
        sa.Column("hour_ms", sa.BigInteger, primary_key=True),
        sa.Column("plates", sa.Integer, nullable=False),
    )
    md.create_all(conn)
    backfill_hours(conn)


def backfill_hours(conn: sa.Connection) -> None:
    """Rebuild ``plate_hours`` from ``plate_events`` (migration v4, bulk loads)."""
    conn.execute(sa.text("DELETE FROM plate_hours"))
    conn.execute(
        sa.text(
            "INSERT INTO plate_hours (camera, hour_ms, plates)"
            " SELECT camera, (last_seen_ms / 3600000) * 3600000, count(*) FROM plate_events"
            " GROUP BY camera, (last_seen_ms / 3600000) * 3600000"
        )
    )


Migration = Callable[[sa.Connection], None]

#: Ordered migrations; the schema version is the number of them applied. Append only.
MIGRATIONS: tuple[Migration, ...] = (_v1_initial, _v2_fold_keys, _v3_substring_index, _v4_hourly_rollup)
LATEST_VERSION = len(MIGRATIONS)


def current_version(conn: sa.Connection) -> int:
    """The version recorded in ``schema_version`` (0 for an empty database)."""
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    return conn.execute(sa.text("SELECT max(version) FROM schema_version")).scalar() or 0


def migrate(engine: sa.Engine, target: int = LATEST_VERSION) -> int:
    """Bring the database to ``target`` (default: latest), one transaction per migration.

    Safe to call on every start and from two processes at once (PostgreSQL takes an advisory lock;
    SQLite serialises writers itself).

    Args:
        engine: Engine of the history database.
        target: Version to stop at; tests use it to build an old database.

    Returns:
        The version the database is at afterwards.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(4155)"))
        schema_version.create(conn, checkfirst=True)
        if conn.execute(sa.text("SELECT count(*) FROM schema_version")).scalar() == 0:
            conn.execute(schema_version.insert().values(version=0))
    version = 0
    for number, step in enumerate(MIGRATIONS[:target], start=1):
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(4155)"))
            version = current_version(conn)
            if version >= number:
                continue
            logger.info("history store: migrating schema to v%d (%s)", number, step.__name__)
            step(conn)
            conn.execute(schema_version.update().values(version=number))
            version = number
    return version
