"""The offline plate detector: ``issc.plates``' OCR-based plate locator behind the ``detect`` verb.

No key, no download: it uses the OCR engine's own text detector (``issc.plates.locate``). It finds
plates only (``class_id`` ``PLATE``); ``make_detector("local")`` combines it with a person detector
for people counts.
"""

from __future__ import annotations

import numpy as np
import supervision as sv

from issc.plates.locate import LocatorOptions, PlateLocator
from issc.plates.ocr import get_engine
from issc.plates.ocr.second import second_opinion_for
from issc.plates.text import DEFAULT_RULES, PlateRules


class LocalPlateDetector:
    """``Detector`` finding licence plates with the offline OCR text detector.

    Args:
        engine: OCR engine name (``"rapidocr"`` is the measured default; ``"easyocr"`` works too).
        rules: Plate rules used to tell plates from other text.
        options: Locator scaling and box growth.
        locator: A ready locator instead (benchmarks compare locators built their own way).
        second_opinion: Fuse the plate-trained recogniser's reads of unsure lines
            (``issc.plates.ocr.second``; RapidOCR only). Off by default (see ``make_reader``).

    Raises:
        ConfigError: ``engine`` is not an OCR engine name.
    """

    def __init__(
        self,
        engine: str = "rapidocr",
        rules: PlateRules = DEFAULT_RULES,
        options: LocatorOptions | None = None,
        locator: PlateLocator | None = None,
        second_opinion: bool = False,
    ) -> None:
        second = second_opinion_for(engine) if second_opinion else None
        self.locator = locator or PlateLocator(get_engine(engine), rules, options, second=second)
        self.name = f"ocr-plates-{self.locator.engine.name}"

    def __repr__(self) -> str:
        return f"LocalPlateDetector(engine={self.locator.engine.name!r}, options={self.locator.options!r})"

    def detect(self, image: np.ndarray) -> sv.Detections:
        """Plates in ``image`` (BGR uint8), canonical classes, ``data["plate_text"]`` filled."""
        return self.locator.locate(image)
