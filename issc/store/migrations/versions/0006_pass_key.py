"""A pass key on plate events, so that an event written while its pass is still in view is updated in place.

The analyzer writes a provisional event as soon as a pass's reads are enough and the final one when
the pass ends; both carry the same ``pass_key``, and the writer upserts by it. Older rows have none.

Revision ID: 0006
Revises: 0005
Create Date: retention and durable events (issue 10)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("plate_events", sa.Column("pass_key", sa.String(40)))
    op.create_index("ix_plate_events_pass_key", "plate_events", ["pass_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_plate_events_pass_key", "plate_events")
    op.drop_column("plate_events", "pass_key")
