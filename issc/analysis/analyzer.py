"""The analyzer interface: ``Analyzer.analyze(frame) -> Analysis``, and an analyzer that finds nothing.

The engine calls ``analyzer.analyze(frame)`` on its analysis thread with the freshest frame it
has, never on the capture thread, so a slow analyzer only lowers the detection rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import supervision as sv

from issc.detections import empty_detections
from issc.tuning import Tuning
from issc.types import Frame, PlateEvent


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
        provisional: Provisional events of passes still in view whose reads are already enough:
            for the store only, which replaces each by its pass's final event (same ``pass_key``),
            so that a crash loses no pass that has ended.
    """

    frame_id: int
    detections: sv.Detections = field(default_factory=empty_detections)
    events: tuple[PlateEvent, ...] = ()
    people: int | None = 0
    ocr_calls: int = 0
    provisional: tuple[PlateEvent, ...] = ()


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
