"""Per-frame analysis: the place where detection, tracking and plate reading plug into the engine.

The engine calls ``analyzer.analyze(frame)`` on its analysis thread with the freshest frame it
has, never on the capture thread, so a slow analyzer only lowers the detection rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import supervision as sv

from issc.detect.base import empty_detections
from issc.types import Frame, PeopleCount, PlateEvent, Tuning


@dataclass(frozen=True)
class Analysis:
    """What one analysed frame produced.

    Attributes:
        frame_id: The analysed frame's id.
        detections: People and plates in frame pixels (``tracker_id`` and
            ``data["plate_text"]`` filled where known).
        events: Plate events finished while analysing this frame (one per vehicle pass).
        people: Number of people in this frame; ``None`` when people were not looked for in it
            (nobody was in view, and the analyzer looks for newcomers less often).
        ocr_calls: OCR calls made for this frame.
    """

    frame_id: int
    detections: sv.Detections = field(default_factory=empty_detections)
    events: tuple[PlateEvent, ...] = ()
    people: int | None = 0
    ocr_calls: int = 0


class Analyzer(Protocol):
    """Turns frames into detections and plate events. One instance per camera, one thread."""

    tuning: Tuning

    def analyze(self, frame: Frame) -> Analysis: ...

    def flush(self) -> list[PlateEvent]:
        """Finish every open track (the stream ended or the engine stops)."""
        ...


class NullAnalyzer:
    """Finds nothing: the engine runs capture only."""

    def __init__(self, tuning: Tuning | None = None) -> None:
        self.tuning = tuning or Tuning()

    def analyze(self, frame: Frame) -> Analysis:
        return Analysis(frame_id=frame.frame_id)

    def flush(self) -> list[PlateEvent]:
        return []


class PeopleMinutes:
    """Aggregates per-frame people counts into one ``PeopleCount`` per camera per minute."""

    def __init__(self, camera: str) -> None:
        self.camera = camera
        self._minute: int | None = None
        self._counts: list[int] = []

    def add(self, captured_at: float, people: int) -> list[PeopleCount]:
        """Record one analysed frame; returns the finished minute when a new one starts."""
        minute = int(captured_at // 60)
        finished: list[PeopleCount] = []
        if self._minute is not None and minute != self._minute:
            finished = self.flush()
        self._minute = minute
        self._counts.append(people)
        return finished

    def flush(self) -> list[PeopleCount]:
        if self._minute is None or not self._counts:
            return []
        count = PeopleCount(
            camera=self.camera,
            minute=datetime.fromtimestamp(self._minute * 60, tz=UTC),
            max_count=max(self._counts),
            mean_count=sum(self._counts) / len(self._counts),
            samples=len(self._counts),
        )
        self._counts = []
        return [count]
