"""The watchlist: plates to flag, kept in the history database, and matching reads against them.

Entries are read into memory after every change, so :meth:`WatchlistTable.watchlist_match` costs no
database round trip and can run for every plate event. A change made by another process (the
dashboard, while a camera worker matches) reaches this copy with :meth:`WatchlistTable.reload_watchlist`;
on PostgreSQL every change also sends ``NOTIFY issc_changes, 'watchlist'`` in its transaction
(:func:`issc.store.settings.notify_change`), which camera workers listen for.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from rapidfuzz.distance import Levenshtein

from issc.plates.text import normalize
from issc.search import allowed_distance, fold
from issc.store import schema
from issc.store.records import WatchlistEntry, from_ms
from issc.store.settings import WATCHLIST_CHANGED, notify_change

#: Longest plate text and label the watchlist keeps (its columns hold 32 and 128 characters).
MAX_PLATE, MAX_LABEL = 16, 128


def watchlist_label(label: str) -> str:
    """The label as stored: trimmed, not empty, at most :data:`MAX_LABEL` characters.

    Raises:
        ValueError: one sentence saying what to change.
    """
    label = label.strip()
    if not label:
        raise ValueError("Enter a label, e.g. stolen.")
    if len(label) > MAX_LABEL or any(ord(c) < 32 for c in label):
        raise ValueError(f"A label has at most {MAX_LABEL} characters and no control characters.")
    return label


def watchlist_plate(text: str) -> str:
    """The plate as the watchlist stores it (A-Z, 0-9), from what someone typed.

    Raises:
        ValueError: one sentence when nothing usable is left.
    """
    plate = normalize(text)
    if len(plate) > MAX_PLATE:
        raise ValueError(f"A plate has at most {MAX_PLATE} letters and digits; this one has {len(plate)}.")
    if not plate:
        raise ValueError(
            f"“{text.strip()}” has no letters or digits: enter the plate as written, e.g. LS15 EBC."
            if text.strip()
            else "Enter a plate, e.g. LS15 EBC."
        )
    return plate


class WatchlistTable:
    """Add, change, remove and list watchlist entries; match plate reads against them.

    Args:
        engine: Engine of a migrated history database.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        # Entries with the fold keys of their plates; replaced whole, so readers on other threads see
        # either the old list or the new one.
        self._watchlist: tuple[tuple[WatchlistEntry, str], ...] = ()
        self.reload_watchlist()

    def add_watchlist(self, plate: str, label: str, max_distance: int | None = None) -> WatchlistEntry:
        """Add a plate to flag.

        Args:
            plate: Plate text (normalised before storing).
            label: What to show on a hit, e.g. "stolen".
            max_distance: Edits allowed after look-alike folding; default about one per six characters.

        Returns:
            The stored entry.
        """
        text = watchlist_plate(plate)
        label = watchlist_label(label)
        distance = allowed_distance(len(text)) if max_distance is None else max_distance
        if distance < 0:
            raise ValueError(f"max_distance={max_distance} must be at least 0")
        created = time.time()
        with self.engine.begin() as conn:
            entry_id = conn.execute(
                schema.watchlist.insert().values(
                    plate=text, label=label, max_distance=distance, created_ms=int(created * 1000)
                )
            ).inserted_primary_key[0]
            notify_change(conn, WATCHLIST_CHANGED)
        self.reload_watchlist()
        return next(e for e, _ in self._watchlist if e.id == entry_id)

    def update_watchlist(
        self,
        entry_id: int,
        *,
        plate: str | None = None,
        label: str | None = None,
        max_distance: int | None = None,
    ) -> WatchlistEntry | None:
        """Change fields of an entry; returns the new entry or ``None`` when the id is unknown."""
        values: dict[str, Any] = {}
        if plate is not None:
            values["plate"] = watchlist_plate(plate)
        if label is not None:
            values["label"] = watchlist_label(label)
        if max_distance is not None:
            if max_distance < 0:
                raise ValueError(f"max_distance={max_distance} must be at least 0")
            values["max_distance"] = max_distance
        if values:
            with self.engine.begin() as conn:
                updated = conn.execute(
                    schema.watchlist.update().where(schema.watchlist.c.id == entry_id).values(**values)
                ).rowcount
                if updated:
                    notify_change(conn, WATCHLIST_CHANGED)
            self.reload_watchlist()
        return next((e for e, _ in self._watchlist if e.id == entry_id), None)

    def remove_watchlist(self, entry_id: int) -> bool:
        """Delete an entry; False when the id is unknown."""
        with self.engine.begin() as conn:
            deleted = conn.execute(
                schema.watchlist.delete().where(schema.watchlist.c.id == entry_id)
            ).rowcount
            if deleted:
                notify_change(conn, WATCHLIST_CHANGED)
        self.reload_watchlist()
        return bool(deleted)

    def list_watchlist(self) -> list[WatchlistEntry]:
        """All entries, oldest first."""
        return [e for e, _ in self._watchlist]

    def watchlist_match(self, text: str) -> str | None:
        """Label of the closest watchlist entry within its allowed distance of ``text``, else ``None``.

        Distances are counted after look-alike folding (``LS15E8C`` is 0 edits from ``LS15EBC``); on a
        tie the oldest entry wins. Reads an in-memory copy: cheap enough to call for every event.
        """
        key = fold(text)
        if not key:
            return None
        best: tuple[int, str] | None = None
        for entry, entry_key in self._watchlist:
            distance = Levenshtein.distance(key, entry_key, score_cutoff=entry.max_distance)
            if distance <= entry.max_distance and (best is None or distance < best[0]):
                best = (distance, entry.label)
        return None if best is None else best[1]

    def reload_watchlist(self) -> None:
        """Read the entries again from the database (a change made by another process).

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database cannot be read (the copy in memory stays).
        """
        w = schema.watchlist
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(w).order_by(w.c.id)).all()
        self._watchlist = tuple(
            (WatchlistEntry(r.id, r.plate, r.label, r.max_distance, from_ms(r.created_ms)), fold(r.plate))
            for r in rows
        )
