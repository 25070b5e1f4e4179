"""The analyzer's scheduling of the person detector: every frame with people in view, else once a second."""

from __future__ import annotations

import numpy as np
import supervision as sv

from issc.analysis import PlateAnalyzer
from issc.detect import CompositeDetector
from issc.detections import PERSON, PLATE, empty_detections, make_detections
from issc.tuning import Tuning
from issc.types import Frame

T0 = 1_700_000_000.0


class CountingDetector:
    """Answers the scripted boxes of one class and counts its calls."""

    def __init__(self, class_id: int, boxes: list[tuple[float, float, float, float]]) -> None:
        self.name = f"counting-{class_id}"
        self.class_id = class_id
        self.boxes = boxes
        self.calls = 0

    def detect(self, image: np.ndarray) -> sv.Detections:
        self.calls += 1
        if not self.boxes:
            return empty_detections()
        n = len(self.boxes)
        return make_detections(np.array(self.boxes), np.full(n, 0.9), np.full(n, self.class_id))


def run(analyzer: PlateAnalyzer, seconds: float, rate: float, start: float = T0) -> list[int | None]:
    image = np.zeros((360, 640, 3), np.uint8)
    counts = []
    for i in range(round(seconds * rate)):
        t = start + i / rate
        counts.append(analyzer.analyze(Frame(image, i, "0", t, 0.0)).people)
    return counts


def test_people_are_looked_for_once_a_second_while_nobody_is_in_view() -> None:
    # Given a gate camera with no one in view, analysed 3 times a second
    people, plates = CountingDetector(PERSON, []), CountingDetector(PLATE, [])
    analyzer = PlateAnalyzer(CompositeDetector(people, plates), "gate", Tuning())
    counts = run(analyzer, seconds=3, rate=3)
    # Then plates are searched in every frame, people once a second, and only those frames count
    assert plates.calls == 9
    assert people.calls == 3
    assert counts == [0, None, None] * 3


def test_people_in_view_are_looked_for_in_every_frame() -> None:
    people = CountingDetector(PERSON, [(100, 100, 160, 300)])
    plates = CountingDetector(PLATE, [])
    analyzer = PlateAnalyzer(CompositeDetector(people, plates), "lobby", Tuning())
    counts = run(analyzer, seconds=2, rate=3)
    assert people.calls == plates.calls == 6
    assert counts == [1] * 6


def test_single_model_detectors_see_every_frame_whole() -> None:
    both = CountingDetector(PLATE, [])
    analyzer = PlateAnalyzer(both, "gate", Tuning())
    counts = run(analyzer, seconds=1, rate=4)
    assert both.calls == 4 and counts == [0] * 4
