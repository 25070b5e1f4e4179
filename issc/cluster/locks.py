"""Which worker runs a camera: PostgreSQL session advisory locks, one per camera name.

A worker holds the locks of the cameras it runs on one dedicated connection (:class:`LockSession`,
not pooled). PostgreSQL releases a session's advisory locks when its connection ends, so a worker that
dies, is killed (``kill -9``) or loses the database gives its cameras up without any clean-up, and a
standby worker's :meth:`CameraLock.try_acquire` succeeds on its next try. The connection asks the
server to notice a silent peer (a machine that lost power or the network) within about eight seconds
(TCP keepalives) and to end a session that stays idle longer than ``WORKER_DEAD_S`` (a frozen
process), so its locks do not outlive it. The worker pings the connection every second
(:meth:`CameraLock.alive`); once that fails, every lock of the session is lost, and the worker stops
those cameras before anyone else can start them twice for long.

On SQLite (one machine, one worker, ``ENGINE=local``) there is no lock manager to share: every lock
is granted and stays alive. Two workers on one SQLite file listing the same camera would both run it.
"""

from __future__ import annotations

import hashlib
import logging
import threading

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from issc.redact import error_line

logger = logging.getLogger(__name__)

#: Server-side TCP keepalives of the lock connection: idle seconds, probe interval, probes.
KEEPALIVE = (5, 1, 3)
#: Seconds a connection attempt may take.
CONNECT_TIMEOUT_S = 5


def lock_key(camera: str) -> int:
    """The signed 64-bit advisory lock key of a camera name (the same on every worker)."""
    digest = hashlib.blake2b(f"issc-camera:{camera}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class LockSession:
    """One dedicated database connection holding this worker's camera locks.

    Args:
        engine: Any engine of the history database (its URL is used; the session opens its own
            connection, never a pooled one).
        idle_timeout_s: PostgreSQL ends the session when it stays idle this long (a frozen worker).
    """

    def __init__(self, engine: sa.Engine, idle_timeout_s: float = 10.0) -> None:
        self.shared = engine.dialect.name == "postgresql"
        self._idle_ms = int(idle_timeout_s * 1000)
        self._engine: sa.Engine | None = None
        if self.shared:
            idle, interval, count = KEEPALIVE
            self._engine = sa.create_engine(
                engine.url,
                poolclass=NullPool,
                connect_args={
                    "connect_timeout": CONNECT_TIMEOUT_S,
                    # the client's side: a silent server fails the connection in seconds, not hours
                    "keepalives": 1,
                    "keepalives_idle": idle,
                    "keepalives_interval": interval,
                    "keepalives_count": count,
                    "tcp_user_timeout": (idle + interval * count) * 1000,
                },
            )
        self._conn: sa.Connection | None = None
        self.generation = 0  # counts connections: a lock taken on an earlier one is lost
        self._lock = threading.Lock()

    def lock(self, camera: str) -> CameraLock:
        """The lock of ``camera`` on this session (not taken yet)."""
        return CameraLock(self, camera)

    def _connection(self) -> sa.Connection:
        if self._conn is None:
            assert self._engine is not None
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            idle, interval, count = KEEPALIVE
            conn.exec_driver_sql(
                f"SET tcp_keepalives_idle = {idle}; SET tcp_keepalives_interval = {interval}; "
                f"SET tcp_keepalives_count = {count}"
            )
            try:
                conn.exec_driver_sql(f"SET idle_session_timeout = {self._idle_ms}")
            except sa.exc.DBAPIError:  # PostgreSQL before 14: keepalives only
                logger.info("PostgreSQL has no idle_session_timeout: a frozen worker keeps its cameras")
            self._conn = conn
            self.generation += 1
        return self._conn

    def _drop(self) -> None:
        """Forget a broken connection (every lock on it is gone)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # already broken: nothing left to close
                pass

    def execute(self, sql: str, key: int | None = None) -> object:
        """One statement's scalar on the session's connection (connects when needed).

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database cannot be reached (the connection is dropped).
        """
        with self._lock:
            try:
                conn = self._connection()
                return conn.execute(sa.text(sql), {"key": key} if key is not None else {}).scalar()
            except sa.exc.SQLAlchemyError:
                self._drop()
                raise

    def ping(self) -> bool:
        """Whether the session's connection still answers (False: its locks are gone)."""
        if not self.shared:
            return True
        with self._lock:
            if self._conn is None:
                return False
        try:
            self.execute("SELECT 1")
        except sa.exc.SQLAlchemyError as exc:
            logger.warning("the camera lock connection is lost: %s", error_line(exc))
            return False
        return True

    def close(self) -> None:
        """Close the connection: PostgreSQL releases every lock of the session."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                try:
                    conn.close()
                except Exception:
                    logger.debug("closing the lock connection failed", exc_info=True)
        if self._engine is not None:
            self._engine.dispose()


class CameraLock:
    """The advisory lock of one camera, held on a :class:`LockSession`'s connection."""

    def __init__(self, session: LockSession, camera: str) -> None:
        self.session = session
        self.camera = camera
        self.key = lock_key(camera)
        self._generation: int | None = None  # the session connection it was taken on

    @property
    def held(self) -> bool:
        """Whether it was taken on the session's current connection (not pinged: see :meth:`alive`)."""
        return self._generation is not None and self._generation == self.session.generation

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; never waits. True when this worker holds it now.

        A database that cannot be reached counts as "not taken" (logged at debug level: the worker
        keeps trying every second).
        """
        if not self.session.shared:
            self._generation = self.session.generation
            return True
        if self.held and self.session.ping():
            return True
        try:
            got = bool(self.session.execute("SELECT pg_try_advisory_lock(:key)", self.key))
        except sa.exc.SQLAlchemyError as exc:
            logger.debug("camera %s: lock not tried: %s", self.camera, exc)
            return False
        self._generation = self.session.generation if got else None
        return got

    def alive(self) -> bool:
        """Whether this worker still holds the lock (a cheap ``SELECT 1`` on the session's connection).

        False once the connection broke: the lock is gone, and the camera must stop.
        """
        if not self.held:
            return False
        if self.session.ping() and self.held:
            return True
        self._generation = None
        return False

    def release(self) -> None:
        """Give the lock up (nothing happens when it is not held)."""
        if not self.held:
            self._generation = None
            return
        self._generation = None
        if self.session.shared:
            try:
                self.session.execute("SELECT pg_advisory_unlock(:key)", self.key)
            except sa.exc.SQLAlchemyError as exc:  # the connection is gone, and the lock with it
                logger.debug("camera %s: unlock failed: %s", self.camera, exc)
