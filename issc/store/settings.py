"""Key-value settings kept in the history database (JSON values): the saved tuning lives here
(``issc.tuning.TuningBook`` reads and writes it).

On PostgreSQL every change is announced to other processes inside its own transaction with
``NOTIFY issc_changes`` (:func:`notify_change`; payload ``setting:<key>`` or ``watchlist``), so camera
workers pick up a tuning or watchlist change made on the dashboard at once
(:class:`issc.cluster.changes.ChangeFeed`). The notice is sent at commit, and never for a rolled-back
change. SQLite has no such channel: readers poll.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from issc.store import schema
from issc.store.database import dialect_insert

#: The PostgreSQL channel notified of every settings and watchlist change.
CHANGES_CHANNEL = "issc_changes"
#: Payload of a watchlist change; a setting's is ``SETTING_PREFIX + key``.
WATCHLIST_CHANGED = "watchlist"
SETTING_PREFIX = "setting:"


def notify_change(conn: sa.Connection, payload: str) -> None:
    """Announce a change on :data:`CHANGES_CHANNEL` in ``conn``'s transaction (PostgreSQL only)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANGES_CHANNEL, "payload": payload},
        )


class SettingsTable:
    """Read and write JSON values by key.

    Args:
        engine: Engine of a migrated history database.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def get_setting(self, key: str, default: Any = None) -> Any:
        """The JSON value stored under ``key``, or ``default``."""
        s = schema.settings
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(s.c.value).where(s.c.key == key)).scalar()
        return default if value is None else json.loads(value)

    def set_setting(self, key: str, value: Any) -> None:
        """Store ``value`` (anything ``json.dumps`` takes) under ``key``, replacing what was there."""
        encoded = json.dumps(value)
        with self.engine.begin() as conn:
            insert = dialect_insert(conn)(schema.settings).values(key=key, value=encoded)
            conn.execute(insert.on_conflict_do_update(index_elements=["key"], set_={"value": encoded}))
            notify_change(conn, SETTING_PREFIX + key)

    def delete_setting(self, key: str) -> bool:
        """Remove ``key``; False when it was not there."""
        s = schema.settings
        with self.engine.begin() as conn:
            deleted = conn.execute(s.delete().where(s.c.key == key)).rowcount
            if deleted:
                notify_change(conn, SETTING_PREFIX + key)
        return bool(deleted)
