"""Motion gating: tell a static scene from a changing one, cheaply, before running detection."""

from __future__ import annotations

import cv2
import numpy as np

_SIZE = (160, 90)
_PIXEL_DELTA = 18  # grey levels; below this a pixel counts as unchanged (sensor noise, compression)


class MotionGate:
    """Compares each checked frame with the previous checked one on a small blurred grey copy.

    ``moving(image)`` is True when more than ``threshold`` of the pixels changed. The first frame
    always counts as motion, so every camera is analysed at least once.
    """

    def __init__(self, threshold: float = 0.002) -> None:
        self.threshold = threshold
        self._previous: np.ndarray | None = None
        self.last_fraction = 1.0

    def moving(self, image: np.ndarray) -> bool:
        small = cv2.resize(image, _SIZE, interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        previous, self._previous = self._previous, grey
        if previous is None:
            self.last_fraction = 1.0
            return True
        changed = cv2.absdiff(grey, previous) > _PIXEL_DELTA
        self.last_fraction = float(np.count_nonzero(changed)) / changed.size
        return self.last_fraction > self.threshold
