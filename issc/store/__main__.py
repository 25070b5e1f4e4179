"""``python -m issc.store``: upgrade a history database, show its revision, or start a new revision.

python -m issc.store                                           # upgrade DATABASE_URL of the settings
python -m issc.store --database-url URL --show                  # print the revision, change nothing
python -m issc.store grants --worker-role issc_worker           # PostgreSQL: SQL for the workers' role
python -m issc.store revision -m "add plate colour"            # new file in migrations/versions

The database URL is printed redacted (its password as ``***``).
"""

from __future__ import annotations

import argparse
import logging
import sys

import sqlalchemy as sa
from alembic import command

from issc.config import load_settings
from issc.errors import ConfigError
from issc.redact import error_line, redact
from issc.store.database import create_engine
from issc.store.migrate import alembic_config, current_revision, head_revision, migrate
from issc.store.roles import worker_grants


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and do what they say; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m issc.store", description=__doc__.splitlines()[0])
    parser.add_argument("action", nargs="?", choices=("upgrade", "revision", "grants"), default="upgrade")
    parser.add_argument(
        "--database-url", default=None, help="the history database (default: DATABASE_URL of the settings)"
    )
    parser.add_argument("--worker-role", help="with `grants`: the PostgreSQL role the camera workers use")
    parser.add_argument("--show", action="store_true", help="print the revision without upgrading")
    parser.add_argument("-m", "--message", help="what a new revision does (with `revision`)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.action == "revision":
        if not args.message:
            parser.error("revision needs -m/--message")
        script = command.revision(
            alembic_config(), message=args.message, rev_id=f"{int(head_revision()) + 1:04d}"
        )
        print(getattr(script, "path", script))
        return 0
    url = args.database_url
    if url is None:
        try:
            url = load_settings().store.database_url
        except ConfigError as exc:
            print(f"ISSC configuration error: {exc}", file=sys.stderr)
            return 2
    shown = redact(url)
    try:
        sa.make_url(url)
    except sa.exc.ArgumentError:
        print(f"{shown!r} is not a database URL: expected e.g. sqlite:///data/issc.db", file=sys.stderr)
        return 2
    if args.action == "grants":
        return _grants(url, shown, args.worker_role, parser)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            before = _describe(conn)
        after = before if args.show else f"revision {migrate(engine)}"
    except sa.exc.SQLAlchemyError as exc:
        print(f"{shown}: cannot be opened ({error_line(getattr(exc, 'orig', None) or exc)})", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"{shown}: {after} (latest: revision {head_revision()})")
    return 0


def _grants(url: str, shown: str, role: str | None, parser: argparse.ArgumentParser) -> int:
    """Print the GRANT/REVOKE statements of the workers' role for the tables the database has now."""
    if not role:
        parser.error("grants needs --worker-role NAME")
    engine = create_engine(url)
    try:
        if engine.dialect.name != "postgresql":
            print(f"{shown} is not PostgreSQL: roles and grants are PostgreSQL's", file=sys.stderr)
            return 2
        with engine.connect() as conn:
            statements = worker_grants(conn, role)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print("\n".join(f"{s};" for s in statements))
    return 0


def _describe(conn: sa.Connection) -> str:
    """Where the database stands: its revision, its schema version from before Alembic, or empty."""
    revision = current_revision(conn)
    if revision is not None:
        return f"revision {revision}"
    if sa.inspect(conn).has_table("schema_version"):
        version = conn.execute(sa.text("SELECT max(version) FROM schema_version")).scalar()
        return f"schema version {version} (before Alembic; upgrading adopts it)"
    return "empty (no history tables yet)"


if __name__ == "__main__":
    sys.exit(main())
