"""``python -m issc.store``: upgrade a history database, show its revision, or start a new revision.

python -m issc.store --database-url sqlite:///data/issc.db     # upgrade to the latest revision
python -m issc.store --database-url URL --show                  # print the revision, change nothing
python -m issc.store revision -m "add plate colour"            # new file in migrations/versions
"""

from __future__ import annotations

import argparse
import logging
import sys

import sqlalchemy as sa
from alembic import command

from issc.store.database import create_engine
from issc.store.migrate import alembic_config, current_revision, head_revision, migrate


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and do what they say; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m issc.store", description=__doc__.splitlines()[0])
    parser.add_argument("action", nargs="?", choices=("upgrade", "revision"), default="upgrade")
    parser.add_argument("--database-url", default="sqlite:///data/issc.db", help="the history database")
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
    engine = create_engine(args.database_url)
    try:
        with engine.connect() as conn:
            before = _describe(conn)
        after = before if args.show else f"revision {migrate(engine)}"
    finally:
        engine.dispose()
    print(f"{args.database_url}: {after} (latest: revision {head_revision()})")
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
