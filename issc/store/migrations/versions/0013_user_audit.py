"""Users managed on the dashboard (the Users page): when each user last signed in, and an audit trail
of every change to users and tokens.

* ``auth_users.last_login_ms``: the last successful sign-in (NULL: never);
* ``auth_audit``: ``at_ms``, ``actor`` (who did it), ``action`` (``user.add``, ``user.role``,
  ``user.password``, ``user.remove``, ``token.create``, ``token.revoke``), ``target`` (the user or
  token name) and ``detail`` (e.g. ``viewer -> analyst``; never a password or a token).

Revision ID: 0013
Revises: 0012 (issue 20 asked for 0008; 0012 is this branch's other revision, and two revisions on
0008 would leave Alembic two heads: the lead re-chains at merge)
Create Date: users page (issue 20)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("auth_users") as batch:
        batch.add_column(sa.Column("last_login_ms", sa.BigInteger))
    op.create_table(
        "auth_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_auth_audit_at", "auth_audit", ["at_ms"])


def downgrade() -> None:
    op.drop_index("ix_auth_audit_at", "auth_audit")
    op.drop_table("auth_audit")
    with op.batch_alter_table("auth_users") as batch:
        batch.drop_column("last_login_ms")
