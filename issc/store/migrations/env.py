"""Alembic environment of the history store: runs revisions on the connection issc hands over.

:func:`issc.store.migrate.migrate` opens the connection, takes the migration lock, adopts databases
from before Alembic and passes the connection in ``config.attributes["connection"]``; everything then
runs in that one transaction. Alembic's own command line has no such connection: use
``python -m issc.store`` instead.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the history migrations with `python -m issc.store --database-url URL`")
# SQLite's DDL is transactional too: issc's engine issues BEGIN itself (issc.store.database).
context.configure(connection=connection, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
