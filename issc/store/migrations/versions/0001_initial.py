"""Events (images apart, so list queries never read blobs), people per minute, watchlist, settings.

Revision ID: 0001
Revises:
Create Date: schema version 1 of the store before it moved to Alembic
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plate_events",
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
    op.create_index(
        "ix_plate_events_last_seen", "plate_events", ["last_seen_ms", "confidence", "camera", "text"]
    )
    op.create_index(
        "ix_plate_events_camera_last_seen", "plate_events", ["camera", "last_seen_ms", "confidence", "text"]
    )
    op.create_index("ix_plate_events_text", "plate_events", ["text"])
    op.create_index(
        "ix_plate_events_watchlist",
        "plate_events",
        ["last_seen_ms"],
        sqlite_where=sa.text("watchlist IS NOT NULL"),
        postgresql_where=sa.text("watchlist IS NOT NULL"),
    )
    op.create_table(
        "plate_images",
        sa.Column(
            "event_id", sa.Integer, sa.ForeignKey("plate_events.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("crop_jpeg", sa.LargeBinary),
        sa.Column("snapshot_jpeg", sa.LargeBinary),
    )
    op.create_table(
        "people_counts",
        sa.Column("camera", sa.String(64), primary_key=True),
        sa.Column("minute_ms", sa.BigInteger, primary_key=True),
        sa.Column("max_count", sa.Integer, nullable=False),
        sa.Column("mean_count", sa.Float, nullable=False),
        sa.Column("samples", sa.Integer, nullable=False),
    )
    op.create_index("ix_people_counts_minute", "people_counts", ["minute_ms"])
    op.create_table(
        "watchlist",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("plate", sa.String(32), nullable=False),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("max_distance", sa.Integer, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("settings", "watchlist", "people_counts", "plate_images", "plate_events"):
        op.drop_table(table)
