"""OnnxDetector on tiny ONNX graphs built here, whose output is a known constant."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from issc.detect.onnx import OnnxDetector, canonical_class, decode_yolo, letterbox
from issc.detections import PERSON, PLATE
from issc.errors import ConfigError


def constant_yolo(path: Path, output: np.ndarray, size: int = 64, names: str | None = None) -> Path:
    """An ONNX model that returns ``output`` whatever 1x3x``size``x``size`` image it is given.

    The graph is ``output + 0 * mean(images)``, so the input is really read and checked.
    """
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["boxes", "nothing"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "constant_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))],
        initializer=[
            numpy_helper.from_array(output.astype(np.float32), "boxes"),
            numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if names is not None:
        helper.set_model_props(model, {"names": names})
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def v8_output(rows: list[list[float]]) -> np.ndarray:
    """(1, 4+nc, N) from rows of ``cx, cy, w, h, score per class``."""
    return np.array(rows, np.float32).T[np.newaxis]


def test_v8_output_is_decoded_letterboxed_back_and_mapped(tmp_path: Path) -> None:
    # given: a 64x64 model with classes (car, person, plate); a 128x64 (w x h) image is scaled by
    # 0.5 and padded 16 px top and bottom, so input (x, y) is image (2x, 2(y - 16))
    rows = [
        [16, 32, 8, 16, 0.0, 0.9, 0.0],  # person: input (12, 24)-(20, 40) -> image (24, 16)-(40, 48)
        [48, 24, 16, 4, 0.0, 0.0, 0.7],  # plate: input (40, 22)-(56, 26) -> image (80, 12)-(112, 20)
        [32, 32, 10, 10, 0.95, 0.0, 0.0],  # car: dropped
        [16, 32, 8, 16, 0.0, 0.4, 0.0],  # person below person_conf: dropped
    ]
    model = constant_yolo(tmp_path / "m.onnx", v8_output(rows))
    image = np.zeros((64, 128, 3), np.uint8)
    # when
    found = OnnxDetector(model, "car,person,plate", person_conf=0.5, plate_conf=0.3).detect(image)
    # then
    order = np.argsort(found.class_id)
    np.testing.assert_allclose(found.xyxy[order], [[24, 16, 40, 48], [80, 12, 112, 20]])
    assert found.class_id[order].tolist() == [PERSON, PLATE]
    np.testing.assert_allclose(found.confidence[order], [0.9, 0.7], rtol=1e-6)


def test_v5_output_multiplies_objectness(tmp_path: Path) -> None:
    # given: (1, N, 5+nc) rows cx, cy, w, h, objectness, person, plate on a square image
    out = np.array([[[32, 32, 20, 40, 0.8, 0.9, 0.1], [10, 10, 8, 4, 0.5, 0.0, 0.8]]], np.float32)
    model = constant_yolo(tmp_path / "m.onnx", out)
    found = OnnxDetector(model, ["person", "plate"], person_conf=0.5, plate_conf=0.3).detect(
        np.zeros((128, 128, 3), np.uint8)
    )
    order = np.argsort(found.class_id)
    np.testing.assert_allclose(found.xyxy[order], [[44, 24, 84, 104], [12, 16, 28, 24]])
    np.testing.assert_allclose(found.confidence[order], [0.72, 0.4], rtol=1e-6)


def test_overlapping_boxes_of_one_class_are_suppressed_but_not_across_classes(tmp_path: Path) -> None:
    rows = [
        [32, 32, 20, 20, 0.9, 0.0],
        [33, 32, 20, 20, 0.8, 0.0],  # IoU ~0.9 with the first person: suppressed
        [32, 32, 20, 20, 0.0, 0.6],  # same box, plate class: kept
        [10, 10, 4, 4, 0.7, 0.0],  # far away person: kept
    ]
    model = constant_yolo(tmp_path / "m.onnx", v8_output(rows))
    found = OnnxDetector(model, "person,plate", iou=0.5).detect(np.zeros((64, 64, 3), np.uint8))
    assert sorted(
        zip(found.class_id.tolist(), [round(float(c), 2) for c in found.confidence], strict=True)
    ) == [
        (PERSON, 0.7),
        (PERSON, 0.9),
        (PLATE, 0.6),
    ]


def test_class_names_come_from_ultralytics_metadata(tmp_path: Path) -> None:
    model = constant_yolo(
        tmp_path / "m.onnx",
        v8_output([[32, 32, 8, 8, 0.0, 0.9, 0.0]]),
        names="{0: 'car', 1: 'Person', 2: 'bus'}",
    )
    # the default "person,plate" does not fit 3 classes: the model's own names win
    detector = OnnxDetector(model, "person,plate")
    assert detector.class_names == ("car", "Person", "bus")
    assert detector.detect(np.zeros((64, 64, 3), np.uint8)).class_id.tolist() == [PERSON]


@pytest.mark.parametrize(
    ("content", "names", "message"),
    [
        (None, "person,plate", "does not exist"),
        (b"this is not onnx", "person,plate", "is not a valid ONNX model"),
        ("v8x3", "person,plate", "does not fit"),  # 3 classes in the model, 2 names
        ("v8x2", "car,bus", "no person or plate class"),
    ],
)
def test_bad_model_files_are_config_errors_naming_the_path(
    tmp_path: Path, content: bytes | str | None, names: str, message: str
) -> None:
    path = tmp_path / "model.onnx"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content == "v8x3":
        constant_yolo(path, v8_output([[1, 1, 1, 1, 0.5, 0.5, 0.5]]))
    elif content == "v8x2":
        constant_yolo(path, v8_output([[1, 1, 1, 1, 0.5, 0.5]]))
    with pytest.raises(ConfigError, match=message) as caught:
        OnnxDetector(path, names)
    assert "model.onnx" in str(caught.value)


@pytest.mark.parametrize(
    ("image_hw", "input_hw", "scale", "left", "top"),
    [
        ((64, 128), (64, 64), 0.5, 0, 16),
        ((128, 64), (64, 64), 0.5, 16, 0),
        ((360, 640), (640, 640), 1.0, 0, 140),
        ((100, 100), (64, 64), 0.64, 0, 0),
    ],
)
def test_letterbox_centres_the_resized_image(
    image_hw: tuple[int, int], input_hw: tuple[int, int], scale: float, left: int, top: int
) -> None:
    padded, transform = letterbox(np.zeros((*image_hw, 3), np.uint8), input_hw)
    assert padded.shape == (*input_hw, 3)
    assert (transform.scale, transform.left, transform.top) == pytest.approx((scale, left, top))


def test_decode_rejects_an_output_that_fits_no_layout() -> None:
    with pytest.raises(ValueError, match="fits neither"):
        decode_yolo(np.zeros((1, 9, 100), np.float32), num_classes=2)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("person", PERSON),
        ("Pedestrian", PERSON),
        ("License_Plate", PLATE),
        ("number-plate", PLATE),
        ("car", None),
    ],
)
def test_class_names_map_to_canonical_classes(name: str, expected: int | None) -> None:
    assert canonical_class(name) == expected
