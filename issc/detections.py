"""The detection record every layer shares: canonical classes and the helpers that build, merge and
map ``sv.Detections``.

Every detector returns ``supervision.Detections`` in the pixel coordinates of the image it was
given, with our canonical classes:

* ``class_id`` 0 = person, 1 = plate (see ``CLASS_NAMES``),
* ``data["class_name"]`` the matching names (``"person"`` / ``"plate"``),
* ``confidence`` in [0, 1].

Backends raise the errors of ``issc.errors`` (``DetectorAuthError``, ``DetectorUnavailableError``,
``DetectorResponseError``); the engine decides what to do with each kind.

This module sits at the bottom of ``issc``: ``detect/``, ``plates/``, ``analysis/``, the engine
and the drawing code import it, and it imports nothing of ``issc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

import cv2
import numpy as np
import supervision as sv

PERSON = 0
PLATE = 1
CLASS_NAMES = ("person", "plate")
OPACITY_KEY = "opacity"  # ``data`` key of published boxes: 1 opaque, 0 gone (``issc.overlay``)


@runtime_checkable
class Detector(Protocol):
    """Finds people and licence plates in one BGR image."""

    name: str

    def detect(self, image: np.ndarray) -> sv.Detections:
        """Return people and plates found in ``image`` (BGR uint8, shape (h, w, 3))."""
        ...


def make_detections(xyxy: np.ndarray, confidence: np.ndarray, class_id: np.ndarray) -> sv.Detections:
    """Build canonical detections (class names filled in) from parallel arrays."""
    xyxy = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    class_id = np.asarray(class_id, dtype=int).reshape(-1)
    return sv.Detections(
        xyxy=xyxy,
        confidence=np.asarray(confidence, dtype=np.float32).reshape(-1),
        class_id=class_id,
        data={"class_name": np.array([CLASS_NAMES[c] for c in class_id], dtype=object)},
    )


def empty_detections() -> sv.Detections:
    """No detections, with the canonical ``data`` keys."""
    return make_detections(np.empty((0, 4)), np.empty(0), np.empty(0, dtype=int))


def merge_detections(parts: Sequence[sv.Detections]) -> sv.Detections:
    """``sv.Detections.merge`` of parts that need not carry the same fields.

    ``sv.Detections.merge`` wants every part to have the same ``data`` keys and either all or none
    of them a ``tracker_id``. Here a ``data`` key of any part (empty ones included) that another
    part lacks is filled with ``None`` for its rows (NaN rows of the same width for a key whose
    values are rows, such as the plate locator's ``line_xyxy``), and a part without ``tracker_id`` gets -1
    (untracked) when another part has ids. The parts themselves are not changed.

    Returns:
        The rows of ``parts`` in order; ``empty_detections()`` when there are none.
    """
    keys = set().union(*(p.data.keys() for p in parts))
    tracked = any(p.tracker_id is not None for p in parts)
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_detections()
    filled = []
    for part in parts:
        n = len(part)
        data = dict(part.data)
        for key in keys - data.keys():
            data[key] = _missing(key, n, parts)
        tracker_id = part.tracker_id
        if tracked and tracker_id is None:
            tracker_id = np.full(n, -1, dtype=int)
        filled.append(replace(part, data=data, tracker_id=tracker_id))
    return sv.Detections.merge(filled)


def _missing(key: str, n: int, parts: Sequence[sv.Detections]) -> np.ndarray:
    """``n`` rows of "no value" for ``key``, shaped like the other parts' values of it."""
    for part in parts:
        values = part.data.get(key)
        if isinstance(values, np.ndarray) and values.ndim > 1:
            return np.full((n, *values.shape[1:]), np.nan, dtype=np.float32)
    return np.full(n, None, dtype=object)


def box_iou(a: np.ndarray | tuple[float, ...], b: np.ndarray | tuple[float, ...]) -> float:
    """Intersection over union of two xyxy boxes (``sv.box_iou_batch`` for one pair)."""
    pair = sv.box_iou_batch(np.asarray(a, np.float32).reshape(1, 4), np.asarray(b, np.float32).reshape(1, 4))
    return float(pair[0, 0])


@dataclass(frozen=True)
class ImageScale:
    """How a detector's working copy was made from the image it was given, so that boxes found on
    the copy can be put back: ``copy pixel = image pixel * scale + (left, top)``.

    Detectors shrink frames before searching them (speed), and letterboxing also pads them; both
    are one ``ImageScale``.
    """

    scale: float = 1.0
    left: float = 0.0
    top: float = 0.0

    @classmethod
    def shrink_to_width(cls, image: np.ndarray, max_width: int) -> tuple[np.ndarray, ImageScale]:
        """``image`` shrunk (never enlarged, aspect kept, ``INTER_AREA``) to at most ``max_width``
        pixels wide, and how; ``max_width`` 0 keeps it as it is."""
        height, width = image.shape[:2]
        if not max_width or width <= max_width:
            return image, cls()
        scale = max_width / width
        size = (max_width, max(1, round(height * scale)))
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA), cls(scale)

    def boxes_to_image(self, xyxy: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
        """``xyxy`` boxes (n, 4) in the copy's pixels, in the pixels of an image of
        ``image_shape`` (clipped to it)."""
        height, width = image_shape[:2]
        offset = np.array([self.left, self.top, self.left, self.top], dtype=np.float32)
        boxes = (np.asarray(xyxy, dtype=np.float32).reshape(-1, 4) - offset) / np.float32(self.scale)
        return np.clip(boxes, 0, np.array([width, height, width, height], dtype=np.float32))
