"""Plate appearance: a date stamp, a state name or a slogan loses to the plate it sits near."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from issc.plates.appearance import (
    AppearanceOptions,
    ink_contrast,
    is_date_or_time,
    is_lesser_print,
    near_edge,
    plate_appearance,
)
from issc.plates.locate import LocatorOptions, PlateLocator, plate_likeness
from issc.plates.regions import region_preset

LIVE_PLATE_CONF = 0.3  # PLATE_CONF's default: detections below it are never tracked or read


def photo_with_plate(registration: str, stamp: str = "2014/05/12") -> np.ndarray:
    """A 720p picture: a car's back with a white 2:1 plate (state above, slogan below the
    registration) and an orange date stamp burnt into the bottom-right corner."""
    img = np.full((720, 1280, 3), (120, 130, 125), np.uint8)
    img[:360] = (200, 180, 150)
    cv2.rectangle(img, (380, 250), (900, 600), (40, 40, 45), -1)
    x0, y0, x1, y1 = 520, 420, 760, 540
    cv2.rectangle(img, (x0, y0), (x1, y1), (245, 245, 245), -1)
    cv2.rectangle(img, (x0, y0), (x1, y1), (20, 20, 20), 3)
    font = cv2.FONT_HERSHEY_DUPLEX

    def centred(text: str, scale: float, thickness: int, cy: int, colour: tuple[int, int, int]) -> None:
        (tw, th), _ = cv2.getTextSize(text, font, scale, thickness)
        cv2.putText(
            img, text, ((x0 + x1 - tw) // 2, cy + th // 2), font, scale, colour, thickness, cv2.LINE_AA
        )

    centred("OHIO", 0.7, 1, y0 + 18, (40, 40, 160))
    centred(registration, 1.5, 3, (y0 + y1) // 2, (30, 30, 30))
    centred("GO BUCKS", 0.6, 1, y1 - 16, (40, 40, 160))
    (tw, _), _ = cv2.getTextSize(stamp, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 2)
    cv2.putText(
        img, stamp, (1280 - tw - 20, 700), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 165, 255), 2, cv2.LINE_AA
    )
    return img


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2014/05/12", True),
        ("12.05.2014 10:23", True),
        ("05/12/2014", True),
        ("20140512", True),  # eight digits that are a date
        ("09 08 07", True),
        ("12:34", True),
        ("548 873", False),  # an all-digit registration: 548 is no day, month or year
        ("20149912", False),  # month 99
        ("123456", False),  # six digits could be a plate: not taken for a date
        ("1T4:3213", False),  # a separator read as a colon inside a registration
        ("ABC 1234", False),
        ("", False),
    ],
)
def test_dates_and_times_are_told_from_registrations(text: str, expected: bool) -> None:
    assert is_date_or_time(text) is expected


def test_a_line_next_to_taller_print_is_a_lesser_print() -> None:
    registration = np.array([100, 100, 300, 160], float)  # 60 px high
    state = np.array([150, 80, 250, 96], float)  # 16 px high, just above, overlapping sideways
    far_away = np.array([800, 80, 900, 96], float)
    others = np.stack([registration, state, far_away])
    assert is_lesser_print(state, others)
    assert not is_lesser_print(registration, others)
    assert not is_lesser_print(far_away, others)
    # a line of about the same height next to it (a two-row plate) is no lesser print
    assert not is_lesser_print(np.array([100, 165, 300, 215], float), others)


def test_contrast_is_high_for_dark_ink_on_a_light_panel_and_low_on_a_flat_box() -> None:
    img = np.full((100, 300, 3), 240, np.uint8)
    cv2.putText(img, "AB123", (20, 70), cv2.FONT_HERSHEY_DUPLEX, 2.0, (20, 20, 20), 4)
    assert ink_contrast(img, np.array([0, 0, 300, 100])) > 0.6
    assert ink_contrast(np.full((100, 300, 3), 128, np.uint8), np.array([0, 0, 300, 100])) == 0.0
    assert ink_contrast(img, np.array([0, 0, 2, 2])) == 0.0  # too small to tell


def test_near_edge_uses_the_short_side() -> None:
    assert near_edge(np.array([1000, 680, 1270, 715]), (720, 1280), 0.05)
    assert not near_edge(np.array([500, 400, 700, 500]), (720, 1280), 0.05)


def test_appearance_factors_keep_the_plate_and_lower_the_stamp_and_slogan() -> None:
    img = photo_with_plate("BUCKEYE")
    boxes = np.array(
        [
            [525, 455, 755, 505],  # the registration
            [1050, 670, 1265, 712],  # the stamp: bottom-right corner, a date
            [585, 512, 690, 536],  # the slogan under the registration
        ],
        float,
    )
    factors = plate_appearance(img, boxes, ["BUCKEYE", "2014/05/12", "GO BUCKS"])
    assert factors[0] == pytest.approx(1.0)
    assert factors[1] < 0.35 and factors[2] <= 0.4
    with pytest.raises(ValueError, match="one text per box"):
        plate_appearance(img, boxes, ["BUCKEYE"])


def test_weights_are_options() -> None:
    img = photo_with_plate("BUCKEYE")
    stamp = np.array([[1050, 670, 1265, 712]], float)
    neutral = AppearanceOptions(edge_factor=1.0, date_factor=1.0, contrast_floor=1.0)
    assert plate_appearance(img, stamp, ["2014/05/12"], options=neutral)[0] == pytest.approx(1.0)


def test_words_with_an_o_are_no_registrations_where_o_is_read_as_zero() -> None:
    us = region_preset("us").rules()
    assert plate_likeness("NORTH", us) == plate_likeness("NORTH") == 0.45  # not "N0RTH", a mix
    assert plate_likeness("ABC 123", us) == 1.0  # a US layout
    assert plate_likeness("AB 12 C", us) == 0.85


@pytest.fixture(scope="module")
def engine():
    pytest.importorskip("rapidocr")
    from issc.plates.ocr import get_engine

    return get_engine("rapidocr")


@pytest.mark.slow
def test_a_date_stamp_and_a_slogan_lose_to_the_plate(engine) -> None:
    # By text alone the stamp (8 digits) and the vanity plate (7 letters) are equally plate-like.
    # (The learned verifier drops the stamp outright; this is the appearance evidence without it.)
    unverified = LocatorOptions(verify=False)
    dets = PlateLocator(engine, region_preset("us").rules(), unverified).locate(photo_with_plate("BUCKEYE"))
    texts = list(dets.data["plate_text"])
    assert texts[0] == "BUCKEYE" and dets.confidence[0] >= LIVE_PLATE_CONF
    assert "20140512" in texts
    others = dets.confidence[1:]
    assert (others < LIVE_PLATE_CONF).all()  # never tracked as plates on a live camera
    assert (dets.data["text_conf"] >= dets.confidence).all()  # the read's own confidence is kept


@pytest.mark.slow
def test_a_stamp_on_a_real_photo_loses_to_its_plate(engine, data_dir: Path) -> None:
    image = cv2.imread(str(data_dir / "plates" / "eu" / "eu1.jpg"))
    if image is None:
        pytest.skip("no plates/eu/eu1.jpg")
    h, w = image.shape[:2]
    cv2.putText(image, "20140512", (w - 230, h - 20), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 165, 255), 2)
    dets = PlateLocator(engine, options=LocatorOptions(verify=False)).locate(image)
    texts = list(dets.data["plate_text"])
    assert texts[0] == "M5XSX"
    assert "20140512" in texts and dets.confidence[texts.index("20140512")] < LIVE_PLATE_CONF
