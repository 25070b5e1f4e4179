"""The learned plate verifier: badges, stickers, dates and dealer frames taken from the real test
pictures are refused, the plates beside them kept; the plate box spans the whole plate; a word is
not made a plate by a look-alike swap; the training command runs end to end on a tiny set."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from issc.detections import box_iou
from issc.plates.locate import LocatorOptions, PlateLocator, plate_likeness
from issc.plates.regions import region_preset
from issc.plates.verifier import DEFAULT_MODEL, PlateVerifier, chosen_plate_boxes, window, window_crop

#: Prefix of the reason of each case the committed model gets wrong today (strict: a model that
#: gets it right fails the mark, and the case moves back into the plain table).
MISS = "known miss of the committed model (issc/plates/models/verifier.md): "

#: Text lines that are no registration, found by the locator in ``../shared/data/plates`` and
#: looked at one by one: (picture, line box xyxy, text as read, read confidence, what it is).
NOT_PLATES = [
    ("eu/test_005.jpg", (367, 156, 417, 166), "DAEWOO", 0.99, "make badge"),
    ("eu/eu1.jpg", (316, 316, 363, 333), "[KELLENERES]", 0.78, "tuner badge"),
    ("eu/test_020.jpg", (316, 260, 380, 273), "SNUGA12010", 0.72, "model badge SKODA 120L (digits in it)"),
    ("eu/test_026.jpg", (66, 198, 143, 215), "CITROËN", 0.96, "make badge"),
    ("eu/test_026.jpg", (258, 196, 323, 216), "Berlingo", 1.0, "model badge"),
    ("eu/test_020.jpg", (148, 58, 319, 84), "PIONEER", 0.86, "windscreen sticker"),
    pytest.param(
        "eu/test_023.jpg",
        (239, 311, 277, 319),
        "0040351443",
        0.55,
        "dealer's phone number on the frame",
        marks=pytest.mark.xfail(strict=True, reason=MISS + "a long digit string on a plate frame"),
    ),
    ("eu/eu8.jpg", (384, 603, 562, 627), "CZECH REPUBLIC", 1.0, "caption on the plate frame"),
    pytest.param(
        "crops/ca519.png",
        (254, 12, 302, 35),
        "2004",
        1.0,
        "registration sticker: a year",
        marks=pytest.mark.xfail(strict=True, reason=MISS + "a year sticker on a plate"),
    ),
    pytest.param(
        "crops/al1156.png",
        (262, 116, 306, 142),
        "2002",
        0.99,
        "registration sticker: a year",
        marks=pytest.mark.xfail(strict=True, reason=MISS + "a year sticker on a plate"),
    ),
    ("crops/va398.png", (251, 156, 308, 184), "2007", 1.0, "anniversary date on the plate"),
    ("crops/va398.png", (104, 150, 228, 184), "JAMESTOWN", 1.0, "slogan"),
]
#: The registrations in some of the same pictures: (picture, line box, text, confidence).
PLATES = [
    ("eu/test_005.jpg", (225, 250, 355, 280), "TS260AK", 0.99),
    ("eu/test_020.jpg", (177, 219, 304, 248), "RK906AJ", 0.99),
    pytest.param(
        "eu/eu8.jpg",
        (317, 540, 620, 609),
        "WSQ 3021",
        0.99,
        marks=pytest.mark.xfail(
            strict=True, reason=MISS + "scored 0.23; the locator keeps it: it fits AAA 9999"
        ),
    ),
    pytest.param(
        "crops/wi291.png",
        (12, 20, 217, 100),
        "616-FAF",
        1.0,
        marks=pytest.mark.xfail(
            strict=True, reason=MISS + "scored 0.28; the locator keeps it: it fits 999AAA"
        ),
    ),
    ("crops/ar726.png", (5, 32, 240, 116), "324 AZY", 0.99),
]

needs_model = pytest.mark.skipif(not DEFAULT_MODEL.exists(), reason="no committed verifier model")


@pytest.fixture(scope="module")
def verifier() -> PlateVerifier:
    return PlateVerifier()


@needs_model
@pytest.mark.parametrize(("image", "box", "text", "conf", "what"), NOT_PLATES)
def test_the_verifier_refuses_text_that_is_no_plate(
    image: str, box: tuple, text: str, conf: float, what: str, data_dir: Path, verifier: PlateVerifier
) -> None:
    picture = cv2.imread(str(data_dir / "plates" / image))
    assert picture is not None, image
    verdict = verifier.verify(picture, np.array([box]), [text], [conf])
    assert verdict.plate[0] < verifier.threshold, f"{what} {text!r} scored {verdict.plate[0]:.2f}"


@needs_model
@pytest.mark.parametrize(("image", "box", "text", "conf"), PLATES)
def test_the_verifier_keeps_the_registration_beside_them(
    image: str, box: tuple, text: str, conf: float, data_dir: Path, verifier: PlateVerifier
) -> None:
    picture = cv2.imread(str(data_dir / "plates" / image))
    verdict = verifier.verify(picture, np.array([box]), [text], [conf])
    assert verdict.plate[0] >= verifier.threshold, f"{text!r} scored {verdict.plate[0]:.2f}"


def test_a_window_reaches_past_the_picture_without_failing() -> None:
    grey = np.arange(100 * 200, dtype=np.uint32).reshape(100, 200).astype(np.uint8)
    win = window((-10, 90, 60, 110))
    crop = window_crop(grey, win)
    assert crop.shape == (32, 96) and crop.dtype == np.uint8
    assert win[1] < 90 - 20 and win[3] > 110 + 20  # the context above and below


def test_an_o_to_zero_swap_no_longer_makes_a_word_a_plate() -> None:
    us = region_preset("us").rules()
    # as read, TOYOTA has no digit: it stays a word (before: T0Y0TA, which has digits)
    assert us.apply("TOYOTA") == "TOYOTA"
    assert us.apply("INOTICEL") == "INOTICEL"
    assert plate_likeness("TOYOTA", us) == plate_likeness("TOYOTA") < 0.5
    # a read with a digit still gets the US O->0 rule
    assert us.apply("7ABC 1O3") == "7ABC103"
    assert us.apply("OHIO 123") == "0HI0123"


@needs_model
def test_the_locator_box_is_the_whole_plate(data_dir: Path) -> None:
    """A 2:1 US plate (state above, slogan below the registration) placed in a street picture: the
    box reported covers the plate, not just its registration line."""
    from issc.plates.ocr import get_engine

    crop = cv2.imread(str(data_dir / "plates" / "crops" / "ar726.png"))
    scene = np.full((720, 1280, 3), 90, np.uint8)
    scene[400 : 400 + crop.shape[0], 600 : 600 + crop.shape[1]] = crop
    truth = (600, 400, 600 + crop.shape[1], 400 + crop.shape[0])
    locator = PlateLocator(get_engine("rapidocr"), region_preset("us").rules())
    found = locator.locate(scene)
    assert len(found) >= 1 and str(found.data["plate_text"][0]) == "324AZY"
    line = found.data["line_xyxy"][0]
    assert box_iou(found.xyxy[0], truth) >= 0.6
    assert box_iou(found.xyxy[0], truth) > box_iou(line, truth)


def _tiny_set(root: Path) -> tuple[Path, Path, Path]:
    """Three pictures in YOLO layout (a white plate and a shop sign each), a clip-free negatives
    folder, and a review export of two crops."""
    yolo, negatives, review = root / "yolo", root / "neg", root / "review"
    for d in (yolo / "images", yolo / "labels", negatives, review):
        d.mkdir(parents=True)
    font = cv2.FONT_HERSHEY_DUPLEX
    for i, (plate, sign) in enumerate(
        (("AB 123 CD", "PHARMACY"), ("XY 987 ZT", "TOYOTA"), ("KL 456 MN", "OPEN"))
    ):
        img = np.full((360, 640, 3), (110 + 10 * i, 120, 115), np.uint8)
        cv2.rectangle(img, (200, 240), (440, 290), (245, 245, 245), -1)
        cv2.putText(img, plate, (212, 278), font, 1.1, (20, 20, 20), 2, cv2.LINE_AA)
        cv2.rectangle(img, (60, 40), (330, 100), (40, 40, 140), -1)
        cv2.putText(img, sign, (72, 85), font, 1.3, (240, 240, 240), 2, cv2.LINE_AA)
        cv2.imwrite(str(yolo / "images" / f"{i}.jpg"), img)
        (yolo / "labels" / f"{i}.txt").write_text(f"0 {320 / 640} {265 / 360} {240 / 640} {50 / 360}\n")
        if i < 2:
            cv2.imwrite(str(negatives / f"{i}.jpg"), img[:150])
            cv2.imwrite(str(review / f"{i + 1}.jpg"), img[225:305, 180:460])
    with (review / "labels.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "state", "plate_text"])
        writer.writerows([["1.jpg", "gate", "AB123CD"], ["2.jpg", "gate", "XY987ZT"]])
    return yolo, negatives, review


def test_training_runs_end_to_end_on_a_tiny_set(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from issc.train.__main__ import main

    yolo, negatives, review = _tiny_set(tmp_path)
    out = tmp_path / "model" / "verifier.onnx"
    argv = [
        "verifier",
        "--source",
        f"yolo:{yolo}=tiny",
        "--source",
        f"negatives:{negatives}=signs",
        "--source",
        f"review:{review}",
        "--cache",
        str(tmp_path / "cache"),
        "--out",
        str(out),
        "--epochs",
        "2",
        "--copies",
        "2",
        "--val-share",
        "0.0",
    ]
    assert main(argv) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["train_plates"] >= 2 * 4  # three pictures' plates and two review crops, two copies each
    assert report["train_windows"] > report["train_plates"]  # the signs are there as negatives
    verdict = PlateVerifier(out).verify(
        cv2.imread(str(yolo / "images" / "0.jpg")), np.array([[205, 250, 435, 285]]), ["AB 123 CD"], [0.95]
    )
    assert verdict.plate.shape == (1,) and verdict.boxes.shape == (1, 4)
    # a second run reads no picture again: everything is in the cache
    cached = (tmp_path / "cache").glob("*.jsonl")
    assert sum(len(p.read_text().splitlines()) for p in cached) == 3 + 2 + 2


def test_training_help_names_the_sources(capsys: pytest.CaptureFixture[str]) -> None:
    from issc.train.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["verifier", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--source" in out and "review" in out


def test_locator_without_verifier_grows_the_line(data_dir: Path) -> None:
    """``verify=False`` keeps the old behaviour: the box is the text line grown by grow_x/grow_y."""
    from issc.plates.ocr import get_engine

    crop = cv2.imread(str(data_dir / "plates" / "crops" / "wi291.png"))
    locator = PlateLocator(get_engine("rapidocr"), options=LocatorOptions(verify=False, grow_x=0.0))
    found = locator.locate(crop)
    assert len(found) >= 1
    assert np.allclose(found.xyxy[0], found.data["line_xyxy"][0], atol=1.0)
    assert float(found.data["plate_prob"][0]) == 1.0


def test_the_regressed_box_is_taken_unless_it_shrank_inside_its_line() -> None:
    line = np.array([[100.0, 100.0, 200.0, 130.0]])
    grown = line + np.array([[-2.0, 0.0, 2.0, 0.0]])
    us_plate = np.array([[90.0, 80.0, 210.0, 150.0]])  # 2.8 x the line's area: the whole plate
    snug = np.array([[97.0, 98.0, 203.0, 133.0]])  # 1.24 x: a plate that is little more than its line
    shrunk = np.array([[110.0, 104.0, 190.0, 128.0]])  # 0.64 x: inside the text line, not a plate
    assert np.allclose(chosen_plate_boxes(line, us_plate, grown), us_plate)
    assert np.allclose(chosen_plate_boxes(line, snug, grown), snug)
    assert np.allclose(chosen_plate_boxes(line, shrunk, grown), grown)
    both = chosen_plate_boxes(
        np.vstack([line, line]), np.vstack([us_plate, shrunk]), np.vstack([grown, grown])
    )
    assert np.allclose(both, np.vstack([us_plate, grown]))
    assert chosen_plate_boxes(np.zeros((0, 4)), np.zeros((0, 4)), np.zeros((0, 4))).shape == (0, 4)


def _drawn_plate(size: tuple[int, int], text: str, scale: float, extra: tuple[str, str] = ("", "")):
    """A street-grey picture with one white plate of ``size`` (w, h) at (500, 300) whose registration
    ``text`` is drawn in its middle (``extra``: small lines above and below, as a US state and
    slogan); returns the picture, the plate box and the registration's line box."""
    img = np.full((720, 1280, 3), 95, np.uint8)
    pw, ph = size
    x0, y0 = 500, 300
    cv2.rectangle(img, (x0, y0), (x0 + pw, y0 + ph), (238, 238, 238), -1)
    cv2.rectangle(img, (x0, y0), (x0 + pw, y0 + ph), (30, 30, 30), 2)
    font = cv2.FONT_HERSHEY_DUPLEX
    (tw, th), base = cv2.getTextSize(text, font, scale, 3)
    tx, ty = x0 + (pw - tw) // 2, y0 + (ph + th) // 2
    cv2.putText(img, text, (tx, ty), font, scale, (25, 25, 25), 3, cv2.LINE_AA)
    for word, y in zip(extra, (y0 + ph // 6, y0 + ph - ph // 12), strict=True):
        if word:
            (ew, _eh), _ = cv2.getTextSize(word, font, scale / 3, 1)
            cv2.putText(img, word, (x0 + (pw - ew) // 2, y), font, scale / 3, (40, 40, 150), 1, cv2.LINE_AA)
    line = (tx - 3, ty - th - 3, tx + tw + 3, ty + base)
    return img, (x0, y0, x0 + pw, y0 + ph), line


@needs_model
def test_a_line_on_a_two_to_one_plate_gets_the_whole_plate(verifier: PlateVerifier) -> None:
    img, plate, line = _drawn_plate((240, 120), "7ABC123", 1.1, ("CALIFORNIA", "dmv.ca.gov"))
    lines = np.array([line], dtype=np.float64)
    verdict = verifier.verify(img, lines, ["7ABC123"], [0.9])
    grown = lines + np.array([[-2.0, 0.0, 2.0, 0.0]])
    box = chosen_plate_boxes(lines, verdict.boxes, grown)[0]
    assert box_iou(line, plate) < 0.5  # the line alone would miss the plate
    assert box_iou(box, plate) >= 0.5, (box, plate)


def _synthetic_plates(kind: str, n: int = 40, height: int = 50):
    """Synthetic plates (``issc.train.synth.render_plate``, seeds 0..n-1) of one ``kind`` pasted
    into a grey 720p scene, ``height`` px tall: ``"us"`` the 2:1 single-row ones as drawn (state,
    slogan and stickers around a registration that fills about half the plate's height), ``"tight"``
    the wide single-row ones cut to their registration row plus 12 % of its height above and below
    (a line that fills its plate). Yields the scene, the plate box, the registration's line box
    (with a detector-like margin of a tenth of its height) and its text."""
    from issc.train.synth import render_plate

    for seed in range(n):
        panel, drawn = render_plate(np.random.default_rng(seed))
        rows = [d for d in drawn if d[2] == 1]
        aspect = panel.shape[1] / panel.shape[0]
        if len(rows) != 1 or (kind == "us") != (abs(aspect - 2.0) < 0.01) or (kind == "tight" and aspect < 3):
            continue
        (bx0, by0, bx1, by1), text = rows[0][0], rows[0][1]
        top = 0
        if kind == "tight":
            margin = 0.12 * (by1 - by0)
            top, bottom = int(max(0, by0 - margin)), int(min(panel.shape[0], by1 + margin))
            panel = panel[top:bottom]
        s = height / panel.shape[0]
        panel = cv2.resize(panel, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        scene = np.full((720, 1280, 3), 95, np.uint8)
        scene[300 : 300 + panel.shape[0], 500 : 500 + panel.shape[1]] = panel
        plate = (500, 300, 500 + panel.shape[1], 300 + panel.shape[0])
        line = np.array([500 + bx0 * s, 300 + (by0 - top) * s, 500 + bx1 * s, 300 + (by1 - top) * s])
        pad = 0.1 * (line[3] - line[1])
        yield scene, plate, line + np.array([-pad, -pad, pad, pad]), text


def _grown(lines: np.ndarray) -> np.ndarray:
    opts = LocatorOptions()
    size = lines[:, 2:] - lines[:, :2]
    return lines + np.concatenate([size * [opts.grow_x, opts.grow_y]] * 2, axis=1) * [-1, -1, 1, 1]


@needs_model
def test_lines_on_synthetic_two_to_one_plates_get_the_whole_plate(verifier: PlateVerifier) -> None:
    line_hits, chosen_hits, n = 0, 0, 0
    for scene, plate, line, text in _synthetic_plates("us"):
        lines = line[None]
        box = chosen_plate_boxes(lines, verifier.verify(scene, lines, [text], [0.9]).boxes, _grown(lines))[0]
        n += 1
        line_hits += box_iou(_grown(lines)[0], plate) >= 0.5
        chosen_hits += box_iou(box, plate) >= 0.5
    assert n >= 10
    assert line_hits <= 0.2 * n  # the text line alone is not the plate
    assert chosen_hits >= 0.9 * n, f"{chosen_hits} of {n} whole plates"


@needs_model
def test_lines_that_fill_their_plate_keep_a_tight_box(verifier: PlateVerifier) -> None:
    n = 0
    for scene, plate, line, text in _synthetic_plates("tight"):
        lines = line[None]
        box = chosen_plate_boxes(lines, verifier.verify(scene, lines, [text], [0.9]).boxes, _grown(lines))[0]
        n += 1
        assert box_iou(box, plate) >= 0.5, (text, box, plate)
    assert n >= 10
