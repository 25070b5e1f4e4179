"""Connections to the history database: engines tuned per dialect, and the dialect's upsert.

SQLite gets its parent folder, WAL mode (readers never wait for the writer), foreign keys and real
transactions (pysqlite's own handling skips ``BEGIN`` before DDL); a connection with the execution
option ``begin_immediate=True`` takes the write lock at ``BEGIN``, so that a transaction that reads
before it writes (a migration) waits for another writer instead of failing with "database is locked".
PostgreSQL gets pre-pinged pooled connections with a connect timeout and a statement timeout, so a
server that is down or stuck fails a write in seconds (the writer then keeps its batch and retries)
instead of hanging the writer. A new SQLite file is made 0600 (it holds password hashes) and gets incremental auto-vacuum (see
:mod:`issc.store.retention`). Both support ``INSERT ... ON CONFLICT``, which
:func:`dialect_insert` builds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import StaticPool

logger = logging.getLogger(__name__)

#: SQLite waits this long for another writer's lock before "database is locked".
SQLITE_BUSY_TIMEOUT_S = 10
#: PostgreSQL: a server that does not answer within this many seconds fails the connection.
PG_CONNECT_TIMEOUT_S = 5
#: PostgreSQL: a statement running longer than this many seconds is cancelled (a stuck server or lock).
PG_STATEMENT_TIMEOUT_S = 30


def create_engine(database_url: str) -> sa.Engine:
    """An engine for ``database_url``; SQLite gets its parent folder, WAL mode and real transactions.

    Args:
        database_url: SQLAlchemy URL, e.g. ``sqlite:///data/issc.db`` or
            ``postgresql+psycopg://user:pw@host/db``.

    Returns:
        The engine. Nothing is connected yet.
    """
    url = sa.make_url(database_url)
    if url.get_backend_name() == "postgresql":
        timeouts = {
            "connect_timeout": PG_CONNECT_TIMEOUT_S,
            "options": f"-c statement_timeout={PG_STATEMENT_TIMEOUT_S * 1000}",
        }
        return sa.create_engine(
            url, pool_pre_ping=True, pool_timeout=PG_CONNECT_TIMEOUT_S, connect_args=timeouts
        )
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    memory = url.database in (None, "", ":memory:")
    if memory:
        engine = sa.create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        make_private_sqlite_file(Path(url.database).expanduser())
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling skips BEGIN before DDL; take control of it (SQLAlchemy's
        # documented recipe) so that migrations and write batches are atomic.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = FULL")  # one fsync per batch, at most one per second
            if not memory:
                # takes effect on a new file only (before its first table); see issc.store.retention
                cursor.execute("PRAGMA auto_vacuum = INCREMENTAL")
                try:
                    cursor.execute("PRAGMA journal_mode = WAL")
                except Exception as exc:  # a read-only file still serves reads
                    logger.warning("could not switch SQLite to WAL mode: %s", exc)
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        immediate = connection.get_execution_options().get("begin_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def make_private_sqlite_file(path: Path) -> None:
    """Create a SQLite database file readable by its owner only (0600) before SQLite opens it.

    SQLite gives its ``-wal`` and ``-shm`` files the database file's mode. A database, WAL or
    shared-memory file left readable by others (made before this rule, mode 0644) is made 0600 when
    this process owns it; it holds plates, users' password hashes and tokens' hashes.
    """
    if str(path).startswith("file:"):  # a URI filename: SQLite makes it as it is told
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600))
        return
    except FileExistsError:
        pass
    except OSError as exc:  # SQLite says the same, with its own words, when it opens it
        logger.debug("could not create %s beforehand: %s", path, exc)
        return
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            info = part.stat()
            if info.st_mode & 0o077 and info.st_uid == os.getuid():
                os.chmod(part, info.st_mode & 0o700)
                logger.warning("%s could be read by other users: made it private (0600)", part)
        except FileNotFoundError:
            continue
        except OSError as exc:
            logger.warning("could not make %s private: %s", part, exc)


@contextlib.contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that takes SQLite's write lock at ``BEGIN`` (waiting up to the busy timeout).

    A deferred transaction that reads before it writes fails at once with "database is locked" when
    another writer committed in between (WAL mode); the writer thread and the retention purge both
    read first, so both use this.
    """
    with engine.connect() as conn, conn.execution_options(begin_immediate=True).begin():
        yield conn


def dialect_insert(conn: sa.Connection) -> Any:
    """The connection's dialect-specific ``insert`` (it has ``on_conflict_do_update/_nothing``)."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def drop_database(admin: sa.Engine, name: str, attempts: int = 20, wait_s: float = 0.5) -> None:
    """Drop the PostgreSQL database ``name`` with the sessions still in it (``WITH (FORCE)``).

    ``admin`` is an ``AUTOCOMMIT`` engine on another database of the server. An autovacuum worker
    busy in ``name`` cannot be ended by a role that is not a superuser: the drop waits ``wait_s`` for
    it to finish and tries again, up to ``attempts`` times.
    """
    for attempt in range(attempts):
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except sa.exc.DBAPIError as exc:
            if attempt == attempts - 1 or "pg_signal_backend" not in str(exc):
                raise
            time.sleep(wait_s)
