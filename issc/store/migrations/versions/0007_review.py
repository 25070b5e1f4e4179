"""Analyst review: the reads that voted for each event, corrections with an audit trail, known plates.

* ``plate_events`` gains ``original_text`` (the machine's read, set when an analyst changes the
  text), ``confirmed``, ``reviewed_by``/``reviewed_ms`` (the last review), ``char_conf`` (per-character
  confidence of the voted text, comma-separated) and ``probable`` (a confirmed plate within one edit
  of the read, on the same camera: "probably X").
* ``plate_reads``: every read that voted for an event (text, confidence, frame time, source).
* ``plate_audit``: one row per correction or confirmation: who, when, old and new text.
* ``known_plates``: plates confirmed on a camera; they outlive the events' retention.

Events stored before this revision have no reads and no per-character confidence: pages show what
they have.

Revision ID: 0007
Revises: 0006
Create Date: analyst review (issue 12)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN on both databases (nullable, or with a default): no table rebuild
    op.add_column("plate_events", sa.Column("original_text", sa.String(32)))
    op.add_column(
        "plate_events", sa.Column("confirmed", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.add_column("plate_events", sa.Column("reviewed_by", sa.String(64)))
    op.add_column("plate_events", sa.Column("reviewed_ms", sa.BigInteger))
    op.add_column("plate_events", sa.Column("char_conf", sa.String(512)))
    op.add_column("plate_events", sa.Column("probable", sa.String(32)))
    op.create_index("ix_plate_events_reviewed_ms", "plate_events", ["reviewed_ms"])
    op.create_table(
        "plate_reads",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "event_id", sa.Integer, sa.ForeignKey("plate_events.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("text", sa.String(32), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("at_ms", sa.BigInteger),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("char_conf", sa.String(512)),
    )
    op.create_index("ix_plate_reads_event", "plate_reads", ["event_id", "seq"])
    op.create_table(
        "plate_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "event_id", sa.Integer, sa.ForeignKey("plate_events.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("old_text", sa.String(32), nullable=False),
        sa.Column("new_text", sa.String(32), nullable=False),
        sa.Column("confirmed", sa.Boolean, nullable=False),
    )
    op.create_index("ix_plate_audit_event", "plate_audit", ["event_id", "at_ms"])
    op.create_table(
        "known_plates",
        sa.Column("camera", sa.String(64), primary_key=True),
        sa.Column("text", sa.String(32), primary_key=True),
        sa.Column("confirmed_ms", sa.BigInteger, nullable=False),
        sa.Column("confirmed_by", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("known_plates")
    op.drop_index("ix_plate_audit_event", "plate_audit")
    op.drop_table("plate_audit")
    op.drop_index("ix_plate_reads_event", "plate_reads")
    op.drop_table("plate_reads")
    op.drop_index("ix_plate_events_reviewed_ms", "plate_events")
    with op.batch_alter_table("plate_events") as batch:
        for name in ("probable", "char_conf", "reviewed_ms", "reviewed_by", "confirmed", "original_text"):
            batch.drop_column(name)
