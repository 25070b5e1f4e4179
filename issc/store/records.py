"""What the history store hands out: frozen rows, filters and its health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from issc.plates.text import normalize


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
    """

    q: str | None = None
    camera: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_conf: float | None = None
    watchlist_only: bool = False

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name}={value.isoformat()} must be timezone-aware (e.g. ...+00:00)")
        if self.min_conf is not None and not 0.0 <= self.min_conf <= 1.0:
            raise ValueError(f"min_conf={self.min_conf} must be between 0 and 1")

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
