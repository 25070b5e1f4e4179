"""The ``workers`` table: which camera workers are alive, where they answer, what they run.

Every worker registers at its start (:meth:`Registry.register`), sends a heartbeat every
``HEARTBEAT_S`` with the cameras it runs now and the ones it waits to take over
(:meth:`Registry.heartbeat`; PostgreSQL also gets ``NOTIFY issc_workers``), and removes its row when it
stops. A row whose heartbeat is older than ``WORKER_DEAD_S`` belongs to a dead worker:
:meth:`Registry.live` leaves it out. Times come from the database's clock, so machines whose clocks
disagree still agree on who is alive.

Camera names are unique across the cluster. Two workers may list the same camera (same name, same
source): they are failover partners, and the camera's advisory lock (:mod:`issc.cluster.locks`)
decides which one runs it. The same name for two different sources is a clash, which
:meth:`Registry.register` refuses with a :class:`CameraClash` naming the other worker. Sources are
compared by a hash of their displayed form (credentials removed), so two workers may reach one camera
with different passwords.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from issc.config import CameraConfig
from issc.errors import ConfigError
from issc.store import schema
from issc.store.database import dialect_insert, write_transaction

#: The PostgreSQL channel notified at every registration, heartbeat and removal (payload: worker id).
CHANNEL = "issc_workers"
#: Advisory transaction lock serialising registrations (the clash check, then the insert).
_REGISTER_LOCK_KEY = 4156


class CameraClash(ConfigError):
    """A camera name that another live worker uses for a different source, or a worker id in use."""


@dataclass(frozen=True)
class CameraClaim:
    """A camera as the registry knows it: its name and a hash of its source."""

    name: str
    source_hash: str

    @classmethod
    def of(cls, camera: CameraConfig) -> CameraClaim:
        """The claim of a configured camera (its source hashed without credentials)."""
        shown = f"{camera.kind}:{camera.display_source}"
        return cls(camera.name, hashlib.sha256(shown.encode()).hexdigest()[:16])

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "source_hash": self.source_hash}


@dataclass(frozen=True)
class WorkerRow:
    """One worker's row: what it reported at its last heartbeat."""

    id: str
    host: str
    url: str
    version: str
    cameras: tuple[CameraClaim, ...]  # runs now
    standby: tuple[CameraClaim, ...]  # waits to take over
    heartbeat_ms: int
    started_ms: int

    def runs(self, camera: str) -> bool:
        """Whether it ran ``camera`` at its last heartbeat."""
        return any(c.name == camera for c in self.cameras)

    def listed(self) -> tuple[CameraClaim, ...]:
        """Every camera it may run: the ones it runs and the ones it waits for."""
        return (*self.cameras, *self.standby)

    def camera_names(self) -> list[str]:
        return [c.name for c in self.cameras]


def _claims(text: str | None) -> tuple[CameraClaim, ...]:
    try:
        items = json.loads(text or "[]")
        return tuple(CameraClaim(str(i["name"]), str(i.get("source_hash", ""))) for i in items)
    except (ValueError, TypeError, KeyError):  # a hand-edited row: it claims nothing
        return ()


def _encoded(claims: Iterable[CameraClaim]) -> str:
    return json.dumps([c.as_json() for c in claims], separators=(",", ":"))


def _row(row: sa.Row) -> WorkerRow:
    return WorkerRow(
        id=row.id,
        host=row.host,
        url=row.url,
        version=row.version,
        cameras=_claims(row.cameras),
        standby=_claims(row.standby),
        heartbeat_ms=int(row.heartbeat_ms),
        started_ms=int(row.started_ms),
    )


