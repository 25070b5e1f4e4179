"""A trigram index over distinct fold keys where the database offers one (else LIKE scans).

SQLite gets an FTS5 table with the trigram tokenizer, PostgreSQL a GIN index with pg_trgm; either is
skipped with a warning when the database lacks it (the store then scans plate keys with LIKE).

Revision ID: 0003
Revises: 0002
Create Date: schema version 3 of the store before it moved to Alembic
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

logger = logging.getLogger(__name__)

KEYS_FTS = "plate_keys_fts"
KEYS_TRGM_INDEX = "ix_plate_keys_trgm"


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        try:
            with conn.begin_nested():
                conn.execute(
                    sa.text(f"CREATE VIRTUAL TABLE {KEYS_FTS} USING fts5(fold_key, tokenize='trigram')")
                )
        except sa.exc.OperationalError as exc:
            logger.warning("SQLite without FTS5 trigram (%s): substring search will scan plate keys", exc)
            return
        conn.execute(
            sa.text(f"INSERT INTO {KEYS_FTS} (rowid, fold_key) SELECT rowid, fold_key FROM plate_keys")
        )
    elif conn.dialect.name == "postgresql":
        try:
            with conn.begin_nested():
                conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
                conn.execute(
                    sa.text(f"CREATE INDEX {KEYS_TRGM_INDEX} ON plate_keys USING gin (fold_key gin_trgm_ops)")
                )
        except sa.exc.DBAPIError as exc:
            logger.warning("PostgreSQL without pg_trgm (%s): substring search will scan plate keys", exc)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {KEYS_FTS}"))
    elif conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"DROP INDEX IF EXISTS {KEYS_TRGM_INDEX}"))
