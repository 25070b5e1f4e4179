"""Real plates (../shared/data, see ISSC_TEST_DATA): finding, reading, and a whole pass on video.

OCR models load once per session; the whole file takes well under a minute on two cores.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from issc.analysis import PlateAnalyzer
from issc.detect.local_plates import LocalPlateDetector
from issc.detections import PLATE, Detector, box_iou
from issc.plates.locate import PlateLocator
from issc.plates.ocr.reader import PlateReader, make_reader
from issc.plates.read import read_plates
from issc.sources import video_frames
from issc.tuning import Tuning
from issc.types import Frame

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def plates_dir(data_dir: Path) -> Path:
    path = data_dir / "plates"
    if not (path / "manifest.csv").is_file():
        pytest.skip(f"no plates/manifest.csv in {data_dir}")
    return path


@pytest.fixture(scope="session")
def manifest(plates_dir: Path) -> dict[str, dict[str, str]]:
    with (plates_dir / "manifest.csv").open(newline="") as fh:
        return {row["image"]: row for row in csv.DictReader(fh)}


@pytest.fixture(scope="session")
def reader() -> PlateReader:
    pytest.importorskip("rapidocr")
    return make_reader("rapidocr", "none", 0.1)


@pytest.fixture(scope="session")
def locator(reader: PlateReader) -> PlateLocator:
    return PlateLocator(reader.engine)


@pytest.mark.parametrize(
    "image",
    [
        "eu/eu1.jpg",  # M5XSX, dashed
        "eu/eu3.jpg",  # FWE50
        "eu/eu11.jpg",  # BS 47040, two groups
        "eu/eu10.jpg",  # WA56660: a clearly read 5 is not made an S to fit the BR layout
        "eu/test_062.jpg",  # 1B80338 (Czech): clearly read 1 and 8 are not made I and B
        "eu/test_089.jpg",  # RK565AV: the coat of arms between RK and 565AV is not a character
        "br/OUN4297.jpg",  # city strip above the registration
        "br/PJY5472.jpg",
        "br/NZF7823.jpg",
    ],
)
def test_whole_image_plate_is_found_and_read(
    image: str,
    manifest: dict[str, dict[str, str]],
    plates_dir: Path,
    locator: PlateLocator,
    reader: PlateReader,
) -> None:
    # given a photo with one labelled plate
    row = manifest[image]
    frame = cv2.imread(str(plates_dir / image))
    x, y, w, h = (int(row[k]) for k in "xywh")
    truth = (max(0, x), max(0, y), x + w, y + h)
    # when its plates are found and read
    plates = read_plates(frame, locator, reader)
    # then one of them overlaps the label and reads its text
    assert set(plates.class_id) == {PLATE}
    overlaps = [box_iou(box, truth) for box in plates.xyxy]
    assert max(overlaps) >= 0.5
    assert plates.data["plate_text"][int(np.argmax(overlaps))] == row["plate_text"]


@pytest.mark.parametrize(
    ("image", "text"),
    [
        ("ct83.png", "267WJE"),
        ("va1067.png", "JND8425"),  # many small stickers and numbers around
        ("az589.png", "W16627"),
        ("nj600.png", "ZUP36A"),
        ("vt201.png", "CKA375"),  # registration split in two by a graphic: joined
        ("ar800.png", "520MRK"),  # small crop (158 px wide), split in two
        ("ar834.png", "AAAC"),  # the state graphic before it, half read as an H: dropped
        ("or612.png", "UKS949"),  # the tree between the groups, half read as a 1: dropped
        ("md29.png", "4DLR50"),  # a small S of the state graphic between the groups: dropped
        ("nc224.png", "E074"),  # a sticker's small C after the registration: dropped
    ],
)
def test_us_crop_is_read(image: str, text: str, plates_dir: Path, reader: PlateReader) -> None:
    crop = cv2.imread(str(plates_dir / "crops" / image))
    read = reader.read(crop)
    assert read is not None and read.text == text


def test_ground_truth_eu_crop_is_read(
    manifest: dict[str, dict[str, str]], plates_dir: Path, reader: PlateReader
) -> None:
    row = manifest["eu/eu2.jpg"]
    frame = cv2.imread(str(plates_dir / row["image"]))
    x, y, w, h = (int(row[k]) for k in "xywh")
    read = reader.read(frame[y : y + h, x : x + w])
    assert read is not None and read.text == "GWAGEN"


def test_plate_clip_gives_exactly_one_event(data_dir: Path, reader: PlateReader) -> None:
    # given the UK clip: one car drives towards the camera (30 fps)
    path = data_dir / "videos" / "aiguy_license_plate_uk_LS15EBC.mp4"
    if not path.is_file():
        pytest.skip(f"{path.name} not in {data_dir}")
    detector: Detector = LocalPlateDetector("rapidocr")
    # analysed at 10 frames a second: twice the live path's default DETECT_FPS of 5
    analyzer = PlateAnalyzer(detector, camera="uk", tuning=Tuning(), frame_rate=10)
    events, frames, analysed, labelled = [], 0, 0, 0
    # when every third frame goes through the live analyzer
    for image in video_frames(path):
        if frames % 3 == 0:
            result = analyzer.analyze(Frame(image, frames, "0", 1000.0 + frames / 30, 0.0))
            events += result.events
            plates = result.detections[result.detections.class_id == PLATE]
            labelled += int(any(t == "LS15EBC" for t in plates.data["plate_text"]))
            analysed += 1
        frames += 1
    events += analyzer.flush()
    # then one pass, one event, read LS15EBC with at most 3 OCR calls (the locator's own reads
    # vote for free); labels show the text on most analysed frames
    assert (frames, analysed) == (140, 47)
    assert [e.text for e in events] == ["LS15EBC"]
    (event,) = events
    assert 0 <= event.ocr_calls <= 3
    assert event.reads >= 2 and event.confidence > 0.5
    assert event.first_seen.timestamp() == pytest.approx(1000.0)
    assert event.crop_jpeg and event.snapshot_jpeg
    assert labelled > 0.7 * analysed
