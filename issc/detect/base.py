"""The detector interface: one verb, ``detect(image) -> sv.Detections``.

Every backend returns ``supervision.Detections`` in the pixel coordinates of the image it was
given, with our canonical classes:

* ``class_id`` 0 = person, 1 = plate (see ``CLASS_NAMES``),
* ``data["class_name"]`` the matching names (``"person"`` / ``"plate"``),
* ``confidence`` in [0, 1].

Backends raise the errors of ``issc.errors`` (``DetectorAuthError``, ``DetectorUnavailableError``,
``DetectorResponseError``); the engine decides what to do with each kind.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import supervision as sv

PERSON = 0
PLATE = 1
CLASS_NAMES = ("person", "plate")


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
    return make_detections(np.empty((0, 4)), np.empty(0), np.empty(0, dtype=int))


class NullDetector:
    """Finds nothing. Used when detection is switched off."""

    name = "none"

    def detect(self, image: np.ndarray) -> sv.Detections:
        return empty_detections()


def box_iou(a: np.ndarray | tuple[float, ...], b: np.ndarray | tuple[float, ...]) -> float:
    """Intersection over union of two xyxy boxes (``sv.box_iou_batch`` for one pair)."""
    pair = sv.box_iou_batch(np.asarray(a, np.float32).reshape(1, 4), np.asarray(b, np.float32).reshape(1, 4))
    return float(pair[0, 0])
