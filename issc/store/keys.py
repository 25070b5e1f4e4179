"""Fold keys of stored plates: recording each distinct key, and finding the keys a text query matches.

Every event carries the fold key of its text (:func:`issc.search.fold`); ``plate_keys`` holds each
distinct key once, with its reverse, plus a trigram index where the database offers one (FTS5 on
SQLite, pg_trgm on PostgreSQL; else ``LIKE`` scans). A text query matches the keys that contain it and
the keys within its edit budget: candidates come from index range scans on pigeonhole pieces of the
query (prefix on the key, suffix via the reversed key, middle pieces as substrings), then an exact
edit-distance check keeps the near ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from issc.search import allowed_distance, is_near, split_pieces
from issc.store import schema
from issc.store.database import dialect_insert

#: When a text query matches more distinct plates than this, filter events by pattern instead of by key.
MAX_KEYS = 1000
#: Sort order of the characters a fold key can hold (``fold`` leaves only 3 and 9 of the digits).
_KEY_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

SubstringIndex = Literal["fts5", "pg_trgm"]


@dataclass(frozen=True)
class PlateKeys:
    """The ``plate_keys`` table and the substring index over it.

    Attributes:
        substring_index: ``"fts5"`` (SQLite), ``"pg_trgm"`` (PostgreSQL) or ``None`` (``LIKE`` scans).
    """

    substring_index: SubstringIndex | None

    @classmethod
    def detect(cls, engine: sa.Engine) -> PlateKeys:
        """The keys of a migrated database, with the substring index its migrations could build."""
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            if conn.dialect.name == "sqlite" and inspector.has_table(schema.KEYS_FTS):
                return cls("fts5")
            if conn.dialect.name == "postgresql" and any(
                ix["name"] == schema.KEYS_TRGM_INDEX for ix in inspector.get_indexes("plate_keys")
            ):
                return cls("pg_trgm")
        return cls(None)

    def insert(self, conn: sa.Connection, keys: Iterable[str]) -> None:
        """Record fold keys (and index them for substrings) unless already there."""
        k = schema.plate_keys
        for key in keys:
            inserted = conn.execute(
                dialect_insert(conn)(k).values(fold_key=key, fold_rev=key[::-1]).on_conflict_do_nothing()
            ).rowcount
            if inserted and self.substring_index == "fts5":
                conn.execute(
                    sa.text(
                        f"INSERT INTO {schema.KEYS_FTS} (rowid, fold_key) "
                        "SELECT rowid, fold_key FROM plate_keys WHERE fold_key = :key"
                    ),
                    {"key": key},
                )

    def matching(self, conn: sa.Connection, query_key: str) -> set[str] | None:
        """Keys that contain ``query_key`` or are within its edit budget.

        Returns:
            The keys, or ``None`` when there are too many to list (over :data:`MAX_KEYS`) or the query
            is too short for an index to help: filter events by pattern instead.
        """
        if len(query_key) < 3:
            return None
        keys = set(conn.execute(self._substring_stmt(query_key).limit(MAX_KEYS + 1)).scalars())
        if len(keys) > MAX_KEYS:
            return None
        distance = allowed_distance(len(query_key))
        if distance:
            keys.update(self._near(conn, query_key, distance))
        return keys if len(keys) <= MAX_KEYS else None

    def _substring_stmt(self, fragment: str) -> sa.Select[tuple[str]]:
        pattern = f"%{fragment}%"
        if self.substring_index == "fts5" and len(fragment) >= 3:
            fts = sa.table(schema.KEYS_FTS, sa.column("fold_key"))
            return sa.select(fts.c.fold_key).where(fts.c.fold_key.like(pattern))
        return sa.select(schema.plate_keys.c.fold_key).where(schema.plate_keys.c.fold_key.like(pattern))

    def _near(self, conn: sa.Connection, query_key: str, distance: int) -> set[str]:
        """Keys within ``distance`` edits: candidates by pigeonhole pieces, then exact check."""
        k = schema.plate_keys.c
        pieces = split_pieces(query_key, distance)
        length_ok = sa.func.length(k.fold_key).between(len(query_key) - distance, len(query_key) + distance)
        candidates: set[str] = set()
        for column, piece in ((k.fold_key, pieces[0]), (k.fold_rev, pieces[-1][::-1])):
            stmt = sa.select(k.fold_key).where(_prefix_condition(column, piece), length_ok)
            candidates.update(conn.execute(stmt).scalars())
        for piece in pieces[1:-1]:
            candidates.update(conn.execute(self._substring_stmt(piece)).scalars())
        return {key for key in candidates if is_near(key, query_key, distance)}


def _prefix_condition(column: sa.ColumnElement[str], prefix: str) -> sa.ColumnElement[bool]:
    """``column`` starts with ``prefix``, as an index range (portable across collations)."""
    lower = column >= prefix
    stem = prefix.rstrip("Z")
    if not stem:
        return lower
    upper = stem[:-1] + _KEY_ALPHABET[_KEY_ALPHABET.index(stem[-1]) + 1]
    return sa.and_(lower, column < upper)
