"""Fold keys on events and a table of distinct keys (with reversed key) for fuzzy search.

Revision ID: 0002
Revises: 0001
Create Date: schema version 2 of the store before it moved to Alembic
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from issc.search import fold

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("plate_events", sa.Column("fold_key", sa.String(32)))
    keys = op.create_table(
        "plate_keys",
        sa.Column("fold_key", sa.String(32), primary_key=True),
        sa.Column("fold_rev", sa.String(32), nullable=False),
    )
    op.create_index("ix_plate_keys_fold_rev", "plate_keys", ["fold_rev"])
    conn = op.get_bind()
    texts = [row[0] for row in conn.execute(sa.text("SELECT DISTINCT text FROM plate_events"))]
    if texts:
        conn.execute(
            sa.text("UPDATE plate_events SET fold_key = :key WHERE text = :text"),
            [{"key": fold(t), "text": t} for t in texts],
        )
        distinct = sorted({fold(t) for t in texts})
        op.bulk_insert(keys, [{"fold_key": k, "fold_rev": k[::-1]} for k in distinct])
    op.create_index("ix_plate_events_fold_key", "plate_events", ["fold_key", "last_seen_ms"])


def downgrade() -> None:
    op.drop_index("ix_plate_events_fold_key", "plate_events")
    op.drop_table("plate_keys")
    op.drop_column("plate_events", "fold_key")
