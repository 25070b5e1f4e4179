"""The webhook's outbox: watchlist hits waiting to be POSTed, kept in the history database.

A hit is put here before its first attempt and deleted once the receiver took it (or gave a final
refusal), so a restart or a crash loses no alert: the next sender picks the rows up. Several
processes may share one database (a dashboard and its camera workers): a sender *leases* a row
before posting it (``lease_ms``), so each row goes out through one sender at a time; a sender that
died mid-post leaves a lease that runs out, and the row is sent again (at least once).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from issc.store import schema

#: Rows the outbox holds at most; a hit beyond is dropped (and counted by the sender).
MAX_ROWS = 10_000
#: A sender holds a row this long at most (longer than a POST's timeout).
LEASE_S = 60.0


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class OutboxItem:
    """One leased row: its id, the JSON body and the attempts made before this one."""

    id: int
    body: str
    attempts: int


class Outbox:
    """The ``webhook_outbox`` table (revision 0010).

    Args:
        engine: The history database's engine (``Store.engine``).
        max_rows: Most rows kept; :meth:`put` refuses beyond.
        lease_s: How long a claimed row stays with its sender.
    """

    def __init__(self, engine: sa.Engine, max_rows: int = MAX_ROWS, lease_s: float = LEASE_S) -> None:
        self.engine = engine
        self.max_rows = max_rows
        self.lease_ms = int(lease_s * 1000)

    def put(self, payload: dict[str, Any]) -> bool:
        """Keep a payload to be sent now; False when the outbox is full (nothing kept)."""
        o = schema.webhook_outbox
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True)
        now = _now_ms()
        with self.engine.begin() as conn:
            if conn.execute(sa.select(sa.func.count()).select_from(o)).scalar_one() >= self.max_rows:
                return False
            conn.execute(o.insert().values(payload=body, created_ms=now, attempts=0, next_ms=now, lease_ms=0))
        return True

    def claim(self) -> OutboxItem | None:
        """Lease the oldest row that is due and free; None when there is none now."""
        o = schema.webhook_outbox
        for _ in range(5):  # another sender may lease the same row first: take the next
            now = _now_ms()
            with self.engine.begin() as conn:
                row = conn.execute(
                    sa.select(o.c.id, o.c.payload, o.c.attempts)
                    .where(o.c.next_ms <= now, o.c.lease_ms <= now)
                    .order_by(o.c.id)
                    .limit(1)
                ).first()
                if row is None:
                    return None
                taken = conn.execute(
                    o.update()
                    .where(o.c.id == row.id, o.c.lease_ms <= now)
                    .values(lease_ms=now + self.lease_ms)
                ).rowcount
            if taken == 1:
                return OutboxItem(row.id, row.payload, row.attempts)
        return None

    def done(self, item: OutboxItem) -> None:
        """The row is finished with (sent, or refused for good): delete it."""
        with self.engine.begin() as conn:
            conn.execute(schema.webhook_outbox.delete().where(schema.webhook_outbox.c.id == item.id))

    def retry(self, item: OutboxItem, after_s: float, error: str) -> None:
        """Try the row again in ``after_s`` seconds (one more attempt counted, the lease given back)."""
        o = schema.webhook_outbox
        with self.engine.begin() as conn:
            conn.execute(
                o.update()
                .where(o.c.id == item.id)
                .values(
                    attempts=item.attempts + 1,
                    next_ms=_now_ms() + int(after_s * 1000),
                    lease_ms=0,
                    last_error=error[:200],
                )
            )

    def pending(self) -> int:
        """Rows waiting (due now or later)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(schema.webhook_outbox)).scalar_one()

    def next_due_s(self) -> float | None:
        """Seconds until the next row is due (0: now), or None when the outbox is empty."""
        o = schema.webhook_outbox
        with self.engine.connect() as conn:
            later = sa.case((o.c.next_ms > o.c.lease_ms, o.c.next_ms), else_=o.c.lease_ms)
            due = conn.execute(sa.select(sa.func.min(later))).scalar()
        return None if due is None else max((due - _now_ms()) / 1000, 0.0)
