"""Known plates: plates an analyst confirmed on a camera, and "probably X" for reads one edit away.

Frigate's ``known_plates`` are typed into its configuration; ours are learned from confirmations
(:meth:`issc.store.Store.correct_plate`). The writer asks :meth:`KnownPlates.probable` for every
event it stores, so the set is cached in memory per camera and loaded from the ``known_plates``
table on first use; a confirmation updates the cache and the table in the same call.
"""

from __future__ import annotations

import threading

import sqlalchemy as sa

from issc.plates.review import probable_plate
from issc.store import schema

K = schema.known_plates


class KnownPlates:
    """The confirmed plates of every camera, cached. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_camera: dict[str, frozenset[str]] | None = None

    def _load(self, conn: sa.Connection) -> dict[str, frozenset[str]]:
        with self._lock:
            if self._by_camera is not None:
                return self._by_camera
        found: dict[str, set[str]] = {}
        for camera, text in conn.execute(sa.select(K.c.camera, K.c.text)):
            found.setdefault(camera, set()).add(text)
        loaded = {camera: frozenset(texts) for camera, texts in found.items()}
        with self._lock:
            if self._by_camera is None:
                self._by_camera = loaded
            return self._by_camera

    def plates(self, conn: sa.Connection, camera: str) -> frozenset[str]:
        """The plates confirmed on ``camera``."""
        return self._load(conn).get(camera, frozenset())

    def probable(self, conn: sa.Connection, camera: str, text: str) -> str | None:
        """The plate confirmed on ``camera`` within one edit of ``text`` (not ``text`` itself), or None."""
        known = self.plates(conn, camera)
        return probable_plate(text, known) if known else None

    def remember(self, conn: sa.Connection, camera: str, text: str, user: str, at_ms: int) -> None:
        """Record ``text`` as confirmed on ``camera`` (in the caller's transaction, then the cache)."""
        exists = conn.execute(sa.select(K.c.text).where(K.c.camera == camera, K.c.text == text)).first()
        if exists is None:
            conn.execute(K.insert().values(camera=camera, text=text, confirmed_ms=at_ms, confirmed_by=user))
        self._change(camera, add=text)

    def forget_unless_confirmed(self, conn: sa.Connection, camera: str, text: str) -> None:
        """Drop ``text`` from ``camera``'s known plates when no event of it is confirmed any more."""
        E = schema.plate_events
        still = conn.execute(
            sa.select(E.c.id).where(E.c.camera == camera, E.c.text == text, E.c.confirmed.is_(True)).limit(1)
        ).first()
        if still is None:
            conn.execute(K.delete().where(K.c.camera == camera, K.c.text == text))
            self._change(camera, drop=text)

    def _change(self, camera: str, add: str | None = None, drop: str | None = None) -> None:
        with self._lock:
            if self._by_camera is None:
                return  # loaded from the table on first use
            texts = set(self._by_camera.get(camera, ()))
            if add:
                texts.add(add)
            if drop:
                texts.discard(drop)
            self._by_camera = {**self._by_camera, camera: frozenset(texts)}

    def reset(self) -> None:
        """Forget the cache (a transaction that changed the table rolled back)."""
        with self._lock:
            self._by_camera = None
