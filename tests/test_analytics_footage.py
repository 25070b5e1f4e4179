"""People counting on real footage, through the live path's detector, tracker and counter.

Each clip is analysed at 5 frames a second (``DETECT_FPS``'s default) by ``PlateAnalyzer`` with the
offline person detector (SSDLite), exactly as the engine does, and its tracked people are counted
by ``PeopleCounter``. The truths below were counted by hand, frame by frame (frames extracted with
OpenCV and looked at one by one; the frame numbers are those of the 10 fps clip).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from test_detect_ssd import MODEL, needs_model

from issc.analysis import PlateAnalyzer
from issc.analytics import HourTotals, PeopleCounter, ZoneVisit, parse_shapes
from issc.detect import CompositeDetector, NullDetector, make_person_detector
from issc.types import Frame

T0 = 1_800_000_000.0  # on an hour boundary: one hour of totals

#: The intel clip (768x432, 10 fps, 139 s): six people walk up to a high table one at a time,
#: stand at it, and walk off to the right. The zone is the floor in front of the table; a person is
#: in it while their feet are. Entry = first frame with the feet inside, exit = last such frame.
#: one worker under pytest -n, so the intel clip is analysed once for the module (30 s)
pytestmark = pytest.mark.xdist_group("analytics_footage")

INTEL_ZONE = {"name": "table", "kind": "zone", "points": [[300, 300], [620, 300], [620, 425], [300, 425]]}
INTEL_TRUTH = [  # (entry s, exit s): frames 69-191, 239-443, 513-691, 757-859, 932-1189, 1247-1352
    (6.9, 19.1),  # woman, grey cardigan
    (23.9, 44.3),  # man, black hoodie
    (51.3, 69.1),  # woman, long fair hair, all black
    (75.7, 85.9),  # man, black T-shirt
    (93.2, 119.0),  # woman, dark hair, grey cardigan: the SSD never sees her (< 0.05 in every frame)
    (124.7, 135.2),  # man, grey shirt
]
DETECTOR_MISSES = {4}  # indices into INTEL_TRUTH the person detector does not find at all


def count_clip(
    path: Path, shapes: list[dict], analysed_fps: float = 5.0, last_frame: int | None = None
) -> tuple[list, PeopleCounter]:
    """Run the live path's analyzer and the counter over a clip (up to ``last_frame``, inclusive);
    returns every record and the counter."""
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    step = max(round(fps / analysed_fps), 1)
    analyzer = PlateAnalyzer(
        CompositeDetector(make_person_detector(), NullDetector()), "cam", frame_rate=fps / step
    )
    counter = PeopleCounter("cam", parse_shapes({"zones": shapes}, width, height))
    records: list = []
    index = 0
    while True:
        ok, image = capture.read()
        if not ok or (last_frame is not None and index > last_frame):
            break
        if index % step == 0:
            at = T0 + index / fps
            result = analyzer.analyze(Frame(image, index, "0", at, at))
            if result.people is not None:  # as the engine: only frames people were looked for in
                records += counter.update(result.detections, at)
        index += 1
    capture.release()
    records += counter.flush(T0 + index / fps + 60)
    return records, counter


@pytest.fixture(scope="module")
def intel(videos_dir: Path) -> list:
    if MODEL is None:
        pytest.skip("the SSD person model is not installed")
    return count_clip(videos_dir / "intel_one-by-one-person-detection.mp4", [INTEL_ZONE])[0]


def _match(visits: list[ZoneVisit]) -> dict[int, ZoneVisit]:
    """Each truth visit's found visit: the one overlapping it most (at most one each)."""
    matched: dict[int, ZoneVisit] = {}
    for i, (start, end) in enumerate(INTEL_TRUTH):
        overlaps = [(min(end, v.end - T0) - max(start, v.start - T0), v) for v in visits]
        best = max(overlaps, key=lambda o: o[0], default=(0, None))
        if best[0] > 0:
            matched[i] = best[1]
    return matched


