"""PostgreSQL privileges of a camera worker's role: everything it writes, nothing of the auth tables.

Every camera worker writes the shared history, so whoever owns one worker host holds its database
credentials. Workers therefore connect with their own role, which may read and write the history
tables but cannot read or write ``auth_*`` (users, tokens, sessions) nor change the schema; the
dashboard keeps the owner role and runs the migrations (``python -m issc.store``).

:func:`worker_grants` writes the statements for the tables the database has now (run them again
after an upgrade that adds tables: ``python -m issc.store grants --worker-role NAME``).
"""

from __future__ import annotations

import re

import sqlalchemy as sa

#: Tables whose name starts with this hold who may sign in: users, tokens, sessions.
AUTH_PREFIX = "auth_"
#: Read-only for workers (Alembic's revision: a worker checks it at its start).
READ_ONLY = ("alembic_version",)
_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def worker_grants(conn: sa.Connection, role: str) -> list[str]:
    """SQL that lets ``role`` do what a worker does on this PostgreSQL database and no more.

    Raises:
        ValueError: the role name is not a plain lower-case identifier.
    """
    if not _ROLE.match(role):
        raise ValueError(f"role {role!r} is not valid: use lower-case letters, digits and '_'.")
    database = conn.execute(sa.text("SELECT current_database()")).scalar_one()
    tables = sorted(
        conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
    )
    statements = [
        f'GRANT CONNECT ON DATABASE "{database}" TO {role}',
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"REVOKE CREATE ON SCHEMA public FROM {role}",
    ]
    for table in tables:
        statements.append(f'REVOKE ALL ON TABLE "{table}" FROM {role}')
        if table.startswith(AUTH_PREFIX):
            continue
        rights = "SELECT" if table in READ_ONLY else "SELECT, INSERT, UPDATE, DELETE"
        statements.append(f'GRANT {rights} ON TABLE "{table}" TO {role}')
    statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
    for sequence in conn.execute(
        sa.text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
    ).scalars():
        if sequence.startswith(AUTH_PREFIX):
            statements.append(f'REVOKE ALL ON SEQUENCE "{sequence}" FROM {role}')
    return statements
