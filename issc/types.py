"""Records that cross module lines. Frozen dataclasses, no behaviour beyond tiny helpers."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded picture from a camera.

    Attributes:
        image: BGR uint8 array of shape (h, w, 3). Treat as read-only: it is shared.
        frame_id: Counter per camera, starting at 0, increasing by one per decoded frame.
        camera_id: The camera's id (its index in the configuration, as a string).
        captured_at: Wall-clock time of capture, seconds since the epoch.
        captured_mono: ``time.monotonic()`` at capture, for latency measurement.
    """

    image: np.ndarray
    frame_id: int
    camera_id: str
    captured_at: float
    captured_mono: float


class CameraState(enum.StrEnum):
    CONNECTING = "connecting"
    ONLINE = "online"
    OFFLINE = "offline"


@dataclass(frozen=True)
class CameraStatus:
    """A snapshot of one camera's health, safe to hand to any viewer."""

    id: str
    name: str
    source_kind: str
    source: str  # display form: credentials removed
    state: CameraState
    fps: float
    last_frame_age_s: float | None
    dropped: int
    last_error: str | None
    down_since: float | None = None  # wall-clock time the camera went offline
    detector_state: str = "idle"  # e.g. "ok", "motion-idle", "key rejected: ..."
    detect_fps: float = 0.0
    latency_ms: float | None = None  # recent capture -> publish latency
    worker: str | None = None  # the cluster worker that runs it (ENGINE=remote); None: this process

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "source_kind": self.source_kind,
            "state": self.state.value,
            "fps": round(self.fps, 2),
            "last_frame_age_s": None if self.last_frame_age_s is None else round(self.last_frame_age_s, 3),
            "dropped": self.dropped,
            "last_error": self.last_error,
            "detector": self.detector_state,
            "detect_fps": round(self.detect_fps, 2),
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "down_since": None if self.down_since is None else round(self.down_since, 3),
            "worker": self.worker,
        }

    @classmethod
    def from_json(cls, data: dict, **changes: object) -> CameraStatus:
        """The status a worker's ``/api/cameras`` item describes (``changes``: fields to replace).

        Raises:
            KeyError, TypeError, ValueError: not such an item.
        """
        age = data.get("last_frame_age_s")
        latency = data.get("latency_ms")
        down = data.get("down_since")
        fields: dict[str, object] = {
            "id": str(data["id"]),
            "name": str(data["name"]),
            "source_kind": str(data.get("source_kind", "")),
            "source": "",
            "state": CameraState(data["state"]),
            "fps": float(data.get("fps") or 0.0),
            "last_frame_age_s": None if age is None else float(age),
            "dropped": int(data.get("dropped") or 0),
            "last_error": None if data.get("last_error") is None else str(data["last_error"]),
            "down_since": None if down is None else float(down),
            "detector_state": str(data.get("detector", "idle")),
            "detect_fps": float(data.get("detect_fps") or 0.0),
            "latency_ms": None if latency is None else float(latency),
            "worker": None if data.get("worker") is None else str(data["worker"]),
        }
        fields.update(changes)
        return cls(**fields)  # type: ignore[arg-type]


#: ``PlateRead.source`` values: an OCR call on a crop, the plate locator's own (free) line read,
#: and the consensus of a track's reads (``issc.plates.voting.vote``).
READ_SOURCES = ("ocr", "locator", "vote")


@dataclass(frozen=True)
class PlateRead:
    """One read of a plate: normalised text and confidence in [0, 1].

    Attributes:
        text: Normalised plate text (``issc.plates.text.normalize``).
        confidence: How sure the read is, in [0, 1].
        at: Capture time of the frame it was read from, seconds since the epoch (``None``:
            unknown, e.g. a still image).
        source: Where it came from, one of ``READ_SOURCES``.
        char_conf: Confidence of each character of ``text``, in [0, 1] (the recogniser's
            probability, or for a vote ``issc.plates.voting.vote``'s per-character figure);
            empty when unknown (EasyOCR, the locator's free reads).
    """

    text: str
    confidence: float
    at: float | None = None
    source: str = "ocr"
    char_conf: tuple[float, ...] = ()


