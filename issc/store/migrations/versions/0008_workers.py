"""The camera workers of a cluster: one row per running ``python -m issc.worker``.

* ``workers``: ``id`` (``WORKER_ID``), ``host``, ``url`` (where the dashboard reaches its
  ``/video_feed`` and ``/api/cameras``), ``version``, ``cameras`` (JSON list of the cameras it runs
  now, each ``{"name", "source_hash"}``), ``standby`` (JSON list, same shape, of the cameras it
  waits to take over), ``heartbeat_ms`` and ``started_ms`` (the database's clock, milliseconds since
  the Unix epoch). A row whose heartbeat is older than ``WORKER_DEAD_S`` belongs to a dead worker.

Which worker runs a camera is decided by PostgreSQL advisory locks (:mod:`issc.cluster.locks`), not
by this table; the table says what each worker reported at its last heartbeat.

Revision ID: 0008
Revises: 0007
Create Date: scale out (issue 11)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("url", sa.String(512), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("cameras", sa.Text, nullable=False),
        sa.Column("standby", sa.Text, nullable=False),
        sa.Column("heartbeat_ms", sa.BigInteger, nullable=False),
        sa.Column("started_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("workers")
