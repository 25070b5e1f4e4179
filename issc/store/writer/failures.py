"""Failed writes told apart and described: the database cannot write now (the batch is retried)
or a record is refused (it is set aside as a dead letter, described without its images)."""

from __future__ import annotations

import sqlalchemy as sa

from issc.redact import redact
from issc.store.writer.queued import Record
from issc.types import PeopleCount, PlateEvent

#: Records set aside that :meth:`HistoryWriter.dead_letters` keeps.
DEAD_LETTERS_KEPT = 100
#: Errors that say the database cannot write now (retry the batch), not that a record is bad.
DATABASE_ERRORS = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError, OSError)


def describe(record: Record) -> str:
    """A short description of a record for the dead-letter list (no images)."""
    if isinstance(record, PlateEvent):
        return f"plate {record.text!r} on {record.camera!r} last seen {record.last_seen!s}"
    if isinstance(record, PeopleCount):
        return f"people count on {record.camera!r} for {record.minute!s}"
    return repr(record)[:200]


def short_error(exc: BaseException) -> str:
    """One redacted line of a write error: the driver's own message where SQLAlchemy wraps one."""
    original = getattr(exc, "orig", None) or exc
    line = str(original).splitlines()[0] if str(original) else ""
    return redact(f"{type(original).__name__}: {line}".strip())