@dataclass(frozen=True)
class PlateEvent:
    """One vehicle pass with a voted plate text (one per track, not one per frame)."""

    camera: str
    first_seen: datetime
    last_seen: datetime
    text: str
    confidence: float
    reads: int
    box: tuple[int, int, int, int]  # xyxy in the snapshot's pixels
    crop_jpeg: bytes = field(repr=False, default=b"")
    snapshot_jpeg: bytes = field(repr=False, default=b"")
    ocr_calls: int = 0
    watchlist: str | None = None  # label of the matching watchlist entry, if any
    pass_key: str | None = None  # one per vehicle pass: a provisional event and the final one share it
    votes: tuple[PlateRead, ...] = ()  # the reads kept for the pass, in the order read (``reads`` of them)
    char_conf: tuple[float, ...] = ()  # confidence of each character of ``text`` (``vote``)
    unsure: bool = False  # the best vote stayed below the recognition threshold: no alert, kept for review


@dataclass(frozen=True)
class EventClip:
    """An MP4 clip around one plate event (``issc.engine.clips``), saved beside the event.

    ``camera`` and ``pass_key`` (or, without a pass key, ``last_seen``) name the event it belongs to.
    """

    camera: str
    pass_key: str | None
    last_seen: datetime
    started_at: datetime  # capture time of the clip's first frame
    duration_s: float
    codec: str
    frames: int
    mp4: bytes = field(repr=False, default=b"")


@dataclass(frozen=True)
class PeopleCount:
    """People seen by one camera during one minute."""

    camera: str
    minute: datetime  # start of the minute, timezone-aware UTC
    max_count: int
    mean_count: float
    samples: int


# Lines, zones and visits (issc.analytics). Times are UNIX seconds (capture time of the frames);
# ``person`` is the counter's own id: tracker ids merged across short losses, unique per camera and run.


@dataclass(frozen=True)
class Crossing:
    """A person crossed a counting line."""

    camera: str
    line: str
    direction: str  # "in" | "out"
    at: float
    person: int


@dataclass(frozen=True)
class ZoneVisit:
    """A person's stay in a zone, from the first to the last frame seen inside."""

    camera: str
    zone: str
    person: int
    start: float
    end: float

    @property
    def dwell_s(self) -> float:
        """Seconds from entry to exit."""
        return self.end - self.start


@dataclass(frozen=True)
class HourTotals:
    """The running totals of one line, zone or the whole camera (``kind`` ``"people"``) for one hour.

    Sent again whenever they change (at most once a minute) and when the hour closes; the store
    keeps the newest per (camera, hour, kind, name).

    Attributes:
        hour: Start of the hour (UNIX seconds, a multiple of 3600).
        kind: ``"line"``, ``"zone"`` or ``"people"`` (``name`` is ``""`` then).
        in_count / out_count: Line crossings.
        entries: Zone visits begun (past the minimum dwell).
        visits / dwell_s: Zone visits ended and their summed dwell.
        max_occupancy: Most people in the zone at once.
        distinct: Distinct people seen by the camera (``kind`` ``"people"``).
    """

    camera: str
    hour: int
    kind: str
    name: str
    in_count: int = 0
    out_count: int = 0
    entries: int = 0
    visits: int = 0
    dwell_s: float = 0.0
    max_occupancy: int = 0
    distinct: int = 0


@dataclass(frozen=True)
class PlateDirection:
    """Which way a vehicle went in one plate pass (``PlateEvent.pass_key``), from its plate's box.

    Attributes:
        direction: ``"in"``/``"out"`` (the plate crossed a counting line of its camera to its in
            side / to the other side), else ``"towards"`` (the plate grew: coming at the camera),
            ``"away"`` (it shrank) or ``"unknown"`` (it kept its size, or was seen once).
        growth: Plate box height at the last sighting over the first.
    """

    camera: str
    pass_key: str
    direction: str
    growth: float
    at: float


AnalyticsRecord = Crossing | ZoneVisit | HourTotals | PlateDirection
