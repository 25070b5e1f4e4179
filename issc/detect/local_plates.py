"""An offline plate-only detector: the OCR text detector with a plate-likeness filter.

No key, no download: it uses the OCR engine's own text detector (``issc.plates.locate``). It finds
plates only (``class_id`` ``PLATE``); combine it with a person detector for people counts.
"""

from __future__ import annotations

import numpy as np
import supervision as sv

from issc.plates.locate import LocatorOptions, PlateLocator
from issc.plates.ocr import get_engine
from issc.plates.text import DEFAULT_RULES, PlateRules


class LocalPlateDetector:
    """``Detector`` finding licence plates with the offline OCR text detector.

    Args:
        engine: OCR engine name (``"rapidocr"`` is the measured default; ``"easyocr"`` works too).
        rules: Plate rules used to tell plates from other text.
        options: Locator scaling and box growth.
    """

    name = "local-plates"

    def __init__(
        self,
        engine: str = "rapidocr",
        rules: PlateRules = DEFAULT_RULES,
        options: LocatorOptions | None = None,
    ) -> None:
        self.locator = PlateLocator(get_engine(engine), rules, options)

    def detect(self, image: np.ndarray) -> sv.Detections:
        """Plates in ``image`` (BGR uint8), canonical classes, ``data["plate_text"]`` filled."""
        return self.locator.locate(image)
