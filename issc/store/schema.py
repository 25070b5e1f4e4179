"""The history schema as it is after the latest migration: the tables that queries and inserts use.

Times are stored as integer milliseconds since the Unix epoch (UTC): the same type, index order and
arithmetic (``ms // 3_600_000`` is the hour) on SQLite and PostgreSQL.

These objects describe the end state only; the Alembic revisions under ``migrations/versions`` build
it step by step and never import them (see :mod:`issc.store.migrate`).
"""

from __future__ import annotations

import sqlalchemy as sa

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
    sa.Column("fold_key", sa.String(32)),  # revision 0002
    sa.Column("pass_key", sa.String(40)),  # revision 0006: provisional and final event of one pass
    # revision 0007: analyst review
    sa.Column("original_text", sa.String(32)),  # the machine's read, once an analyst changed the text
    sa.Column("confirmed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("reviewed_by", sa.String(64)),
    sa.Column("reviewed_ms", sa.BigInteger),
    sa.Column("char_conf", sa.String(512)),  # per-character confidence of the voted text, "0.98,0.41,..."
    sa.Column("probable", sa.String(32)),  # a confirmed plate within one edit: "probably X"
    # revision 0011: the pass's best vote stayed below the recognition threshold (until confirmed)
    sa.Column("unsure", sa.Boolean, nullable=False, server_default=sa.false()),
)

