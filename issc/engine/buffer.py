"""The latest-frame buffer: one slot per camera that viewers and the analysis thread read.

Publishing replaces the slot; reading never takes the frame away from other readers, so live views
never queue stale frames. A published frame carries the boxes it should show; the boxes are drawn,
and the JPEG encoded, only when a viewer first asks for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import supervision as sv

from issc.detections import empty_detections
from issc.jpeg import encode_jpeg
from issc.types import Frame

Draw = Callable[[np.ndarray, sv.Detections], np.ndarray]


@dataclass(eq=False)
class Published:
    """One published picture: the frame, the boxes to show on it, the drawing made on first demand.

    ``boxes`` are the boxes drawn on :attr:`image` (``issc.overlay.BoxOverlay.boxes_at``: predicted
    ``xyxy``, ``class_id``, ``tracker_id``, ``data["opacity"]``), so checks need not read pixels.
    """

    frame: Frame
    published_mono: float
    boxes: sv.Detections = field(default_factory=empty_detections)
    draw: Draw | None = field(default=None, repr=False)
    shapes: bool = False  # counting lines or zones to draw, boxes or not
    _image: np.ndarray | None = field(default=None, repr=False)
    _jpeg: bytes | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def image(self) -> np.ndarray:
        """The frame with its boxes drawn (BGR), drawn once however many viewers ask."""
        with self._lock:
            return self._drawn()

    def jpeg(self, quality: int = 80) -> bytes:
        """JPEG of the annotated picture, encoded once however many viewers ask."""
        with self._lock:
            if self._jpeg is None:
                self._jpeg = encode_jpeg(self._drawn(), quality)
            return self._jpeg

    def _drawn(self) -> np.ndarray:
        if self._image is None:
            raw = self.frame.image
            self._image = (
                self.draw(raw, self.boxes)
                if self.draw is not None and (len(self.boxes) or self.shapes)
                else raw
            )
        return self._image


class LatestFrame:
    """A one-slot buffer: publishing replaces, reading never takes the frame from other readers."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Published | None = None

    def publish(self, item: Published) -> None:
        with self._cond:
            self._item = item
            self._cond.notify_all()

    def latest(self) -> Published | None:
        return self._item

    def wait_newer(self, after_id: int, timeout: float) -> Published | None:
        """The newest frame with an id above ``after_id``, waiting up to ``timeout`` seconds."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._item is not None and self._item.frame.frame_id > after_id, timeout
            )
            item = self._item
        return item if item is not None and item.frame.frame_id > after_id else None
