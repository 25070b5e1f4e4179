"""Secrets out of the shared database, and the webhook's outbox (issue 18).

* The session-cookie key generated before this revision (``settings`` row ``auth.session_secret``)
  is deleted: every camera worker can write that table, so the key moves to ``SECRET_KEY_FILE`` on
  the dashboard's disk (:mod:`issc.auth.keyfile`), made anew. Sessions signed with the old key end;
  users sign in again once. (``AUTH_SECRET``, when set, is untouched and its sessions go on.)
* ``webhook_outbox``: watchlist hits waiting to be POSTed to ``WEBHOOK_URL`` (:mod:`issc.store.outbox`),
  so a restart loses none. ``payload`` is the JSON body, ``created_ms`` when the hit was raised,
  ``attempts`` the POSTs tried so far, ``next_ms`` when the next one may go (backoff or the
  receiver's ``Retry-After``), ``lease_ms`` until when one sender holds it (several processes may
  share the table), ``last_error`` the last failure in one redacted line.

Revision ID: 0010
Revises: 0009
Create Date: trust, second round (issue 18)
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

logger = logging.getLogger("issc.store.migrate")

_OLD_KEY = "auth.session_secret"


def upgrade() -> None:
    settings = sa.table("settings", sa.column("key", sa.String), sa.column("value", sa.Text))
    removed = op.get_bind().execute(settings.delete().where(settings.c.key == _OLD_KEY)).rowcount
    if removed:
        logger.warning(
            "the session-cookie key moved out of the history database to SECRET_KEY_FILE: sessions "
            "made before this upgrade end, and users sign in again once"
        )
    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_ms", sa.BigInteger, nullable=False),
        sa.Column("lease_ms", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(200)),
    )
    op.create_index("ix_webhook_outbox_next", "webhook_outbox", ["next_ms"])


def downgrade() -> None:
    op.drop_index("ix_webhook_outbox_next", table_name="webhook_outbox")
    op.drop_table("webhook_outbox")
