"""What the history store hands out: frozen rows, filters and its health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

from issc.plates.text import normalize
from issc.types import PlateEvent

#: How a ``PlateFilter`` treats unsure events (see ``PlateFilter.unsure``).
UnsureChoice = Literal["exclude", "include", "only"]
UNSURE_CHOICES: tuple[str, ...] = get_args(UnsureChoice)


@dataclass(frozen=True)
class StoreStatus:
    """Health of the history store, safe to show to users.

    Attributes:
        ok: False while writes fail (disk full, read-only, database down).
        message: One sentence: "writing" or what is wrong and what the store does about it.
        buffered: Records waiting in memory to be written.
        dropped: Records lost since start because the buffer was full.
        written: Records written since start.
        queued_bytes: Bytes (mostly JPEGs) of the records waiting to be written.
        poisoned: Records set aside since start because they could not be written at all.
        retention: What the last background purge did (``""`` before the first one).
    """

    ok: bool
    message: str
    buffered: int
    dropped: int
    written: int
    queued_bytes: int = 0
    poisoned: int = 0
    retention: str = ""


@dataclass(frozen=True)
class DeadLetter:
    """A record the writer set aside because it failed on its own (a poison record).

    Attributes:
        at: Unix time it was set aside.
        kind: ``PlateEvent`` or ``PeopleCount``.
        record: A short description (camera, text, time; never images).
        error: The database's one-line error.
    """

    at: float
    kind: str
    record: str
    error: str


@dataclass(frozen=True)
class PlateRow:
    """One stored plate event, without its images (fetch those with ``Store.plate_image``).

    Attributes:
        id: Database id.
        camera: Camera id.
        first_seen: UTC time the plate was first seen in this pass.
        last_seen: UTC time the plate was last seen; the list is ordered by it.
        text: Voted plate text (canonical form).
        confidence: Voted confidence in [0, 1].
        reads: OCR reads that agreed.
        box: ``(x1, y1, x2, y2)`` in the snapshot's pixels.
        ocr_calls: OCR calls spent on the track.
        watchlist: Label of the matching watchlist entry, if any.
        has_crop: Whether a crop JPEG is stored.
        has_snapshot: Whether a snapshot JPEG is stored.
        original_text: The machine's read when an analyst changed ``text``; ``None`` otherwise.
        confirmed: An analyst confirmed ``text``.
        reviewed_by: Who last corrected or confirmed the event.
        reviewed_at: When (UTC), or ``None`` for an event nobody reviewed.
        probable: A plate confirmed on this camera within one edit of ``text`` ("probably X").
        char_conf: Per-character confidence of ``text`` as voted (empty for older events and
            after a correction).
        unsure: The pass's best vote stayed below ``PLATE_RECOGNITION_THRESHOLD``: kept for
            review, left out of the default history and of alerts, until an analyst confirms it.
    """

    id: int
    camera: str
    first_seen: datetime
    last_seen: datetime
    text: str
    confidence: float
    reads: int
    box: tuple[int, int, int, int]
    ocr_calls: int
    watchlist: str | None
    has_crop: bool
    has_snapshot: bool
    original_text: str | None = None
    confirmed: bool = False
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    probable: str | None = None
    char_conf: tuple[float, ...] = ()
    unsure: bool = False

    def as_event(self) -> PlateEvent:
        """The stored event as the engine emitted it (without its images and votes), for alerts."""
        return PlateEvent(
            camera=self.camera,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            text=self.text,
            confidence=self.confidence,
            reads=self.reads,
            box=self.box,
            ocr_calls=self.ocr_calls,
            watchlist=self.watchlist,
            unsure=self.unsure,
        )

    @property
    def machine_text(self) -> str:
        """What the reader voted: the original text of a corrected event, else the text."""
        return self.original_text or self.text

    @property
    def corrected(self) -> bool:
        """An analyst changed the text."""
        return self.original_text is not None and self.original_text != self.text


@dataclass(frozen=True)
class StoredRead:
    """One read that voted for an event: its text, confidence, the frame's time and where it came from.

    Attributes:
        text: Normalised text of the read.
        confidence: Its confidence in [0, 1].
        at: UTC time of the frame it was read from (``None`` when not known).
        source: ``"ocr"`` (an OCR call on a crop) or ``"locator"`` (the detector's own read).
        char_conf: Per-character confidence when the recogniser gave one.
    """

    text: str
    confidence: float
    at: datetime | None
    source: str
    char_conf: tuple[float, ...] = ()


@dataclass(frozen=True)
class AuditEntry:
    """One correction or confirmation of an event.

    Attributes:
        at: When (UTC).
        user: Who (user or token name).
        action: ``"correct"`` (the text changed) or ``"confirm"`` (it did not; ``confirmed`` says
            whether the event is now confirmed or un-confirmed).
        old_text: Text before.
        new_text: Text after.
        confirmed: Whether the event was confirmed after this entry.
    """

    at: datetime
    user: str
    action: str
    old_text: str
    new_text: str
    confirmed: bool

    def as_json(self) -> dict[str, object]:
        """The entry as the API and evidence packs write it (time in ISO 8601)."""
        return {
            "at": self.at.isoformat(),
            "user": self.user,
            "action": self.action,
            "old_text": self.old_text,
            "new_text": self.new_text,
            "confirmed": self.confirmed,
        }


@dataclass(frozen=True)
class PlateDetail:
    """An event with everything a reviewer needs: the row, the reads that voted, the audit trail."""

    row: PlateRow
    votes: tuple[StoredRead, ...]
    audit: tuple[AuditEntry, ...]


@dataclass(frozen=True)
class ReviewItem:
    """An event in the review queue with how likely it is to be wrong, and why."""

    row: PlateRow
    priority: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class CorrectionPair:
    """A reviewed event's machine read and its reviewed text (equal when it was confirmed unchanged)."""

    event_id: int
    camera: str
    original: str
    text: str
    confirmed: bool


@dataclass(frozen=True)
class CorrectionResult:
    """What :meth:`issc.store.Store.correct_plate` did: the event before and after.

    Attributes:
        before: The event as it was.
        after: The event as it is now.
        new_watchlist_hit: The new text matches the watchlist and the old one did not: raise the alert.
    """

    before: PlateRow
    after: PlateRow
    new_watchlist_hit: bool


@dataclass(frozen=True)
class LabelledCrop:
    """A reviewed event's crop with its reviewed text, for ``python -m issc.review export``."""

    event_id: int
    camera: str
    text: str
    original_text: str
    confirmed: bool
    reviewed_at: datetime
    crop_jpeg: bytes


@dataclass(frozen=True)
class PlateFilter:
    """Which plate events a query covers. Every field is optional; all given ones must hold.

    Attributes:
        q: Plate text to look for: matches substrings and near misses (look-alike characters are
            free, plus about one other edit per six characters). Normalised first.
        camera: Only this camera.
        since: Only events last seen at or after this time (timezone-aware).
        until: Only events last seen before this time (timezone-aware).
        min_conf: Only events with confidence >= this, in [0, 1].
        watchlist_only: Only events that matched a watchlist entry.
        reviewed: Only events an analyst corrected or confirmed (True), or only those nobody
            reviewed yet (False).
        unsure: Unsure events (best vote below the recognition threshold, not confirmed):
            ``"exclude"`` (the default history), ``"include"`` (with the confident ones) or
            ``"only"``.
    """

    q: str | None = None
    camera: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_conf: float | None = None
    watchlist_only: bool = False
    reviewed: bool | None = None
    unsure: UnsureChoice = "exclude"

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name}={value.isoformat()} must be timezone-aware (e.g. ...+00:00)")
        if self.min_conf is not None and not 0.0 <= self.min_conf <= 1.0:
            raise ValueError(f"min_conf={self.min_conf} must be between 0 and 1")
        if self.unsure not in UNSURE_CHOICES:
            raise ValueError(f"unsure={self.unsure!r} must be one of {', '.join(UNSURE_CHOICES)}")

    @property
    def query_text(self) -> str:
        """``q`` in canonical plate form ("" when absent)."""
        return normalize(self.q or "")


