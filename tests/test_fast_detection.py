"""The live plate search's fast text detector (issue 19 item 6: the live path's budget).

PP-OCRv4 mobile's detector (from the ``rapidocr_onnxruntime`` wheel, its code never imported)
finds the text lines of live frames and photos (``PLATE_DETECT_MODEL=fast``); PP-OCRv6 small's
(``accurate``) is the other choice and the fallback when the fast model's package is missing. The figures (CPU per analysis, box recall, exact reads) are ``bench passes``'
and ``issc.eval plates --detect-model``'s: BENCHMARKS.md, "The fast text detector".
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rapidocr")

from issc.config import load_settings
from issc.detect import make_detector
from issc.detections import box_iou
from issc.errors import ConfigError
from issc.plates.locate import LocatorOptions
from issc.plates.ocr import rapid
from issc.plates.ocr.lines import TextLine
from issc.plates.regions import plate_rules
from issc.sources import video_frames

UK_CLIP = "aiguy_license_plate_uk_LS15EBC.mp4"


@pytest.fixture(scope="module")
def uk_frames(videos_dir: Path) -> list:
    """Every 12th frame of the UK clip: the car approaching, its plate growing from small to large."""
    return list(video_frames(videos_dir / UK_CLIP))[::12]


def test_the_fast_models_package_is_installed_and_never_imported() -> None:
    path = rapid.fast_det_model_path()
    assert path is not None and path.name == "ch_PP-OCRv4_det_infer.onnx" and path.stat().st_size > 1e6
    assert rapid.RapidOcrEngine().has_fast_detector
    assert rapid.FAST_DET_PACKAGE not in sys.modules  # only its model file is used


def test_live_frames_use_the_detector_the_setting_names_and_photos_the_fast_one() -> None:
    settings = load_settings(cameras="demo", detector="local")
    assert settings.plates.plate_detect_model == "accurate"  # 8 cameras on 2 cores read every pass
    live = make_detector(settings.detection, settings.tuning, settings.plates)
    assert not live.plate.locator.options.fast_detection  # type: ignore[attr-defined]
    fast = load_settings(cameras="demo", detector="local", plate_detect_model="Fast")
    quick = make_detector(fast.detection, fast.tuning, fast.plates)
    assert quick.plate.locator.options.fast_detection  # type: ignore[attr-defined]
    assert LocatorOptions().fast_detection  # photos (issc.eval): as many plates found, half the time


def test_a_wrong_detect_model_is_one_sentence() -> None:
    with pytest.raises(ConfigError, match=r"(?i)plate_detect_model.*'fast'.*'accurate'"):
        load_settings(cameras="demo", plate_detect_model="quick")


def test_both_detectors_find_the_plate_line_on_real_frames(uk_frames: list) -> None:
    engine = rapid.RapidOcrEngine()
    frame = uk_frames[len(uk_frames) // 2]
    accurate = [ln for ln in engine.read_lines(frame, engine.detect(frame)) if "EBC" in ln.text]
    assert len(accurate) == 1  # the plate's line, as PP-OCRv6 finds it
    fast = [TextLine(p, "", 0.0).xyxy for p in engine.detect(frame, fast=True)]
    overlaps = [box_iou(np.array(accurate[0].xyxy), np.array(box)) for box in fast]
    assert max(overlaps) >= 0.7, overlaps  # the fast detector finds the same line


def test_the_live_search_reads_the_uk_plate_with_the_fast_detector(uk_frames: list) -> None:
    settings = load_settings(cameras="demo", detector="local", plate_detect_model="fast")
    detector = make_detector(settings.detection, settings.tuning, settings.plates)
    rules = plate_rules(settings.plates)
    read = [list(detector.detect_plates(f).data.get("plate_text", [])) for f in uk_frames]  # type: ignore[attr-defined]
    frames_with_plate = sum("LS15EBC" in texts for texts in read)
    assert rules.plausible("LS15EBC")
    # the plate is readable in most of these frames (it enters small, it leaves the picture)
    assert frames_with_plate >= len(uk_frames) // 2, read
    assert all(t == "LS15EBC" for texts in read for t in texts[:1]), read  # nothing else ranked first


def test_without_the_fast_models_package_the_accurate_detector_searches(
    monkeypatch: pytest.MonkeyPatch, uk_frames: list, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(rapid, "fast_det_model_path", lambda: None)
    engine = rapid.RapidOcrEngine()
    frame = uk_frames[len(uk_frames) // 2]
    with caplog.at_level(logging.WARNING, logger=rapid.__name__):
        fast = engine.detect(frame, fast=True)
        engine.detect(frame, fast=True)
    assert not engine.has_fast_detector
    assert [p.tolist() for p in fast] == [p.tolist() for p in engine.detect(frame)]
    warnings = [r.getMessage() for r in caplog.records if "fast text detector" in r.getMessage()]
    assert len(warnings) == 1 and "make setup" in warnings[0]  # said once, with what to do


class _Recorded:
    """The real engine, recording each detection's input size and detector."""

    def __init__(self, engine: rapid.RapidOcrEngine) -> None:
        self.engine = engine
        self.name = engine.name
        self.calls: list[tuple[tuple[int, int], bool]] = []

    def detect(self, image, sensitive: bool = False, fast: bool = False):
        self.calls.append((image.shape[:2], fast))
        return self.engine.detect(image, sensitive=sensitive, fast=fast)

    def read_lines(self, image, polygons):
        return self.engine.read_lines(image, polygons)


def test_the_coarse_pass_is_fast_and_the_boxes_read_come_from_the_accurate_detector(uk_frames: list) -> None:
    from issc.plates.locate import LocatorOptions, PlateLocator

    engine = _Recorded(rapid.RapidOcrEngine())
    locator = PlateLocator(engine, options=LocatorOptions(short_side=288, upscale=False))  # as live
    frame = uk_frames[len(uk_frames) // 2]
    found = locator.locate(frame)
    assert "LS15EBC" in list(found.data["plate_text"])
    (coarse, fast), *windows = engine.calls
    assert coarse == (288, 512) and fast  # the whole frame, scaled down, by PP-OCRv4 mobile
    assert windows and not any(f for _, f in windows)  # each window around a candidate by PP-OCRv6
