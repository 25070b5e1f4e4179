"""Offline plate locator of last resort: OpenCV's Haar cascade for (Russian-style) number plates.

It ships inside opencv-python (``cv2.data``), so it always works offline. It finds wide, dark on
light rectangular plates seen nearly head-on; expect misses on angled or small plates. The local
detector uses it only when ``issc.plates`` offers no plate locator.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import supervision as sv

from issc.detections import PLATE, ImageScale, empty_detections, make_detections
from issc.errors import ConfigError

CASCADE_FILE = "haarcascade_russian_plate_number.xml"
# Cascade stage weights squashed to [0, 1]: weight 0 is 0.5, weight 2 is 0.88.
WEIGHT_SLOPE = 1.0


class CascadePlateDetector:
    """Licence plates found by an OpenCV Haar cascade.

    Args:
        min_confidence: Boxes below this squashed confidence are dropped, in [0, 1].
        max_width: Frames wider than this are shrunk first (speed); 0 keeps the size.
        min_size: Smallest plate searched, (width, height) in pixels of the shrunk frame.
        cascade_path: Another cascade file; default: OpenCV's ``haarcascade_russian_plate_number``.

    Raises:
        ConfigError: The cascade file cannot be loaded.
    """

    name = "plate-cascade"

    def __init__(
        self,
        *,
        min_confidence: float = 0.3,
        max_width: int = 1280,
        min_size: tuple[int, int] = (40, 12),
        cascade_path: Path | str | None = None,
    ) -> None:
        path = Path(cascade_path) if cascade_path else Path(cv2.data.haarcascades) / CASCADE_FILE
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise ConfigError(f"cannot load the plate cascade {str(path)!r}: expected an OpenCV cascade XML")
        self.min_confidence = min_confidence
        self.max_width = max_width
        self.min_size = min_size

    def __repr__(self) -> str:
        return f"CascadePlateDetector(min_confidence={self.min_confidence}, max_width={self.max_width})"

    def detect(self, image: np.ndarray) -> sv.Detections:
        """Return the plates in ``image`` (BGR uint8 (h, w, 3)) as ``PLATE`` boxes in its pixels."""
        grey, scale = ImageScale.shrink_to_width(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), self.max_width)
        boxes, _levels, weights = self._cascade.detectMultiScale3(
            grey, scaleFactor=1.1, minNeighbors=4, minSize=self.min_size, outputRejectLevels=True
        )
        if len(boxes) == 0:
            return empty_detections()
        weights = np.asarray(weights, dtype=np.float32).reshape(-1)
        confidence = 1.0 / (1.0 + np.exp(-WEIGHT_SLOPE * weights))
        xywh = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        xyxy = scale.boxes_to_image(np.column_stack([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]]), image.shape)
        found = make_detections(xyxy, confidence, np.full(len(xyxy), PLATE))
        return found[found.confidence >= self.min_confidence]
