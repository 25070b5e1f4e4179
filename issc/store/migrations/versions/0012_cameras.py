"""Cameras managed on the dashboard (the Cameras page, ``/api/cameras``), beside ``CAMERAS``.

* ``cameras``: ``name`` (also its id), ``source`` (the URL with any user and password removed),
  ``credentials`` (the removed ``user:password``, percent-encoded as in the URL; never shown again),
  ``enabled``, ``detect_fps`` and ``plate_region`` (NULL: the process-wide setting), ``people``,
  ``worker`` (the ``WORKER_ID`` that should run it with ``ENGINE=remote``; NULL: any), ``notes``,
  ``created_ms``, ``updated_ms`` and ``updated_by``.

Revision ID: 0012
Revises: 0011
Create Date: cameras page (issue 20)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cameras",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("credentials", sa.Text),
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


def downgrade() -> None:
    op.drop_table("cameras")