@dataclass(frozen=True)
class HourCount:
    """Plates seen by one camera in one hour (``hour`` is its UTC start)."""

    hour: datetime
    camera: str
    plates: int


@dataclass(frozen=True)
class PlateFrequency:
    """How often one plate text was seen, and when last."""

    text: str
    plates: int
    last_seen: datetime


@dataclass(frozen=True)
class PeopleBucket:
    """People seen by one camera in one time bucket: the peak and the mean of per-minute means."""

    start: datetime
    camera: str
    max_count: int
    mean_count: float


@dataclass(frozen=True)
class WatchlistEntry:
    """A plate to flag. ``max_distance`` counts edits after look-alike folding."""

    id: int
    plate: str
    label: str
    max_distance: int
    created: datetime


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
#: Milliseconds in an hour: ``ms // HOUR_MS`` numbers the UTC hour a time falls in.
HOUR_MS = 3_600_000


def to_ms(value: datetime) -> int:
    """Milliseconds since the epoch of a timezone-aware time."""
    return (value - _EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    """UTC time of milliseconds since the epoch."""
    return _EPOCH + ms * _MS


def format_char_conf(values: Any) -> str | None:
    """Per-character confidences as stored: ``"0.98,0.41"`` (``None`` for none)."""
    values = tuple(values or ())
    return ",".join(f"{float(v):.2f}" for v in values) if values else None


def parse_char_conf(raw: str | None) -> tuple[float, ...]:
    """The stored per-character confidences (empty when none or unreadable)."""
    if not raw:
        return ()
    try:
        return tuple(float(v) for v in raw.split(","))
    except ValueError:
        return ()
