"""One box on the live picture: its newest observations, its look, its flow state.

``looks`` reads what each box of an analysis result is labelled with, ``claim`` matches an
untracked box to the one seen untracked last time, and ``to_detections`` writes the boxes to draw
as ``sv.Detections`` (what ``FrameAnnotator`` draws).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import supervision as sv

from issc.detections import CLASS_NAMES, OPACITY_KEY, box_iou
from issc.flow import BoxObservation


@dataclass(frozen=True)
class Look:
    """What a box is labelled with: taken from its newest observation."""

    class_id: int
    confidence: float
    class_name: str
    plate_text: str


class Track:
    """One box's observations and flow state. Owned by ``BoxOverlay``, used under its lock."""

    def __init__(self, history: int) -> None:
        self.observations: deque[BoxObservation] = deque(maxlen=history)
        self.look: Look | None = None
        self.box: np.ndarray | None = None  # flow box at the last followed frame (full pixels)
        self.steps: deque[tuple[float, np.ndarray]] = deque()  # (capture time, flow box) per frame
        self.applied = -math.inf  # capture time of the newest observation the flow box includes
        self.shown = (-math.inf, 1.0)  # (newest observation's time, opacity) when last drawn

    def observe(self, observation: BoxObservation, look: Look) -> None:
        if self.observations and self.observations[-1].t >= observation.t:
            self.observations.pop()  # the same frame again: the newer report wins
        self.observations.append(observation)
        self.look = look

    def forget_flow(self) -> None:
        self.box = None
        self.steps.clear()
        self.applied = -math.inf


def claim(unclaimed: list[Track], xyxy: np.ndarray, class_id: int) -> Track | None:
    """Take the untracked box of the same class that overlaps ``xyxy`` most (IoU >= 0.3)."""
    best, best_iou = None, 0.3
    for track in unclaimed:
        if track.look is None or track.look.class_id != class_id:
            continue
        iou = box_iou(track.observations[-1].xyxy(), xyxy)
        if iou >= best_iou:
            best, best_iou = track, iou
    if best is not None:
        unclaimed.remove(best)
    return best


def looks(detections: sv.Detections) -> list[Look]:
    """What each box of an analysis result is labelled with (class name and plate text optional)."""
    n = len(detections)
    class_ids = detections.class_id if detections.class_id is not None else np.zeros(n, int)
    confidence = detections.confidence if detections.confidence is not None else np.full(n, np.nan)
    names = detections.data.get("class_name")
    texts = detections.data.get("plate_text")
    looks = []
    for i in range(n):
        cid = int(class_ids[i])
        default_name = CLASS_NAMES[cid] if 0 <= cid < len(CLASS_NAMES) else str(cid)
        name = str(names[i]) if names is not None and names[i] is not None else default_name
        text = str(texts[i]) if texts is not None and texts[i] else ""
        looks.append(Look(cid, float(confidence[i]), name, text))
    return looks


def to_detections(rows: list[tuple[np.ndarray, Look, int, float]]) -> sv.Detections:
    """The boxes to draw, from rows of (box, look, tracker id, opacity)."""
    n = len(rows)
    xyxy = np.array([r[0] for r in rows], dtype=np.float32).reshape(n, 4)
    return sv.Detections(
        xyxy=xyxy,
        confidence=np.array([r[1].confidence for r in rows], dtype=np.float32),
        class_id=np.array([r[1].class_id for r in rows], dtype=int),
        tracker_id=np.array([r[2] for r in rows], dtype=int),
        data={
            "class_name": np.array([r[1].class_name for r in rows], dtype=object),
            "plate_text": np.array([r[1].plate_text for r in rows], dtype=object),
            OPACITY_KEY: np.array([r[3] for r in rows], dtype=np.float32),
        },
    )