plate_reads = sa.Table(  # revision 0007: every read that voted for an event
    "plate_reads",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.Integer, sa.ForeignKey("plate_events.id", ondelete="CASCADE"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("text", sa.String(32), nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("at_ms", sa.BigInteger),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("char_conf", sa.String(512)),
)

plate_audit = sa.Table(  # revision 0007: corrections and confirmations, who and when
    "plate_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.Integer, sa.ForeignKey("plate_events.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("user", sa.String(64), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("old_text", sa.String(32), nullable=False),
    sa.Column("new_text", sa.String(32), nullable=False),
    sa.Column("confirmed", sa.Boolean, nullable=False),
)

known_plates = sa.Table(  # revision 0007: plates confirmed on a camera (outlive event retention)
    "known_plates",
    metadata,
    sa.Column("camera", sa.String(64), primary_key=True),
    sa.Column("text", sa.String(32), primary_key=True),
    sa.Column("confirmed_ms", sa.BigInteger, nullable=False),
    sa.Column("confirmed_by", sa.String(64), nullable=False),
)

plate_images = sa.Table(
    "plate_images",
    metadata,
    sa.Column("event_id", sa.Integer, sa.ForeignKey("plate_events.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("crop_jpeg", sa.LargeBinary),
    sa.Column("snapshot_jpeg", sa.LargeBinary),
)

plate_clips = sa.Table(  # revision 0015: an MP4 around the event (issc.engine.clips)
    "plate_clips",
    metadata,
    sa.Column("event_id", sa.Integer, sa.ForeignKey("plate_events.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("camera", sa.String(64), nullable=False),
    sa.Column("started_ms", sa.BigInteger, nullable=False),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("codec", sa.String(16), nullable=False),
    sa.Column("frames", sa.Integer, nullable=False),
    sa.Column("mp4", sa.LargeBinary, nullable=False),
)

plate_keys = sa.Table(  # revision 0002: one row per distinct fold key, for fuzzy and substring look-ups
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

plate_hours = sa.Table(  # revision 0004: plate events per camera and UTC hour, kept by the writer
    "plate_hours",
    metadata,
    sa.Column("camera", sa.String(64), primary_key=True),
    sa.Column("hour_ms", sa.BigInteger, primary_key=True),
    sa.Column("plates", sa.Integer, nullable=False),
)

#: Name of the SQLite FTS5 trigram table over ``plate_keys.fold_key`` (revision 0003, when FTS5 is built in).
KEYS_FTS = "plate_keys_fts"
#: Name of the PostgreSQL pg_trgm index over ``plate_keys.fold_key`` (revision 0003, when pg_trgm is installed).
KEYS_TRGM_INDEX = "ix_plate_keys_trgm"

workers = sa.Table(  # revision 0008: camera workers of a cluster (issc.cluster.registry)
    "workers",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("url", sa.String(512), nullable=False),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("cameras", sa.Text, nullable=False),  # JSON [{"name", "source_hash"}]: runs now
    sa.Column("standby", sa.Text, nullable=False),  # JSON, same shape: waits to take over
    sa.Column("heartbeat_ms", sa.BigInteger, nullable=False),  # the database's clock
    sa.Column("started_ms", sa.BigInteger, nullable=False),
)

webhook_outbox = sa.Table(  # revision 0010: watchlist hits waiting for the webhook
    "webhook_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("payload", sa.Text, nullable=False),  # the JSON body
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_ms", sa.BigInteger, nullable=False),  # not sent before (backoff, Retry-After)
    sa.Column("lease_ms", sa.BigInteger, nullable=False, server_default="0"),  # held by a sender until
    sa.Column("last_error", sa.String(200)),
)

cameras = sa.Table(  # revision 0012: cameras managed on the dashboard (issc.store.cameras)
    "cameras",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("source", sa.Text, nullable=False),  # without user and password
    sa.Column("credentials", sa.Text),  # "user:password" as in the URL, stored apart, never shown
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("detect_fps", sa.Float),
    sa.Column("plate_region", sa.String(16)),
    sa.Column("people", sa.Boolean, nullable=False),
    sa.Column("worker", sa.String(128)),
    sa.Column("notes", sa.Text, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_by", sa.String(64), nullable=False),
)

# revision 0014: lines, zones and visits (issc.analytics)
camera_zones = sa.Table(  # the counting lines and zones of each camera, by camera name
    "camera_zones",
    metadata,
    sa.Column("camera", sa.String(64), primary_key=True),
    sa.Column("shapes", sa.Text, nullable=False),  # JSON {"zones": [...]} as the API takes it
    sa.Column("width", sa.Integer, nullable=False),  # the frame the points are in
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
)

line_crossings = sa.Table(
    "line_crossings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("camera", sa.String(64), nullable=False),
    sa.Column("line", sa.String(64), nullable=False),
    sa.Column("direction", sa.String(8), nullable=False),  # "in" | "out"
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("person", sa.Integer, nullable=False),
)

zone_visits = sa.Table(
    "zone_visits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("camera", sa.String(64), nullable=False),
    sa.Column("zone", sa.String(64), nullable=False),
    sa.Column("person", sa.Integer, nullable=False),
    sa.Column("start_ms", sa.BigInteger, nullable=False),
    sa.Column("end_ms", sa.BigInteger, nullable=False),
)

analytics_hours = sa.Table(  # per camera, hour, line/zone: the counter's hourly totals (newest kept)
    "analytics_hours",
    metadata,
    sa.Column("camera", sa.String(64), primary_key=True),
    sa.Column("hour_ms", sa.BigInteger, primary_key=True),
    sa.Column("kind", sa.String(8), primary_key=True),  # "line" | "zone" | "people"
    sa.Column("name", sa.String(64), primary_key=True),  # "" for "people"
    sa.Column("in_count", sa.Integer, nullable=False),
    sa.Column("out_count", sa.Integer, nullable=False),
    sa.Column("entries", sa.Integer, nullable=False),
    sa.Column("visits", sa.Integer, nullable=False),
    sa.Column("dwell_ms", sa.BigInteger, nullable=False),
    sa.Column("max_occupancy", sa.Integer, nullable=False),
    sa.Column("distinct_people", sa.Integer, nullable=False),
)

plate_directions = sa.Table(  # one row per plate pass: which way the vehicle went
    "plate_directions",
    metadata,
    sa.Column("pass_key", sa.String(40), primary_key=True),  # plate_events.pass_key
    sa.Column("camera", sa.String(64), nullable=False),
    sa.Column("direction", sa.String(8), nullable=False),  # "towards" | "away" | "unknown"
    sa.Column("growth", sa.Float, nullable=False),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
)
