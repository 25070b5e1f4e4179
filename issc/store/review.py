"""Analyst review in the store: an event's reads and audit trail, corrections, the review queue.

A correction changes an event's ``text`` (and so its fold key: search, filters, CSV and the
watchlist use it) and keeps the machine's read in ``original_text``; a confirmation marks the text
right. Both write one ``plate_audit`` row with who and when, in the same transaction, and a
confirmed text becomes a known plate of the camera (:mod:`issc.store.known`). A confirmation (or a
typed correction, which confirms) lifts an event's ``unsure`` flag: it joins the default history and
the hourly roll-up, and a watchlist hit raises its alert then. The queue shows the unsure events
nobody reviewed yet first, then the others, each part ordered by
:func:`issc.plates.review.review_priority`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from issc.plates.review import probable_plate, review_priority
from issc.plates.text import PlateRules, normalize
from issc.search import fold
from issc.store import schema
from issc.store.database import write_transaction
from issc.store.keys import PlateKeys
from issc.store.known import KnownPlates
from issc.store.queries import EVERYTHING, ROW_COLUMNS, PlateQueries, plate_row
from issc.store.records import (
    AuditEntry,
    CorrectionPair,
    CorrectionResult,
    LabelledCrop,
    PlateDetail,
    PlateFilter,
    ReviewItem,
    StoredRead,
    from_ms,
    parse_char_conf,
    to_ms,
)
from issc.store.watchlist import WatchlistTable
from issc.store.writer.hours import count_hour

E = schema.plate_events
R = schema.plate_reads
A = schema.plate_audit
#: Unreviewed events the queue ranks at most (the newest ones in the filter's window).
QUEUE_SCAN = 2000
#: Longest user name kept in the audit trail.
MAX_USER_CHARS = 64


class ReviewTable(PlateQueries):
    """Reads, corrections, the audit trail and the review queue of the plate history.

    Args:
        engine: Engine of a migrated history database.
        plate_keys: The fold-key table (a corrected text's key is added to it).
        known: The confirmed plates (shared with the writer).
        watchlist: The watchlist, to tag a corrected text and find near misses.
    """

    def __init__(
        self, engine: sa.Engine, plate_keys: PlateKeys, known: KnownPlates, watchlist: WatchlistTable
    ) -> None:
        PlateQueries.__init__(self, engine, plate_keys)
        self.known = known
        self._watched = watchlist

    def plate_detail(self, event_id: int) -> PlateDetail | None:
        """An event with the reads that voted for it (in the order read) and its audit trail."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(*ROW_COLUMNS).where(E.c.id == event_id)).first()
            if row is None:
                return None
            reads = conn.execute(
                sa.select(R.c.text, R.c.confidence, R.c.at_ms, R.c.source, R.c.char_conf)
                .where(R.c.event_id == event_id)
                .order_by(R.c.seq)
            ).all()
            audit = conn.execute(
                sa.select(A.c.at_ms, A.c.user, A.c.action, A.c.old_text, A.c.new_text, A.c.confirmed)
                .where(A.c.event_id == event_id)
                .order_by(A.c.at_ms, A.c.id)
            ).all()
        return PlateDetail(
            row=plate_row(row),
            votes=tuple(
                StoredRead(
                    text=r.text,
                    confidence=float(r.confidence),
                    at=None if r.at_ms is None else from_ms(r.at_ms),
                    source=r.source,
                    char_conf=parse_char_conf(r.char_conf),
                )
                for r in reads
            ),
            audit=tuple(
                AuditEntry(from_ms(a.at_ms), a.user, a.action, a.old_text, a.new_text, bool(a.confirmed))
                for a in audit
            ),
        )

    def correct_plate(
        self, event_id: int, *, text: str | None = None, confirmed: bool | None = None, user: str
    ) -> CorrectionResult:
        """Correct and/or confirm an event's text, with an audit entry naming ``user``.

        Args:
            event_id: The event.
            text: The right text (normalised here); ``None`` keeps the text.
            confirmed: Mark the text confirmed (True) or not (False); ``None``: confirmed when a
                text is given (a person typed the plate), else unchanged.
            user: Who does it, for the audit trail.

        Returns:
            The event before and after, and whether the new text newly matches the watchlist.

        Raises:
            ValueError: ``text`` normalises to nothing, or neither ``text`` nor ``confirmed`` given.
            LookupError: No event has this id.
        """
        new_text = None
        if text is not None:
            new_text = normalize(text)
            if not new_text:
                raise ValueError(
                    f"text {text[:40]!r} has no letters or digits: expected a plate such as LS15EBC"
                )
            if len(new_text) > 32:
                raise ValueError(f"text has {len(new_text)} characters: a plate has at most 32")
        if new_text is None and confirmed is None:
            raise ValueError("nothing to change: give a text, confirmed, or both")
        if confirmed is None:
            confirmed = True if new_text is not None else None
        user = (user or "unknown")[:MAX_USER_CHARS]
        label = self._watched.watchlist_match(new_text) if new_text is not None else None
        now_ms = round(time.time() * 1000)
        try:
            with write_transaction(self.engine) as conn:
                row = conn.execute(sa.select(*ROW_COLUMNS).where(E.c.id == event_id)).first()
                if row is None:
                    raise LookupError(f"no plate event with id {event_id}")
                before = plate_row(row)
                final_text = new_text if new_text is not None else before.text
                final_confirmed = before.confirmed if confirmed is None else bool(confirmed)
                values: dict[str, Any] = dict(confirmed=final_confirmed, reviewed_by=user, reviewed_ms=now_ms)
                lifted = before.unsure and final_confirmed
                if lifted:  # a person vouches for the text: the event is no longer unsure
                    values["unsure"] = False
                    count_hour(conn, before.camera, to_ms(before.last_seen), +1)
                if final_text != before.text:
                    key = fold(final_text)
                    self.plate_keys.insert(conn, [key])
                    values.update(
                        text=final_text,
                        fold_key=key,
                        watchlist=label,
                        original_text=before.original_text or before.text,
                        probable=None,
                        char_conf=None,  # the per-character confidence was the machine's text's
                    )
                    if final_text == (before.original_text or before.text):
                        values["original_text"] = None  # corrected back to what the reader said
                conn.execute(E.update().where(E.c.id == event_id).values(**values))
                conn.execute(
                    A.insert().values(
                        event_id=event_id,
                        at_ms=now_ms,
                        user=user,
                        action="correct" if final_text != before.text else "confirm",
                        old_text=before.text,
                        new_text=final_text,
                        confirmed=final_confirmed,
                    )
                )
                if final_confirmed:
                    self.known.remember(conn, before.camera, final_text, user, now_ms)
                if before.confirmed and (final_text != before.text or not final_confirmed):
                    self.known.forget_unless_confirmed(conn, before.camera, before.text)
                after = plate_row(conn.execute(sa.select(*ROW_COLUMNS).where(E.c.id == event_id)).one())
        except BaseException:
            self.known.reset()  # the cache may hold what the rolled-back transaction wrote
            raise
        newly_alerting = before.watchlist is None or before.unsure  # an unsure hit raised no alert
        return CorrectionResult(
            before=before,
            after=after,
            new_watchlist_hit=after.watchlist is not None
            and not after.unsure
            and (after.text != before.text or before.unsure)
            and newly_alerting,
        )

    def review_progress(self, flt: PlateFilter = EVERYTHING) -> tuple[int, int]:
        """(reviewed, total) events in ``flt``, unsure ones included (its ``reviewed`` and ``unsure``
        fields are ignored)."""
        flt = _without_reviewed(flt)
        total = self.count_plates(flt)
        reviewed = self.count_plates(PlateFilter(**{**flt.__dict__, "reviewed": True}))
        return reviewed, total

    def review_queue(
        self, flt: PlateFilter = EVERYTHING, rules: PlateRules | None = None, limit: int = 50
    ) -> list[ReviewItem]:
        """Unreviewed events in ``flt``, unsure ones first, then most likely to be wrong first.

        The newest :data:`QUEUE_SCAN` unreviewed events (unsure ones included whatever ``flt``
        says) are ranked: unsure events (best vote below the recognition threshold) before the
        others, and within each part by :func:`issc.plates.review.review_priority`: low
        confidence, reads that disagree, a text one edit from a watchlist plate or a plate
        confirmed on the camera, a text that fits none of ``rules``' formats. Ties keep the newest
        first.
        """
        flt = PlateFilter(**{**_without_reviewed(flt).__dict__, "reviewed": False})
        rows = self.search_plates(flt, limit=QUEUE_SCAN)
        if not rows:
            return []
        votes = self._votes([r.id for r in rows])
        watched = [e.plate for e in self._watched.list_watchlist()]
        items = []
        with self.engine.connect() as conn:
            for order, row in enumerate(rows):
                near = None
                if row.watchlist is None and watched:
                    hit = probable_plate(row.text, watched)
                    near = (hit, "watchlist") if hit else None
                if near is None:
                    hit = self.known.probable(conn, row.camera, row.text)
                    near = (hit, "confirmed") if hit else None
                reads = votes.get(row.id) or [(row.text, row.confidence)]  # older events: the vote only
                priority, reasons = review_priority(
                    row.text, row.confidence, reads, rules or PlateRules(formats=()), near
                )
                if row.unsure:
                    reasons = ["unsure: best vote below the recognition threshold", *reasons]
                items.append((not row.unsure, -priority, order, ReviewItem(row, priority, tuple(reasons))))
        items.sort(key=lambda t: t[:3])
        return [item for *_, item in items[:limit]]

    def _votes(self, ids: list[int]) -> dict[int, list[tuple[str, float]]]:
        out: dict[int, list[tuple[str, float]]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                for r in conn.execute(
                    sa.select(R.c.event_id, R.c.text, R.c.confidence)
                    .where(R.c.event_id.in_(chunk))
                    .order_by(R.c.seq)
                ):
                    out.setdefault(r.event_id, []).append((r.text, float(r.confidence)))
        return out

    def correction_pairs(self, flt: PlateFilter = EVERYTHING) -> list[CorrectionPair]:
        """Every reviewed event in ``flt``: its machine read and its reviewed text, newest first."""
        flt = PlateFilter(**{**_without_reviewed(flt).__dict__, "reviewed": True})
        out: list[CorrectionPair] = []
        offset = 0
        while True:
            rows = self.search_plates(flt, limit=5000, offset=offset)
            out += [CorrectionPair(r.id, r.camera, r.machine_text, r.text, r.confirmed) for r in rows]
            if len(rows) < 5000:
                return out
            offset += len(rows)

    def labelled_crops(self, since: datetime | None = None) -> Iterator[LabelledCrop]:
        """Crops of events an analyst corrected or confirmed (reviewed at or after ``since``), oldest review
        first; ``crop_jpeg`` is empty for an event whose crop is not stored (retention, or none made)."""
        I = schema.plate_images  # noqa: E741
        stmt = (
            sa.select(
                E.c.id, E.c.camera, E.c.text, E.c.original_text, E.c.confirmed, E.c.reviewed_ms, I.c.crop_jpeg
            )
            .outerjoin(I, I.c.event_id == E.c.id)
            .where(E.c.reviewed_ms.is_not(None))
            .order_by(E.c.reviewed_ms, E.c.id)
        )
        if since is not None:
            stmt = stmt.where(E.c.reviewed_ms >= to_ms(since))
        last: tuple[int, int] | None = None
        while True:  # pages on short connections: the writer is never starved by a slow export
            page = stmt
            if last is not None:
                page = page.where(
                    sa.or_(E.c.reviewed_ms > last[0], sa.and_(E.c.reviewed_ms == last[0], E.c.id > last[1]))
                )
            with self.engine.connect() as conn:
                rows = conn.execute(page.limit(200)).all()
            for r in rows:
                yield LabelledCrop(
                    event_id=r.id,
                    camera=r.camera,
                    text=r.text,
                    original_text=r.original_text or r.text,
                    confirmed=bool(r.confirmed),
                    reviewed_at=from_ms(r.reviewed_ms),
                    crop_jpeg=bytes(r.crop_jpeg or b""),
                )
            if len(rows) < 200:
                return
            last = (int(rows[-1].reviewed_ms), int(rows[-1].id))

    def known_plates(self, camera: str) -> frozenset[str]:
        """The plates confirmed on ``camera``."""
        with self.engine.connect() as conn:
            return self.known.plates(conn, camera)


def _without_reviewed(flt: PlateFilter) -> PlateFilter:
    """``flt`` for any review state, unsure events included (the review pages work on both)."""
    return PlateFilter(**{**flt.__dict__, "reviewed": None, "unsure": "include"})
