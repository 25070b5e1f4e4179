"""PostgreSQL for the tests: the server named by ``ISSC_TEST_POSTGRES_URL``, or a throwaway cluster.

Without ``ISSC_TEST_POSTGRES_URL``, :func:`start_postgres` makes a cluster of its own with Debian's
binaries (``/usr/lib/postgresql/<newest>/bin``): ``initdb`` in a temporary folder, a free loopback
port, its socket in that folder, and a test role ``issc`` that may create databases (as CI's
``issc_ci``, not a superuser) owning a database ``issc``. ``initdb`` refuses to run as root, so as
root every server command runs as the ``postgres`` user (``runuser``) and the folder belongs to it.
:meth:`TestPostgres.close` stops the cluster and removes the folder.

Durability of the server itself is not under test, so the throwaway cluster runs with ``fsync=off``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from issc.store.database import drop_database

ENV_URL = "ISSC_TEST_POSTGRES_URL"
PG_ROOT = Path("/usr/lib/postgresql")
ROLE = "issc"
#: ``initdb`` and the first start take a few seconds on a loaded 2-core machine; this bounds them.
START_TIMEOUT_S = 120


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL for the tests; the message says why (tests skip with it)."""


class PostgresFailed(RuntimeError):
    """The binaries are there but the throwaway cluster did not start: a failure, not a skip."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def newest_bin_dir() -> Path | None:
    """``/usr/lib/postgresql/<newest version>/bin`` when it holds ``initdb``, else None."""
    if not PG_ROOT.is_dir():
        return None
    found = [p / "bin" for p in PG_ROOT.iterdir() if (p / "bin" / "initdb").is_file()]
    return max(found, key=lambda p: float(p.parent.name), default=None)


@dataclass
class TestPostgres:
    """A PostgreSQL server for the tests: ``url`` is a SQLAlchemy URL of the test role's database.

    ``data_dir`` is set only for the throwaway cluster: only then can :meth:`stop` and :meth:`start`
    take the server down and up (the outage test).
    """

    __test__ = False  # not a test class, despite its name

    url: str
    data_dir: Path | None = None
    bin_dir: Path | None = None
    port: int = 0
    _folder: Path | None = field(default=None, repr=False)
    _user: str | None = field(default=None, repr=False)
    _admin_url: str | None = field(default=None, repr=False)  # set when ``url`` is a database of our own

    @property
    def own(self) -> bool:
        """Whether this session started the server (and may stop it)."""
        return self.data_dir is not None

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]] if self.bin_dir else list(args)
        if self._user:
            command = ["runuser", "-u", self._user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT_S)

    def start(self) -> None:
        """Start the throwaway cluster; returns once it accepts connections."""
        assert self.data_dir and self._folder, "only the throwaway cluster is started here"
        options = f"-p {self.port} -k {self._folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self._folder / "server.log")
        done = self._run("pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", log, "-w", "start")
        if done.returncode != 0:
            tail = Path(log).read_text(errors="replace")[-2000:] if Path(log).exists() else ""
            raise PostgresFailed(f"pg_ctl start failed: {done.stderr.strip() or done.stdout.strip()} {tail}")

    def stop(self) -> None:
        """Stop the throwaway cluster (fast mode); returns once it is down."""
        assert self.data_dir, "only the throwaway cluster is stopped here"
        done = self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        if done.returncode != 0:
            raise PostgresFailed(f"pg_ctl stop failed: {done.stderr.strip()}")

    def running(self) -> bool:
        """Whether the throwaway cluster's server is up."""
        assert self.data_dir
        return self._run("pg_ctl", "-D", str(self.data_dir), "status").returncode == 0

    def close(self) -> None:
        """Stop the throwaway cluster and remove its folder; on a given server, drop the database this
        session made there (:func:`own_database`), if any."""
        if self._admin_url is not None:
            admin = sa.create_engine(self._admin_url, isolation_level="AUTOCOMMIT")
            try:
                drop_database(admin, sa.make_url(self.url).database)
            finally:
                admin.dispose()
                self._admin_url = None
        if self._folder is None:
            return
        try:
            if self.running():
                self.stop()
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def own_database(given: TestPostgres, name: str) -> TestPostgres:
    """A database ``name`` of this session's own on a given server (made afresh, dropped by
    :meth:`TestPostgres.close`): parallel test workers (pytest-xdist) each reset their own database
    instead of each other's. Needs a role that may create databases, as the tests' role must."""
    admin = sa.create_engine(given.url, isolation_level="AUTOCOMMIT")
    try:
        drop_database(admin, name)  # left over from a killed run
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    url = sa.make_url(given.url).set(database=name).render_as_string(hide_password=False)
    return TestPostgres(url=url, _admin_url=given.url)


def start_postgres() -> TestPostgres:
    """The server of ``ISSC_TEST_POSTGRES_URL``, else a throwaway cluster of this session's own.

    Raises:
        PostgresUnavailable: neither is possible (the message names what is missing).
        PostgresFailed: the binaries are there but the cluster did not start.
    """
    given = os.environ.get(ENV_URL)
    if given:
        return TestPostgres(url=given)
    bin_dir = newest_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable(
            f"no PostgreSQL: set {ENV_URL}=postgresql+psycopg://user:pw@host/db, or install Debian's"
            " postgresql package (`make system-deps` as root) for a throwaway cluster"
        )
    user = None
    if os.geteuid() == 0:  # initdb refuses root
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PostgresUnavailable("running as root, and no `postgres` user to run initdb as") from exc
        user = "postgres"
    folder = Path(tempfile.mkdtemp(prefix="issc-pg-"))
    if user:
        shutil.chown(folder, user=user)
    pg = TestPostgres(
        url="", data_dir=folder / "data", bin_dir=bin_dir, port=_free_port(), _folder=folder, _user=user
    )
    try:
        made = pg._run(
            "initdb", "-D", str(pg.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"
        )
        if made.returncode != 0:
            raise PostgresFailed(f"initdb failed: {made.stderr.strip()[-2000:]}")
        _start_on_a_free_port(pg)
        superuser = sa.create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/postgres", isolation_level="AUTOCOMMIT"
        )
        try:
            with superuser.connect() as conn:
                conn.execute(sa.text(f"CREATE ROLE {ROLE} LOGIN CREATEDB CREATEROLE PASSWORD '{ROLE}'"))
                conn.execute(sa.text(f"CREATE DATABASE {ROLE} OWNER {ROLE}"))
        finally:
            superuser.dispose()
    except BaseException:
        pg.close()
        raise
    pg.url = f"postgresql+psycopg://{ROLE}:{ROLE}@127.0.0.1:{pg.port}/{ROLE}"
    return pg


def _start_on_a_free_port(pg: TestPostgres, attempts: int = 3) -> None:
    """Start ``pg``; another process may take the free port between choosing and binding it: retry."""
    for attempt in range(attempts):
        try:
            pg.start()
            return
        except PostgresFailed:
            if attempt == attempts - 1:
                raise
            pg.port = _free_port()
            time.sleep(0.2)


#: Every table the store's migrations may create, including the version tables (now and before Alembic).
STORE_TABLES = (
    "plate_images",
    "plate_events",
    "plate_keys",
    "plate_hours",
    "people_counts",
    "watchlist",
    "settings",
    "alembic_version",
    "schema_version",
)


def reset_postgres(url: str) -> None:
    """Drop every table in the database's public schema, so a test starts from an empty database."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            names = set(STORE_TABLES) | set(
                conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
            )
            for name in sorted(names):
                conn.execute(sa.text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
    finally:
        engine.dispose()