class Registry:
    """The ``workers`` table of the history database (migrated by the store, revision 0008).

    Args:
        engine: The history database's engine (e.g. ``Store.engine``).
        dead_after_s: A heartbeat older than this marks a dead worker (``WORKER_DEAD_S``).
    """

    def __init__(self, engine: sa.Engine, dead_after_s: float = 10.0) -> None:
        self.engine = engine
        self.dead_after_s = dead_after_s
        self._postgres = engine.dialect.name == "postgresql"

    def _now(self) -> sa.ColumnElement[int]:
        """The database's clock in milliseconds since the Unix epoch, as an SQL expression."""
        if self._postgres:
            return sa.literal_column(
                "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)", sa.BigInteger
            )
        return sa.literal_column("CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)", sa.BigInteger)

    def now_ms(self) -> int:
        """The database's clock (milliseconds since the Unix epoch)."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(self._now())).scalar_one())

    def _notify(self, conn: sa.Connection, worker_id: str) -> None:
        if self._postgres:
            conn.execute(sa.text("SELECT pg_notify(:channel, :id)"), {"channel": CHANNEL, "id": worker_id})

    def _live_rows(self, conn: sa.Connection, dead_after_s: float | None) -> list[WorkerRow]:
        dead_ms = int((self.dead_after_s if dead_after_s is None else dead_after_s) * 1000)
        w = schema.workers
        query = sa.select(w).where(w.c.heartbeat_ms >= self._now() - dead_ms).order_by(w.c.id)
        return [_row(r) for r in conn.execute(query)]

    def register(
        self,
        worker_id: str,
        *,
        host: str,
        url: str,
        version: str,
        cameras: Iterable[CameraClaim] = (),
        standby: Iterable[CameraClaim] = (),
    ) -> WorkerRow:
        """Add (or renew) this worker's row, after checking it clashes with no live worker.

        Raises:
            CameraClash: a live worker uses one of these camera names for another source, or runs
                under this id at another URL (one sentence naming it and its URL).
        """
        cameras, standby = tuple(cameras), tuple(standby)
        with write_transaction(self.engine) as conn:
            if self._postgres:
                conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({_REGISTER_LOCK_KEY})"))
            for other in self._live_rows(conn, None):
                if other.id == worker_id:
                    if other.url != url:
                        raise CameraClash(
                            f"WORKER_ID={worker_id!r} is already used by a live worker at {other.url}: give "
                            "each worker its own WORKER_ID (or stop the other one)"
                        )
                    continue
                _check_clash(worker_id, (*cameras, *standby), other)
            values = {
                "host": host,
                "url": url,
                "version": version,
                "cameras": _encoded(cameras),
                "standby": _encoded(standby),
                "heartbeat_ms": self._now(),
                "started_ms": self._now(),
            }
            insert = dialect_insert(conn)(schema.workers).values(id=worker_id, **values)
            conn.execute(insert.on_conflict_do_update(index_elements=["id"], set_=values))
            self._notify(conn, worker_id)
            row = conn.execute(sa.select(schema.workers).where(schema.workers.c.id == worker_id)).one()
        return _row(row)

    def heartbeat(
        self, worker_id: str, cameras: Iterable[CameraClaim], standby: Iterable[CameraClaim]
    ) -> bool:
        """Renew the worker's heartbeat with what it runs now and what it waits for.

        Returns:
            False when its row is gone (removed by hand): register again.
        """
        w = schema.workers
        update = (
            sa.update(w)
            .where(w.c.id == worker_id)
            .values(heartbeat_ms=self._now(), cameras=_encoded(cameras), standby=_encoded(standby))
        )
        with self.engine.begin() as conn:
            found = conn.execute(update).rowcount > 0
            self._notify(conn, worker_id)
        return found

    def live(self, dead_after_s: float | None = None) -> list[WorkerRow]:
        """Workers with a heartbeat within ``dead_after_s`` (default: the registry's), by id."""
        with self.engine.connect() as conn:
            return self._live_rows(conn, dead_after_s)

    def all(self) -> list[WorkerRow]:
        """Every row, dead workers' included, by id."""
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(sa.select(schema.workers).order_by(schema.workers.c.id))]

    def all_and_live(self) -> tuple[list[WorkerRow], set[str]]:
        """Every row, dead workers' included, by id, and the ids of the live ones (one query)."""
        w = schema.workers
        alive = (w.c.heartbeat_ms >= self._now() - int(self.dead_after_s * 1000)).label("alive")
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(w, alive).order_by(w.c.id)).all()
        return [_row(r) for r in found], {r.id for r in found if r.alive}

    def remove(self, worker_id: str) -> None:
        """Delete the worker's row (at a clean stop)."""
        with self.engine.begin() as conn:
            conn.execute(sa.delete(schema.workers).where(schema.workers.c.id == worker_id))
            self._notify(conn, worker_id)

    def owner_of(self, camera: str) -> WorkerRow | None:
        """The live worker that runs ``camera`` (None: nobody); during a hand-over, the freshest."""
        running = [row for row in self.live() if row.runs(camera)]
        return max(running, key=lambda row: row.heartbeat_ms) if running else None


def _check_clash(worker_id: str, claims: Iterable[CameraClaim], other: WorkerRow) -> None:
    theirs = {c.name: c.source_hash for c in other.listed()}
    for claim in claims:
        if claim.name in theirs and theirs[claim.name] != claim.source_hash:
            raise CameraClash(
                f"camera {claim.name!r} of worker {worker_id!r} is already listed by the live worker "
                f"{other.id!r} ({other.url}) with a different source: camera names are unique across "
                "workers, so rename one of them in CAMERAS (or give both the same source to make them "
                "failover partners)"
            )
