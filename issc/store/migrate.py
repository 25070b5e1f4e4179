"""Bring a history database to the latest schema with the Alembic revisions in ``migrations/``.

Every :class:`issc.store.Store` calls :func:`migrate` when it opens; no ``alembic.ini`` is involved
(the configuration is built here). The whole upgrade runs in one transaction under a lock
(PostgreSQL: an advisory lock; SQLite: its write lock, taken at ``BEGIN``), so two processes starting
at once take turns and a crash mid-way leaves the database as it was.

Databases made before the move to Alembic carry a ``schema_version`` table (versions 1-4) instead of
``alembic_version``; revisions ``0001``-``0004`` reproduce those versions exactly, so such a database
is stamped with the matching revision (its ``schema_version`` table dropped) and upgraded from there.

Operators run it without starting the app with ``python -m issc.store`` (see :mod:`issc.store.__main__`).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from issc.errors import ISSCError

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: Alembic's table holding the revision a database is at.
VERSION_TABLE = "alembic_version"
#: Revision that reproduces each ``schema_version`` of the store before Alembic.
LEGACY_REVISIONS = {1: "0001", 2: "0002", 3: "0003", 4: "0004"}
#: PostgreSQL advisory lock key held while migrating (the same as before Alembic).
_LOCK_KEY = 4155


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic's configuration for the history revisions, running on ``connection`` when given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str:
    """The latest revision (what :func:`migrate` brings every database to)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no Alembic revisions in {MIGRATIONS_DIR / 'versions'}")
    return head


def current_revision(conn: sa.Connection) -> str | None:
    """The revision recorded in the database (``None`` when Alembic never ran on it)."""
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return None
    return conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def migrate(engine: sa.Engine, target: str = "head") -> str:
    """Bring the database to ``target`` (default: the latest revision) in one transaction.

    Safe to call on every start (a database already there costs one query, and Alembic, which logs
    what it does, only runs when there is something to do) and from two processes at once.

    Args:
        engine: Engine of the history database.
        target: Revision to stop at; tests use it to build an old database.

    Returns:
        The revision the database is at afterwards.
    """
    wanted = head_revision() if target == "head" else target
    with engine.connect() as conn, conn.execution_options(begin_immediate=True).begin():
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})"))
        if current_revision(conn) != wanted:
            config = alembic_config(conn)
            _adopt_legacy(conn, config)
            command.upgrade(config, target)
        revision = current_revision(conn)
    if revision is None:
        raise RuntimeError(f"migrating to {target!r} left the database without a revision")
    return revision


def _adopt_legacy(conn: sa.Connection, config: Config) -> None:
    """Stamp a database from before Alembic with the revision matching its ``schema_version``."""
    inspector = sa.inspect(conn)
    if not inspector.has_table("schema_version") or inspector.has_table(VERSION_TABLE):
        return
    version = conn.execute(sa.text("SELECT max(version) FROM schema_version")).scalar() or 0
    if version > max(LEGACY_REVISIONS):
        raise ISSCError(
            f"the history database is at schema version {version}, newer than this build knows"
            f" ({max(LEGACY_REVISIONS)}): run a newer ISSC or restore a backup"
        )
    if version:
        logger.info(
            "history store: adopting schema version %d as revision %s", version, LEGACY_REVISIONS[version]
        )
        command.stamp(config, LEGACY_REVISIONS[version])
    conn.execute(sa.text("DROP TABLE schema_version"))
