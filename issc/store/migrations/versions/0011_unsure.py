"""An ``unsure`` flag on plate events: the pass's best vote stayed below the recognition threshold.

Unsure events are kept (an analyst may confirm them) but left out of the default history, the
hourly roll-up and watchlist alerts; a confirmation lifts the flag. Events stored before this
revision were all made the confident way and stay confident (the default false).

Revision ID: 0011
Revises: 0010
Create Date: events that deserve trust (issue 19)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN with a default on both databases: no table rebuild
    op.add_column("plate_events", sa.Column("unsure", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_index("ix_plate_events_unsure_last_seen", "plate_events", ["unsure", "last_seen_ms"])


def downgrade() -> None:
    op.drop_index("ix_plate_events_unsure_last_seen", "plate_events")
    op.drop_column("plate_events", "unsure")
