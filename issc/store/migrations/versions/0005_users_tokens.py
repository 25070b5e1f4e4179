"""Dashboard users and API tokens (issc.auth): names, roles and hashes, never a clear password or token.

Revision ID: 0005
Revises: 0004
Create Date: authentication on every page and route
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_users",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),  # argon2id, with its salt
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "auth_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),  # of 32 random bytes
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("last_used_ms", sa.BigInteger),
    )


def downgrade() -> None:
    op.drop_table("auth_tokens")
    op.drop_table("auth_users")
