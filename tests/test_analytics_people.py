"""People counting on synthetic tracks: crossings with hysteresis, zone dwell, track loss."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from issc.analytics import (
    CountingOptions,
    Crossing,
    HourTotals,
    PeopleCounter,
    ShapeError,
    ZoneVisit,
    parse_shapes,
)

T0 = 1_800_000_000.0  # a UNIX time on an hour boundary + 0
W, H = 640, 360
LINE = {
    "name": "door",
    "kind": "line",
    "points": [[320, 359], [320, 0]],
    "in": "right",
}  # drawn upwards: right is +x
ZONE = {"name": "desk", "kind": "zone", "points": [[100, 100], [300, 100], [300, 300], [100, 300]]}


def person(x: float, y: float, tid: int, h: float = 100.0) -> tuple[list[float], int]:
    """A person box whose foot point (bottom centre) is at (x, y)."""
    return [x - 20, y - h, x + 20, y], tid


def frame(*people: tuple[list[float], int]) -> sv.Detections:
    if not people:
        return sv.Detections.empty()
    boxes = np.array([p[0] for p in people], dtype=np.float32)
    ids = np.array([p[1] for p in people])
    return sv.Detections(
        xyxy=boxes, confidence=np.ones(len(ids), np.float32), class_id=np.zeros(len(ids), int), tracker_id=ids
    )


def run(counter: PeopleCounter, track: list[tuple[float, sv.Detections]]) -> list:
    out = []
    for at, dets in track:
        out.extend(counter.update(dets, T0 + at))
    return out


def counter(*shapes: dict, **options) -> PeopleCounter:
    return PeopleCounter("cam", parse_shapes({"zones": list(shapes)}, W, H), CountingOptions(**options))


def walk(tid: int, xs: list[float], y: float = 200.0, dt: float = 0.2, t0: float = 0.0):
    return [(t0 + i * dt, frame(person(x, y, tid))) for i, x in enumerate(xs)]


def test_a_walk_across_the_line_counts_one_in_then_one_out():
    c = counter(LINE)
    crossings = [
        r
        for r in run(c, walk(1, list(range(200, 450, 20)) + list(range(440, 190, -20))))
        if isinstance(r, Crossing)
    ]
    assert [(x.line, x.direction) for x in crossings] == [("door", "in"), ("door", "out")]


def test_left_in_side_flips_the_direction():
    c = counter({**LINE, "in": "left"})
    crossings = [r for r in run(c, walk(1, list(range(200, 450, 20)))) if isinstance(r, Crossing)]
    assert [x.direction for x in crossings] == ["out"]


def test_jitter_inside_the_hysteresis_band_counts_nothing():
    # Given a person standing on the line, swaying 5 px either side of it
    xs = [315, 325] * 20
    c = counter(LINE, band_px=8.0)
    assert not [r for r in run(c, walk(1, xs)) if isinstance(r, Crossing)]
    # without a band every sway would be a crossing
    c = counter(LINE, band_px=0.0)
    assert len([r for r in run(c, walk(1, xs)) if isinstance(r, Crossing)]) == 39


def test_beyond_the_end_of_a_line_has_no_side():
    short = {"name": "gate", "kind": "line", "points": [[320, 100], [320, 0]], "in": "right"}
    c = counter(short)
    assert not [r for r in run(c, walk(1, list(range(200, 450, 20)), y=250)) if isinstance(r, Crossing)]


def test_a_crossing_split_by_a_new_tracker_id_counts_once():
    # The tracker loses the person on the out side and gives them a new id on the in side.
    track = walk(1, [260, 280, 300]) + walk(2, [340, 360, 380], t0=1.0)
    c = counter(LINE)
    crossings = [r for r in run(c, track) if isinstance(r, Crossing)]
    assert [x.direction for x in crossings] == ["in"]


def test_zone_dwell_is_entry_to_exit():
    # Given a person inside the desk zone from t=2 to t=12, then walking away
    track = walk(1, [50, 80], t0=0.0, dt=1.0)
    track += [(2.0 + 0.5 * i, frame(person(200, 200, 1))) for i in range(21)]
    track += walk(1, [400, 450, 500, 550, 600], t0=13.0, dt=1.0)
    c = counter(ZONE)
    records = run(c, track)
    visits = [r for r in records if isinstance(r, ZoneVisit)]
    assert len(visits) == 1
    assert visits[0].start == T0 + 2.0 and visits[0].end == T0 + 12.0
    assert visits[0].dwell_s == pytest.approx(10.0)
    totals = {(t.kind, t.name): t for t in c.flush(T0 + 20)}
    assert totals[("zone", "desk")].entries == 1
    assert totals[("zone", "desk")].visits == 1
    assert totals[("zone", "desk")].max_occupancy == 1
    assert totals[("people", "")].distinct == 1


def test_a_short_occlusion_does_not_make_a_second_visit():
    # Given a person at the desk, unseen for 1.5 s, then back under a new tracker id
    track = [(0.5 * i, frame(person(200, 200, 1))) for i in range(10)]  # 0 .. 4.5 s
    track += [(5.0 + 0.5 * i, frame()) for i in range(3)]  # nobody seen 5.0 .. 6.0
    track += [(6.5 + 0.5 * i, frame(person(205, 198, 7))) for i in range(10)]  # 6.5 .. 11.0 s
    track += [(12.0 + i, frame()) for i in range(8)]  # vanished at the desk: held hold_s (6 s), then ended
    c = counter(ZONE)
    visits = [r for r in run(c, track) if isinstance(r, ZoneVisit)]
    assert len(visits) == 1
    assert visits[0].dwell_s == pytest.approx(11.0)
    totals = {(t.kind, t.name): t for t in c.flush(T0 + 20)}
    assert totals[("people", "")].distinct == 1


def test_a_still_scene_keeps_the_person_at_the_desk_for_the_whole_dwell():
    # Given a person at the desk from t=0, then nothing moves for 20 s (motion gating skips
    # detection: each skipped frame is reported as still), then they walk away at t=25
    c = counter(ZONE)
    records = run(c, [(0.5 * i, frame(person(200, 200, 1))) for i in range(10)])  # seen 0 .. 4.5 s
    for i in range(40):  # still 5.0 .. 24.5 s: far longer than hold_s (6 s)
        records += c.still(T0 + 5.0 + 0.5 * i)
        assert c.occupancy() == {"desk": 1}
    records += run(c, walk(2, [220, 400, 450, 500, 550, 600], t0=25.0, dt=0.5))  # re-found, leaves
    visits = [r for r in records + c.flush(T0 + 40) if isinstance(r, ZoneVisit)]
    # then one visit, from the entry to the last frame inside, still frames included
    assert [(v.start - T0, v.end - T0) for v in visits] == [(0.0, 25.0)]


def test_a_still_scene_does_not_bring_back_someone_already_gone():
    # Given a person seen at the desk until t=4.5, then frames where nobody is found
    c = counter(ZONE)
    records = run(c, [(0.5 * i, frame(person(200, 200, 1))) for i in range(10)])
    records += run(c, [(5.0 + 0.5 * i, frame()) for i in range(4)])  # looked for, not found
    # when the scene then stands still for 20 s
    for i in range(40):
        records += c.still(T0 + 7.0 + 0.5 * i)
    visits = [r for r in records + c.flush(T0 + 40) if isinstance(r, ZoneVisit)]
    # then the visit ended at the last frame they were seen in (held hold_s, not stretched)
    assert [(v.start - T0, v.end - T0) for v in visits] == [(0.0, 4.5)]


def test_a_long_absence_makes_a_second_visit():
    track = [(0.5 * i, frame(person(200, 200, 1))) for i in range(10)]
    track += [(5.0 + i, frame()) for i in range(9)]  # longer than hold_s
    track += [(14.0 + 0.5 * i, frame(person(200, 200, 2))) for i in range(10)]
    c = counter(ZONE)
    visits = [r for r in run(c, track) + c.flush(T0 + 30) if isinstance(r, ZoneVisit)]
    assert len(visits) == 2


def test_leaving_the_zone_ends_the_visit_after_the_exit_grace():
    # seen outside (walking away) for more than exit_grace_s: the visit ends at the last frame inside
    track = [(0.5 * i, frame(person(200, 200, 1))) for i in range(10)]  # inside 0 .. 4.5 s
    track += [(5.0 + 0.5 * i, frame(person(400 + 10 * i, 200, 1))) for i in range(6)]  # outside 5.0 .. 7.5
    visits = [r for r in run(counter(ZONE), track) if isinstance(r, ZoneVisit)]
    assert [(v.start - T0, v.end - T0) for v in visits] == [(0.0, 4.5)]


def test_walking_through_a_zone_is_no_visit():
    c = counter(ZONE, min_dwell_s=1.0)
    records = run(c, walk(1, list(range(50, 400, 40)), dt=0.2)) + c.flush(T0 + 30)
    assert not [r for r in records if isinstance(r, ZoneVisit)]
    totals = {(t.kind, t.name): t for t in records if isinstance(t, HourTotals)}
    assert totals.get(("zone", "desk"), HourTotals("cam", 0, "zone", "desk")).max_occupancy == 0


def test_two_people_at_once_make_occupancy_two():
    track = [(0.5 * i, frame(person(150, 200, 1), person(250, 200, 2))) for i in range(10)]
    c = counter(ZONE)
    run(c, track)
    assert c.occupancy() == {"desk": 2}
    visits = [r for r in c.flush(T0 + 10) if isinstance(r, ZoneVisit)]
    assert sorted(v.person for v in visits) == [1, 2]


def test_unconfirmed_sightings_hold_a_stay_but_make_no_person():
    # a person at the desk, then found only now and then without a confirmed id for 10 s
    track = [(0.5 * i, frame(person(200, 200, 1))) for i in range(6)]  # 0 .. 2.5 s
    track += [(3.0 + 0.5 * i, frame(person(202, 201, -1)) if i % 8 == 7 else frame()) for i in range(20)]
    track += [(13.0 + 0.5 * i, frame(person(201, 199, 4))) for i in range(4)]  # confirmed again
    track += [(16.0 + i, frame()) for i in range(10)]
    c = counter(ZONE)
    visits = [r for r in run(c, track) if isinstance(r, ZoneVisit)]
    assert [(v.start - T0, v.end - T0) for v in visits] == [(0.0, 14.5)]


def test_sightings_before_the_tracker_confirms_date_the_entry():
    # seen at 0.0 and 0.6 without an id (the tracker has not confirmed them yet), confirmed at 1.2
    track = [(0.0, frame(person(200, 200, -1))), (0.6, frame(person(204, 201, -1)))]
    track += [(1.2 + 0.5 * i, frame(person(206, 202, 3))) for i in range(10)]
    track += [(7.0 + i, frame()) for i in range(10)]
    visits = [r for r in run(counter(ZONE), track) if isinstance(r, ZoneVisit)]
    assert [v.start - T0 for v in visits] == [0.0]


def test_unconfirmed_people_are_ignored():
    c = counter(ZONE)
    run(c, [(0.5 * i, frame(person(200, 200, -1))) for i in range(10)])
    assert c.occupancy() == {"desk": 0}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"name": "z", "kind": "zone", "points": [[0, 0], [100, 100], [100, 0], [0, 100]]}, "crosses itself"),
        ({"name": "z", "kind": "zone", "points": [[0, 0], [700, 0], [0, 100]]}, "outside the 640x360 frame"),
        ({"name": "z", "kind": "zone", "points": [[0, 0], [10, 10]]}, "at least 3 points"),
        ({"name": "l", "kind": "line", "points": [[0, 0]]}, "at least 2 points"),
        ({"name": "l", "kind": "line", "points": [[0, 0], [9, 9]], "in": "up"}, "'left' or 'right'"),
        ({"name": "", "kind": "zone", "points": [[0, 0], [9, 0], [0, 9]]}, "needs a name"),
        ({"name": "x", "kind": "circle", "points": []}, "kind must be"),
        ({"name": "z", "kind": "zone", "points": [[0, 0], [5, 5], [10, 10]]}, "no area"),
    ],
)
def test_bad_shapes_are_refused_in_one_sentence(item, message):
    with pytest.raises(ShapeError, match=message):
        parse_shapes({"zones": [item]}, W, H)


def test_names_must_be_unique():
    with pytest.raises(ShapeError, match="used twice"):
        parse_shapes({"zones": [ZONE, {**LINE, "name": "desk"}]}, W, H)


def test_hour_totals_roll_over_at_the_hour():
    c = counter(LINE)
    records = run(c, walk(1, list(range(200, 450, 20)), t0=3590.0, dt=1.0))
    hours = {t.hour for t in records if isinstance(t, HourTotals)}
    assert int(T0 // 3600) * 3600 in hours


def test_totals_are_sent_again_after_a_flush():
    c = counter(LINE, totals_every_s=1.0)
    c.flush()  # the stream ended (no time given)
    records = run(c, walk(1, list(range(200, 450, 20)), t0=10.0, dt=0.5))
    assert any(isinstance(r, HourTotals) and r.in_count == 1 for r in records)
