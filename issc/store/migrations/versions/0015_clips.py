"""Event clips (issue 20): ``plate_clips``, one MP4 per plate event, saved by the camera's clip
thread around the event (``CLIPS``, ``CLIP_PRE_S``, ``CLIP_POST_S``).

Revision ID: 0015
Revises: 0014
Create Date: event clips (issue 20)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plate_clips",
        sa.Column(
            "event_id",
            sa.Integer,
            sa.ForeignKey("plate_events.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("camera", sa.String(64), nullable=False),
        sa.Column("started_ms", sa.BigInteger, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("codec", sa.String(16), nullable=False),
        sa.Column("frames", sa.Integer, nullable=False),
        sa.Column("mp4", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("plate_clips")
