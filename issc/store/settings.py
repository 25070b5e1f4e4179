"""Key-value settings kept in the history database (JSON values): the saved tuning lives here
(``issc.tuning.TuningBook`` reads and writes it)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from issc.store import schema
from issc.store.database import dialect_insert


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
