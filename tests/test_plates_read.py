"""Still images: find and read every plate; a picture without any plate gives an empty result."""

from __future__ import annotations

import numpy as np
import pytest

from issc.plates.read import OTHER_LINE_FACTOR, _unless_other_line
from issc.types import PlateRead


@pytest.mark.parametrize(
    ("read", "line", "factor"),
    [
        ("ABC1234", "ABC1234", 1.0),
        ("ABC1284", "ABC1234", 1.0),  # the same line, read a little differently
        ("VIRGINIA", "ANTIGOV", OTHER_LINE_FACTOR),  # the state name above the registration
        ("VIRGINIA", "", 1.0),  # the line read nothing: nothing to compare with
    ],
)
def test_reads_of_another_line_in_the_crop_count_less(read: str, line: str, factor: float) -> None:
    assert _unless_other_line(PlateRead(read, 0.8), line).confidence == pytest.approx(0.8 * factor)


def test_a_picture_without_plates_gives_an_empty_result_with_every_key() -> None:
    pytest.importorskip("rapidocr")
    from issc.plates.locate import PlateLocator
    from issc.plates.ocr.reader import make_reader
    from issc.plates.read import read_plates

    reader = make_reader()
    plates = read_plates(np.full((240, 320, 3), 127, np.uint8), PlateLocator(reader.engine), reader)
    assert len(plates) == 0
    assert {"plate_text", "text_conf", "ocr_conf", "read_candidates"} <= set(plates.data)
    assert all(len(v) == 0 for v in plates.data.values())