@needs_model
def test_intel_one_visit_per_person_seen(intel: list) -> None:
    visits = [r for r in intel if isinstance(r, ZoneVisit)]
    matched = _match(visits)
    # every person the detector sees makes exactly one visit, and no visit is left over
    assert set(matched) == set(range(len(INTEL_TRUTH))) - DETECTOR_MISSES
    assert len(visits) == len(matched) and len({id(v) for v in matched.values()}) == len(visits)


#: Measured: the SSD finds the third person in about one analysed frame of three while she stands
#: (all in black against the table), so her entry is seen 1.1 s late and her exit 1.3 s early.
SPARSE = pytest.mark.xfail(
    strict=True, reason="sparse detections: dwell 2.4 s short (entry +1.1 s, exit -1.3 s)"
)


@needs_model
@pytest.mark.parametrize(
    "person",
    [
        pytest.param(i, marks=SPARSE) if i == 2 else i
        for i in range(len(INTEL_TRUTH))
        if i not in DETECTOR_MISSES
    ],
)
def test_intel_entry_exit_and_dwell_within_2_s(intel: list, person: int) -> None:
    visit = _match([r for r in intel if isinstance(r, ZoneVisit)])[person]
    start, end = INTEL_TRUTH[person]
    assert abs(visit.start - T0 - start) <= 2.0
    assert abs(visit.end - T0 - end) <= 2.0
    assert abs(visit.dwell_s - (end - start)) <= 2.0


@needs_model
def test_intel_max_occupancy_is_one(intel: list) -> None:
    totals = [r for r in intel if isinstance(r, HourTotals) and r.kind == "zone"]
    assert totals and max(t.max_occupancy for t in totals) == 1
    assert totals[-1].entries == totals[-1].visits == len(INTEL_TRUTH) - len(DETECTOR_MISSES)


@needs_model
@pytest.mark.xfail(
    strict=True, reason="the offline SSD person detector never finds the fifth person (93-119 s)"
)
def test_intel_visits_equal_the_people_who_came(intel: list) -> None:
    assert len([r for r in intel if isinstance(r, ZoneVisit)]) == len(INTEL_TRUTH)


#: The Tokyo clip (640x360, 30 fps, 10.6 s) is filmed by someone walking along the street behind two
#: pedestrians; from 3 s on the camera turns (56 px of image shift in second 3, 128-190 px a second
#: in 7-9 s, phase correlation). Frames 0-90 (3 s) are the stretch where the view holds (6-8 px a
#: second). Hand count over frames 0-90 (every 10th frame looked at, then each frame around the
#: line) for a line across the walkway at y = 250: the man in black and the woman with the backpack
#: walk ahead at the camera's pace with their feet on the line (y 245-255) the whole time; the
#: woman with the white bag comes in from the left edge at frame ~78 below the line; the man at the
#: left edge at frame 0 leaves to the left below it; everyone else stays far above it. Crossings:
#: 0 in, 0 out. (Within 10 % of 0 is 0: this checks that feet jittering on a line count nothing.)
TOKYO_LINE = {"name": "walkway", "kind": "line", "points": [[0, 250], [639, 250]], "in": "left"}
TOKYO_STILL_FRAMES = 90


@needs_model
def test_tokyo_people_walking_along_a_line_do_not_cross_it(videos_dir: Path) -> None:
    from issc.analytics import Crossing

    if MODEL is None:
        pytest.skip("the SSD person model is not installed")
    clip = videos_dir / "aiguy_tokyo_street_pedestrians.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip.name} is not in {videos_dir}")
    records, _ = count_clip(clip, [TOKYO_LINE], last_frame=TOKYO_STILL_FRAMES)
    # the two people ahead are seen and tracked (so nothing is counted because they are followed,
    # not because nobody was found)
    people = [r for r in records if isinstance(r, HourTotals) and r.kind == "people"]
    assert people and people[-1].distinct >= 2
    crossings = [r for r in records if isinstance(r, Crossing)]
    assert crossings == [], [(r.direction, round(r.at - T0, 1)) for r in crossings]
