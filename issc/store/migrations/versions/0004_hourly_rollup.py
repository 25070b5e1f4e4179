"""Plate counts per camera and hour, so long-range charts without text filters read few rows.

Revision ID: 0004
Revises: 0003
Create Date: schema version 4 of the store before it moved to Alembic
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plate_hours",
        sa.Column("camera", sa.String(64), primary_key=True),
        sa.Column("hour_ms", sa.BigInteger, primary_key=True),
        sa.Column("plates", sa.Integer, nullable=False),
    )
    op.execute(
        "INSERT INTO plate_hours (camera, hour_ms, plates)"
        " SELECT camera, (last_seen_ms / 3600000) * 3600000, count(*) FROM plate_events"
        " GROUP BY camera, (last_seen_ms / 3600000) * 3600000"
    )


def downgrade() -> None:
    op.drop_table("plate_hours")
