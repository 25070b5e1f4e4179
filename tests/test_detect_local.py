"""Offline detectors (HOG people, plate cascade), CompositeDetector and the make_detector factory."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import supervision as sv

from issc.config import load_settings
from issc.detect import (
    CompositeDetector,
    NullDetector,
    make_detector,
    make_plate_locator,
)
from issc.detect.people import HogPersonDetector, margin_to_confidence
from issc.detect.plates_cascade import CascadePlateDetector
from issc.detections import PERSON, PLATE, make_detections
from issc.errors import ConfigError


class FixedDetector:
    """Answers the same detections for every image."""

    def __init__(self, name: str, found: sv.Detections) -> None:
        self.name = name
        self.found = found

    def detect(self, image: np.ndarray) -> sv.Detections:
        return self.found


def boxes(class_ids: list[int], **data: list[object]) -> sv.Detections:
    n = len(class_ids)
    found = make_detections(np.tile([[0, 0, 10, 10]], (n, 1)), np.full(n, 0.5), np.array(class_ids))
    for key, values in data.items():
        found.data[key] = np.array(values, dtype=object)
    return found


# --- HOG people ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("margin", "confidence"),
    [(-1.0, 0.002), (0.0, 0.119), (0.5, 0.5), (1.0, 0.881), (1.5, 0.982)],
)
def test_hog_margins_squash_monotonically_into_unit_range(margin: float, confidence: float) -> None:
    assert float(margin_to_confidence(np.array([margin]))[0]) == pytest.approx(confidence, abs=1e-3)


@pytest.mark.parametrize(
    ("image", "expected_people"),
    [
        ("trta_people1_street.png", 4),  # upright pedestrians, 100-250 px tall: HOG's best case
        ("trta_people4_street.png", 3),
    ],
)
def test_hog_finds_upright_pedestrians_in_real_stills(
    data_dir: Path, image: str, expected_people: int
) -> None:
    # given
    frame = cv2.imread(str(data_dir / "people" / image))
    # when
    found = HogPersonDetector(min_confidence=0.5).detect(frame)
    # then: at least that many people, all PERSON boxes inside the full-size frame
    assert len(found) >= expected_people
    assert set(found.class_id.tolist()) == {PERSON}
    h, w = frame.shape[:2]
    assert (
        (found.xyxy >= 0).all() and (found.xyxy[:, [0, 2]] <= w).all() and (found.xyxy[:, [1, 3]] <= h).all()
    )
    assert ((found.confidence >= 0.5) & (found.confidence <= 1)).all()


@pytest.mark.parametrize("shape", [(360, 640, 3), (100, 50, 3), (1080, 1920, 3)])
def test_hog_finds_nobody_in_a_blank_frame(shape: tuple[int, int, int]) -> None:
    assert len(HogPersonDetector().detect(np.full(shape, 127, np.uint8))) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"min_confidence": 2}, "min_confidence"), ({"max_width": 10}, "max_width"), ({"scale": 1.0}, "scale")],
)
def test_hog_rejects_bad_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        HogPersonDetector(**kwargs)


# --- plate cascade ---------------------------------------------------------------------------


def test_plate_cascade_finds_the_labelled_plate(data_dir: Path) -> None:
    # given: eu1.jpg, plate M5XSX labelled at x=396, y=340, w=203, h=46
    frame = cv2.imread(str(data_dir / "plates" / "eu" / "eu1.jpg"))
    # when
    found = CascadePlateDetector().detect(frame)
    # then
    assert set(found.class_id.tolist()) == {PLATE}
    assert sv.box_iou_batch(np.array([[396, 340, 599, 386]], float), found.xyxy).max() > 0.3


def test_plate_cascade_names_a_missing_cascade_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.xml"):
        CascadePlateDetector(cascade_path=tmp_path / "nope.xml")


# --- composite -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("person_classes", "plate_classes", "expected"),
    [
        ([PERSON, PERSON], [PLATE], [PERSON, PERSON, PLATE]),
        ([PERSON, PLATE], [], [PERSON]),  # a plate from the person detector is not its job
        ([], [PERSON], [PLATE]),  # every box of the plate detector is a plate
        ([], [], []),
    ],
)
def test_composite_merges_people_and_plates(
    person_classes: list[int], plate_classes: list[int], expected: list[int]
) -> None:
    composite = CompositeDetector(
        FixedDetector("p", boxes(person_classes)), FixedDetector("l", boxes(plate_classes))
    )
    found = composite.detect(np.zeros((20, 20, 3), np.uint8))
    assert found.class_id.tolist() == expected
    assert found.data["class_name"].tolist() == [["person", "plate"][c] for c in expected]
    assert composite.name == "p+l"


def test_composite_keeps_extra_data_of_the_plate_locator() -> None:
    composite = CompositeDetector(
        FixedDetector("p", boxes([PERSON])), FixedDetector("l", boxes([PLATE], plate_text=["AB123"]))
    )
    found = composite.detect(np.zeros((20, 20, 3), np.uint8))
    assert found.data["plate_text"].tolist() == [None, "AB123"]


# --- factory ---------------------------------------------------------------------------------


def detector_for(**values: object):
    """The factory's detector for flat settings, as ``.env`` would give them."""
    settings = load_settings(**values)
    return make_detector(settings.detection, settings.tuning, settings.plates)


@pytest.mark.parametrize(
    ("values", "expected_type"),
    [
        ({"detector": "none"}, NullDetector),
        ({"detector": "local", "person_conf": 0.4}, CompositeDetector),
        ({"detector": "roboflow", "api_url": "http://127.0.0.1:9", "human_model": "a/1"}, "RoboflowDetector"),
    ],
)
def test_make_detector_builds_each_kind(values: dict, expected_type: type | str) -> None:
    detector = detector_for(**values)
    name = expected_type if isinstance(expected_type, str) else expected_type.__name__
    assert type(detector).__name__ == name


def test_make_detector_builds_onnx_from_a_file(tmp_path: Path) -> None:
    from test_detect_onnx import constant_yolo, v8_output

    model = constant_yolo(tmp_path / "m.onnx", v8_output([[32, 32, 8, 8, 0.9, 0.0]]))
    detector = detector_for(detector="onnx", onnx_model=str(model), onnx_classes="person,plate")
    assert detector.detect(np.zeros((64, 64, 3), np.uint8)).class_id.tolist() == [PERSON]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"detector": "yolo"}, "DETECTOR='yolo' is invalid"),
        ({"detector": "local", "person_cnf": 0.5}, "PERSON_CNF is not a known setting"),
        ({"detector": "onnx"}, "needs ONNX_MODEL"),
        ({"detector": "onnx", "onnx_model": "/nowhere/m.onnx"}, "does not exist"),
        ({"detector": "roboflow", "api_url": "http://127.0.0.1:9"}, "needs HUMAN_MODEL or PLATE_MODEL"),
    ],
)
def test_bad_detector_settings_are_one_sentence(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        detector_for(**values)


def test_plate_locator_falls_back_to_the_cascade_without_issc_plates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "issc.plates.locate", None)  # import now raises ImportError
    assert isinstance(make_plate_locator(), CascadePlateDetector)


def test_plate_locator_falls_back_when_the_ocr_package_is_missing() -> None:
    assert isinstance(make_plate_locator("no_such_ocr_package"), CascadePlateDetector)


def test_the_service_detector_resolves_auto_to_local() -> None:
    from issc.service import build_detector

    detector = build_detector(load_settings(detector="auto"))
    assert isinstance(detector, CompositeDetector)
