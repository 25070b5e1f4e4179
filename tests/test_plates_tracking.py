"""Plate tracking at low analysis rates: ids at first sight, prediction, text matching, ending."""

from __future__ import annotations

import numpy as np
import supervision as sv

from issc.detections import PLATE, make_detections
from issc.plates.tracking import PlateTracker, TrackerOptions

T0 = 1_700_000_000.0


def plates(boxes: list[tuple[float, float, float, float]], texts: list[str] | None = None) -> sv.Detections:
    dets = make_detections(
        np.array(boxes, dtype=float).reshape(-1, 4), np.full(len(boxes), 0.9), [PLATE] * len(boxes)
    )
    if texts is not None:
        dets.data["plate_text"] = np.array(texts, dtype=object)
    return dets


def test_a_plate_gets_an_id_at_first_sight() -> None:
    tracker = PlateTracker()
    out = tracker.update(plates([(100, 100, 200, 130)]), T0)
    assert out.tracker_id.tolist() == [1]
    assert tracker.active_ids == {1}


def test_a_fast_approaching_plate_keeps_its_id_through_its_predicted_motion() -> None:
    # Given a plate moving 60 px right and growing between analyses 0.7 s apart (boxes that no
    # longer overlap the previous one enough for an IoU tracker)
    tracker = PlateTracker()
    boxes = [(100 + 60 * i, 100 + 10 * i, 200 + 70 * i, 130 + 14 * i) for i in range(5)]
    ids = [int(tracker.update(plates([box]), T0 + 0.7 * i).tracker_id[0]) for i, box in enumerate(boxes)]
    # Then it is one track all along
    assert ids == [1] * 5


def test_a_plate_that_jumped_is_matched_by_its_text() -> None:
    tracker = PlateTracker()
    tracker.update(plates([(100, 100, 200, 130)], ["LS15EBC"]), T0)
    out = tracker.update(plates([(330, 160, 440, 195)], ["LS15E8C"]), T0 + 1.0)
    assert out.tracker_id.tolist() == [1]
    # ... but a different text far away is another plate
    out = tracker.update(plates([(900, 500, 1000, 530)], ["AB12CDE"]), T0 + 1.5)
    assert out.tracker_id.tolist() == [2]


def test_two_plates_in_one_frame_are_two_tracks() -> None:
    tracker = PlateTracker()
    first = tracker.update(plates([(50, 50, 150, 80), (400, 50, 500, 80)], ["OUN4297", "PJY5472"]), T0)
    second = tracker.update(plates([(405, 52, 505, 82), (52, 51, 152, 81)], ["PJY5472", "OUN4297"]), T0 + 0.5)
    assert first.tracker_id.tolist() == [1, 2]
    assert second.tracker_id.tolist() == [2, 1]


def test_tracks_end_after_both_the_lost_time_and_the_lost_analyses() -> None:
    tracker = PlateTracker(TrackerOptions(lost_s=2.0, lost_analyses=3))
    tracker.update(plates([(100, 100, 200, 130)]), T0)
    # at a slow rate, one missed analysis 2.5 s later is not enough to end the track ...
    tracker.update(plates([]), T0 + 2.5)
    assert tracker.active_ids == {1}
    tracker.update(plates([]), T0 + 3.0)
    assert tracker.active_ids == {1}
    # ... three missed analyses and over 2 s are
    tracker.update(plates([]), T0 + 3.5)
    assert tracker.active_ids == set()
    # and at a fast rate, three missed analyses within 2 s are not
    tracker.update(plates([(100, 100, 200, 130)]), T0 + 10)
    for i in range(1, 6):
        tracker.update(plates([]), T0 + 10 + i * 0.2)
    assert tracker.active_ids == {2}
