"""Server-side sessions (issc.auth): a login is a row, so logging out, a password or role change, a
user's removal or an admin (``python -m issc.auth sessions end``) ends it at once, copied cookies
included.

* ``auth_sessions``: ``id``, ``token_sha256`` (of the 32 random bytes the signed cookie carries; the
  token itself is never stored), ``user_name``, ``created_ms``, ``expires_ms``, ``last_seen_ms``
  (written at most once a minute) and ``client`` (the address it logged in from).

Revision ID: 0009
Revises: 0008
Create Date: revocation that bites (issue 18)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("user_name", sa.String(64), nullable=False, index=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger, nullable=False),
        sa.Column("client", sa.String(64), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("auth_sessions")
