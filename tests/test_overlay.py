"""Boxes between analyses: they follow a moving track, fresh detections show at once, stale boxes fade."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import supervision as sv
from scenes import MovingPatch

from issc.annotate import FrameAnnotator
from issc.detections import OPACITY_KEY, PERSON, PLATE, make_detections
from issc.flow import BoxFlow
from issc.overlay import BoxOverlay, OverlayOptions

AMBER_BGR = (0, 176, 255)  # #ffb000
GREEN_BGR = (113, 204, 46)  # #2ecc71


def dets(boxes: list[list[float]], tracker_ids: list[int], class_id: int = PLATE) -> sv.Detections:
    """Detections as an analysis delivers them: canonical classes, tracker ids, plate text."""
    found = make_detections(
        np.array(boxes, float).reshape(-1, 4), np.full(len(boxes), 0.9), [class_id] * len(boxes)
    )
    found.tracker_id = np.array(tracker_ids, dtype=int)
    found.data["plate_text"] = np.array(["LS15EBC"] * len(boxes), dtype=object)
    return found


def box_at_x(x: float, y: float = 100.0, w: float = 80.0, h: float = 20.0) -> list[float]:
    return [x, y, x + w, y + h]


def one_box(overlay: BoxOverlay, t: float) -> tuple[np.ndarray, float]:
    boxes = overlay.boxes_at(t)
    assert len(boxes) == 1, f"expected one box at t={t}, got {len(boxes)}"
    return boxes.xyxy[0], float(boxes.data[OPACITY_KEY][0])


def test_a_tracked_box_moves_on_between_analyses() -> None:
    # Given a plate moving right at 100 px/s, analysed at t=10 and t=11 (one analysis a second)
    overlay = BoxOverlay()
    overlay.update(dets([box_at_x(100)], [7]), captured_mono=10.0)
    overlay.update(dets([box_at_x(200)], [7]), captured_mono=11.0)
    # When frames captured after the second analysed one are published
    for t, expected_x in [(11.0, 200), (11.3, 230), (11.5, 250), (11.9, 290)]:
        xyxy, opacity = one_box(overlay, t)
        # Then the box is where the plate is now, not where it was analysed, and fully drawn
        assert xyxy[0] == pytest.approx(expected_x, abs=0.5)
        assert xyxy[2] - xyxy[0] == pytest.approx(80, abs=0.5)
        assert opacity == 1.0


def test_a_jump_in_the_picture_clears_the_boxes_and_late_results_from_before_it() -> None:
    # Given a box on a looping clip's last frames
    overlay = BoxOverlay()
    overlay.update(dets([box_at_x(500)], [7]), captured_mono=10.0)
    # When the clip starts again at t=10.2 (the car jumps back to where it came from)
    overlay.clear(10.2)
    # Then no box is drawn, not even from an analysis of a frame before the jump that ends later
    overlay.update(dets([box_at_x(520)], [7]), captured_mono=10.1)
    assert len(overlay.boxes_at(10.3)) == 0
    # while the first analysis after the jump is drawn as usual
    overlay.update(dets([box_at_x(100)], [8]), captured_mono=10.4)
    assert one_box(overlay, 10.5)[0][0] == pytest.approx(100, abs=0.5)


def test_frames_between_two_analysed_ones_are_interpolated() -> None:
    overlay = BoxOverlay()
    overlay.update(dets([box_at_x(100)], [7]), captured_mono=10.0)
    overlay.update(dets([box_at_x(200)], [7]), captured_mono=11.0)
    xyxy, _ = one_box(overlay, 10.25)
    assert xyxy[0] == pytest.approx(125, abs=0.5)


def test_extrapolation_stops_after_max_extrapolate_s_and_size_change_is_clamped() -> None:
    options = OverlayOptions(max_extrapolate_s=1.0, max_scale=1.6, max_hold_s=3.0)
    overlay = BoxOverlay(options)
    # A box doubling its size every half second (a car rushing at the camera, or a bad detection)
    overlay.update(dets([[100, 100, 140, 110]], [1]), captured_mono=0.0)
    overlay.update(dets([[100, 100, 180, 120]], [1]), captured_mono=0.5)
    xyxy, _ = one_box(overlay, 0.5 + 0.9)
    assert xyxy[2] - xyxy[0] == pytest.approx(80 * 1.6, rel=1e-3)  # 2**(0.9/0.5) = 3.5x, clamped
    far, _ = one_box(overlay, 0.5 + 1.4)
    near, _ = one_box(overlay, 0.5 + 1.0)
    np.testing.assert_allclose(far, near, atol=1e-3)  # no further motion after 1 s


@pytest.mark.parametrize(
    ("age_s", "opacity"),
    [
        (0.0, 1.0),
        (1.4, 1.0),  # up to 1.5 analysis intervals: fully drawn
        (2.0, 0.5),  # halfway between 1.5 and 2.5 s (3 intervals, capped by max_hold_s)
        (2.4, 0.1),
        (2.6, None),  # gone
    ],
)
def test_a_box_no_longer_reported_fades_then_goes(age_s: float, opacity: float | None) -> None:
    # Given analyses once a second, and a track that stops being reported after t=2
    overlay = BoxOverlay(OverlayOptions(max_hold_s=2.5))
    overlay.update(dets([box_at_x(100)], [3]), captured_mono=0.0)
    overlay.update(dets([box_at_x(100)], [3]), captured_mono=1.0)
    overlay.update(dets([box_at_x(100)], [3]), captured_mono=2.0)
    overlay.update(dets([], []), captured_mono=3.0)
    boxes = overlay.boxes_at(2.0 + age_s)
    if opacity is None:
        assert len(boxes) == 0
    else:
        assert float(boxes.data[OPACITY_KEY][0]) == pytest.approx(opacity, abs=0.02)


def test_fresh_untracked_detections_show_until_the_next_analysis() -> None:
    overlay = BoxOverlay()
    # Given a fresh plate that the tracker has not confirmed yet (tracker_id -1)
    overlay.update(dets([box_at_x(300)], [-1]), captured_mono=5.0)
    # Then it is drawn at once, where it was found
    xyxy, opacity = one_box(overlay, 5.2)
    assert xyxy[0] == pytest.approx(300) and opacity == 1.0
    assert overlay.boxes_at(5.2).tracker_id.tolist() == [-1]
    # When the next analysis finds nothing there, it is gone
    overlay.update(dets([], []), captured_mono=5.5)
    assert len(overlay.boxes_at(5.6)) == 0


def test_a_new_track_inherits_the_fresh_detection_it_confirms() -> None:
    overlay = BoxOverlay()
    overlay.update(dets([box_at_x(100)], [-1]), captured_mono=0.0)
    overlay.update(dets([box_at_x(120)], [4]), captured_mono=0.5)
    # The track has two observations at once: it moves on at 40 px/s
    xyxy, _ = one_box(overlay, 0.8)
    assert xyxy[0] == pytest.approx(132, abs=0.5)


def test_detections_without_tracker_ids_are_drawn_as_fresh() -> None:
    overlay = BoxOverlay()
    people = make_detections(np.array([[10, 10, 50, 90]]), np.array([0.8]), np.array([PERSON]))
    overlay.update(people, captured_mono=1.0)
    boxes = overlay.boxes_at(1.1)
    assert boxes.class_id.tolist() == [PERSON] and boxes.tracker_id.tolist() == [-1]
    assert list(boxes.data["class_name"]) == ["person"]


def test_boxes_outside_the_frame_are_left_out() -> None:
    overlay = BoxOverlay(OverlayOptions(flow=False))
    overlay.update(dets([box_at_x(580)], [1]), captured_mono=0.0)
    overlay.update(dets([box_at_x(630)], [1]), captured_mono=0.1)
    assert len(overlay.boxes_at(0.2, np.zeros((720, 1280, 3), np.uint8))) == 1
    assert len(overlay.boxes_at(0.2, np.zeros((360, 640, 3), np.uint8))) == 0  # predicted x0 = 680 > 640


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"history": 1}, "history"),
        ({"fade_after": 3.0, "remove_after": 2.0}, "fade_after"),
        ({"min_hold_s": 3.0, "max_hold_s": 2.0}, "min_hold_s"),
        ({"max_scale": 0.5}, "max_scale"),
        ({"min_fade_s": 0.6, "min_hold_s": 0.5}, "min_fade_s"),
    ],
)
def test_bad_options_are_refused_with_a_sentence(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OverlayOptions(**kwargs)


def test_plate_boxes_are_drawn_amber_and_people_green() -> None:
    scene = np.full((200, 300, 3), 40, np.uint8)
    overlay = BoxOverlay()
    found = sv.Detections.merge(
        [dets([[50, 80, 150, 110]], [1]), dets([[200, 40, 260, 180]], [2], class_id=PERSON)]
    )
    overlay.update(found, captured_mono=0.0)
    out = FrameAnnotator().annotate(scene, overlay.boxes_at(0.0))
    assert tuple(int(v) for v in out[95, 50]) == AMBER_BGR  # left edge of the plate box
    assert tuple(int(v) for v in out[110, 100]) == AMBER_BGR  # bottom edge
    assert tuple(int(v) for v in out[120, 200]) == GREEN_BGR  # left edge of the person box
    assert tuple(int(v) for v in scene[95, 50]) == (40, 40, 40)  # the scene itself is untouched


def test_a_fading_box_is_blended_with_the_picture_under_it() -> None:
    scene = np.full((200, 300, 3), 40, np.uint8)
    boxes = dets([[50, 80, 150, 110]], [1])
    boxes.data[OPACITY_KEY] = np.array([0.5], np.float32)
    out = FrameAnnotator().annotate(scene, boxes)
    expected = tuple(round(0.5 * c + 0.5 * 40) for c in AMBER_BGR)
    assert tuple(int(v) for v in out[95, 50]) == pytest.approx(expected, abs=1)
    # Outside the box and its label, nothing changes
    assert (out[120:, :] == 40).all() and (out[:55, :] == 40).all() and (out[:, :44] == 40).all()


# --- with pictures: boxes follow their objects by optical flow --------------------------------


def grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def test_flow_moves_a_box_with_the_picture_and_gives_up_on_a_plain_one() -> None:
    scene = MovingPatch(speed=30.0)
    a, b = grey(scene.render(0.0)), grey(scene.render(0.1))  # 3 px to the right
    moved = BoxFlow().move(a, b, np.array(scene.box_at(0.0), np.float32))
    assert moved is not None
    np.testing.assert_allclose(moved, scene.box_at(0.1), atol=0.5)
    plain = np.full_like(a, 90)
    assert BoxFlow().move(plain, plain, np.array(scene.box_at(0.0), np.float32)) is None


def play(overlay: BoxOverlay, scene: MovingPatch, frames: int, results: dict[int, tuple[int, bool]]):
    """Publish ``frames`` frames at 30 fps; ``results[i] = (a, found)``: the analysis of frame ``a``
    arrives just before frame ``i`` is published, with the plate (track 5) or with nothing.
    Yields (frame index, time, boxes)."""
    for i in range(frames):
        t = i / 30
        if i in results:
            a, found = results[i]
            overlay.update(dets([scene.box_at(a / 30)], [5]) if found else dets([], []), captured_mono=a / 30)
        yield i, t, overlay.boxes_at(t, scene.render(t))


@pytest.mark.parametrize(
    ("results", "tolerance"),
    [
        # analyses running: the grey copy of every frame is kept
        ({2: (-10, False), 15: (3, True), 28: (16, True), 39: (28, True)}, 2.0),
        # the first analysis after a quiet spell: one grey copy in three frames
        ({15: (3, True), 28: (16, True), 39: (28, True)}, 12.0),
    ],
)
def test_a_new_box_is_brought_forward_to_where_its_object_is_now(results: dict, tolerance: float) -> None:
    # Given a plate moving at 100 px/s whose first analysis (frame 3) arrives 12 frames late
    scene = MovingPatch()
    overlay = BoxOverlay()
    seen = {i: (t, boxes) for i, t, boxes in play(overlay, scene, 40, results)}
    # Then from the moment the result arrives, the box is on the plate, not where it was analysed
    for i in range(15, 40):
        t, boxes = seen[i]
        assert len(boxes) == 1
        assert boxes.xyxy[0][0] == pytest.approx(scene.x_at(t), abs=tolerance), f"frame {i}"
    assert len(seen[14][1]) == 0


def test_an_observation_corrects_the_flow_box_and_keeps_its_motion() -> None:
    # Given a box followed by flow, and a detector that places it 6 px lower than the flow did
    scene = MovingPatch()
    overlay = BoxOverlay()
    frames = list(play(overlay, scene, 25, {1: (0, False), 20: (10, True)}))
    t_a = 22 / 30
    shifted = scene.box_at(t_a)
    shifted[1] += 6
    shifted[3] += 6
    overlay.update(dets([shifted], [5]), captured_mono=t_a)
    t = 25 / 30
    boxes = overlay.boxes_at(t, scene.render(t))
    # Then the box takes the detector's offset and still moves with the plate
    assert boxes.xyxy[0][1] == pytest.approx(scene.y + 6, abs=1.0)
    assert boxes.xyxy[0][0] == pytest.approx(scene.x_at(t), abs=2.0)
    assert len(frames[-1][2]) == 1


def test_without_flow_budget_boxes_fall_back_to_the_motion_model() -> None:
    scene = MovingPatch()
    overlay = BoxOverlay(OverlayOptions(flow_max_boxes=0))
    boxes = list(play(overlay, scene, 40, {15: (3, True), 28: (16, True)}))[-1][2]
    assert boxes.xyxy[0][0] == pytest.approx(scene.x_at(39 / 30), abs=1.0)  # linear motion: exact
