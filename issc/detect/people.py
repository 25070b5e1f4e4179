"""Offline person detection with OpenCV's HOG + linear SVM people detector (Dalal-Triggs).

No model file to download: the SVM weights are compiled into OpenCV. Frames are shrunk to at most
``max_width`` pixels wide for speed and the boxes scaled back. HOG's window is 64x128 pixels, so
people shorter than about 128 pixels in the shrunk frame are missed; upright, unoccluded people
of that size or more are found best.
"""

from __future__ import annotations

import cv2
import numpy as np
import supervision as sv

from issc.detections import PERSON, ImageScale, empty_detections, make_detections
from issc.errors import ConfigError

# HOG's SVM margins are unbounded; a logistic squash maps them to [0, 1]. With these constants a
# margin of 0.5 (about where false positives thin out on our stills) is confidence 0.5, a margin
# of 0 is 0.12 and a margin of 1.5 is 0.95.
MARGIN_AT_HALF = 0.5
MARGIN_SLOPE = 4.0


def margin_to_confidence(margin: np.ndarray) -> np.ndarray:
    """Map HOG SVM margins to confidences in [0, 1] (monotonic, 0.5 at ``MARGIN_AT_HALF``)."""
    return 1.0 / (1.0 + np.exp(-MARGIN_SLOPE * (np.asarray(margin, dtype=np.float32) - MARGIN_AT_HALF)))


class HogPersonDetector:
    """People found by OpenCV's default HOG people detector.

    Args:
        min_confidence: Boxes below this squashed confidence are dropped, in [0, 1].
        iou: IoU of the non-maximum suppression of overlapping windows.
        max_width: Frames wider than this are shrunk to it first (speed); 0 keeps the size.
        win_stride: Step of the sliding window in pixels; (8, 8) is the usual trade-off.
        scale: Ratio between pyramid levels; smaller finds more sizes, slower.

    Raises:
        ConfigError: A value out of range.
    """

    name = "hog"

    def __init__(
        self,
        *,
        min_confidence: float = 0.3,
        iou: float = 0.45,
        max_width: int = 640,
        win_stride: tuple[int, int] = (8, 8),
        scale: float = 1.05,
    ) -> None:
        if not 0.0 <= min_confidence <= 1.0:
            raise ConfigError(f"min_confidence={min_confidence!r} is out of range: expected [0, 1]")
        if not 0.0 <= iou <= 1.0:
            raise ConfigError(f"iou={iou!r} is out of range: expected [0, 1]")
        if max_width < 0 or (0 < max_width < 64):
            raise ConfigError(f"max_width={max_width!r}: expected 0 (no shrinking) or at least 64 pixels")
        if scale <= 1.0:
            raise ConfigError(f"scale={scale!r}: expected a pyramid ratio above 1")
        self.min_confidence = min_confidence
        self.iou = iou
        self.max_width = max_width
        self.win_stride = win_stride
        self.scale = scale
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def __repr__(self) -> str:
        return f"HogPersonDetector(min_confidence={self.min_confidence}, max_width={self.max_width})"

    def detect(self, image: np.ndarray) -> sv.Detections:
        """Return the people in ``image`` (BGR uint8 (h, w, 3)) as ``PERSON`` boxes in its pixels."""
        small, scale = ImageScale.shrink_to_width(image, self.max_width)
        if small.shape[0] < 128 or small.shape[1] < 64:
            return empty_detections()
        # detectMultiScale is a const method (OpenCV runs it on parallel threads itself), so one
        # descriptor serves concurrent engine workers.
        boxes, margins = self._hog.detectMultiScale(
            small, hitThreshold=0.0, winStride=self.win_stride, padding=(8, 8), scale=self.scale
        )
        if len(boxes) == 0:
            return empty_detections()
        confidence = margin_to_confidence(np.asarray(margins).reshape(-1))
        xywh = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        xyxy = scale.boxes_to_image(np.column_stack([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]]), image.shape)
        found = make_detections(xyxy, confidence, np.full(len(xyxy), PERSON))
        found = found[found.confidence >= self.min_confidence]
        return found.with_nms(threshold=self.iou) if len(found) else empty_detections()
