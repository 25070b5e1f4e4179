"""Counting inside the engine: the analysis thread feeds each analysed frame's people to the counter
of its camera, with the lines and zones set at runtime, and the records reach the sink."""

from __future__ import annotations

import time

import numpy as np
import pytest
from test_engine import wait_until

from issc.analysis import Analysis, NullAnalyzer
from issc.analytics import HourTotals, ZoneVisit, parse_shapes
from issc.config import load_settings
from issc.detections import PERSON, make_detections
from issc.engine import Engine
from issc.sink import MemorySink
from issc.tuning import Tuning

DESK = {"zones": [{"name": "desk", "kind": "zone", "points": [[10, 10], [300, 10], [300, 300], [10, 300]]}]}


class VisitorAnalyzer(NullAnalyzer):
    """One tracked person (id 7): outside, then at the desk for ``stay_s``, then gone to the right."""

    def __init__(self, tuning: Tuning, stay_s: float = 2.0) -> None:
        super().__init__(tuning)
        self.stay_s = stay_s
        self.t0: float | None = None

    def analyze(self, frame) -> Analysis:
        self.t0 = self.t0 if self.t0 is not None else frame.captured_at
        age = frame.captured_at - self.t0
        if age < 0.5:
            x = 400.0
        elif age < 0.5 + self.stay_s:
            x = 150.0
        elif age < 1.0 + self.stay_s + 3.0:
            x = 500.0
        else:
            return Analysis(frame_id=frame.frame_id)
        found = make_detections(np.array([[x - 20, 100, x + 20, 250]]), np.array([0.9]), np.array([PERSON]))
        found.tracker_id = np.array([7])
        found.data["plate_text"] = np.array([""], dtype=object)
        return Analysis(frame_id=frame.frame_id, detections=found, people=1)


def test_the_engine_counts_a_visit_in_a_zone_set_at_runtime(no_thread_leak) -> None:
    sink = MemorySink()
    engine = Engine.from_settings(
        load_settings(cameras="demo", motion_gating=False, detect_fps=10.0),
        analyzer_factory=lambda cam, tuning: VisitorAnalyzer(tuning),
        sink=sink,
    )
    camera = engine.camera("0")
    assert engine.set_shapes("demo", parse_shapes(DESK, 640, 360)) and not engine.set_shapes("nowhere", ())
    engine.start()
    try:
        assert wait_until(lambda: any(isinstance(r, ZoneVisit) for r in sink.analytics), 20, 0.1)
        assert camera.analysis.counter.occupancy() == {"desk": 0}
    finally:
        engine.stop()
    [visit] = [r for r in sink.analytics if isinstance(r, ZoneVisit)]
    assert visit.camera == "demo" and visit.zone == "desk"
    assert 1.5 <= visit.dwell_s <= 2.1  # analysed at 10 fps: within a frame or two of 2 s
    totals = [r for r in sink.analytics if isinstance(r, HourTotals) and r.kind == "zone"]
    assert totals and totals[-1].visits == 1 and totals[-1].max_occupancy == 1  # sent when the engine stopped
    assert time.time() - visit.end < 60


class ApproachingCarAnalyzer(NullAnalyzer):
    """A plate (track 3) growing from 20 to 40 px tall over 10 analyses, then its pass's event."""

    def __init__(self, tuning: Tuning) -> None:
        super().__init__(tuning)
        self.calls = 0

    def analyze(self, frame) -> Analysis:
        from datetime import UTC, datetime

        from issc.detections import PLATE
        from issc.types import PlateEvent

        self.calls += 1
        if self.calls > 10:
            return Analysis(frame_id=frame.frame_id)
        h = 20 + 2 * self.calls
        box = [100, 100, 200, 100 + h]
        found = make_detections(np.array([box]), np.array([0.9]), np.array([PLATE]))
        found.tracker_id = np.array([3])
        found.data["plate_text"] = np.array(["LS15EBC"], dtype=object)
        events: tuple = ()
        if self.calls == 10:
            now = datetime.now(UTC)
            events = (PlateEvent("x", now, now, "LS15EBC", 0.9, 3, tuple(box), pass_key="pass-1"),)
        return Analysis(frame_id=frame.frame_id, detections=found, events=events, people=None)


def test_the_engine_stores_the_direction_of_each_plate_pass(no_thread_leak) -> None:
    from issc.types import PlateDirection

    sink = MemorySink()
    engine = Engine.from_settings(
        load_settings(cameras="demo", motion_gating=False, detect_fps=10.0),
        analyzer_factory=lambda cam, tuning: ApproachingCarAnalyzer(tuning),
        sink=sink,
    ).start()
    try:
        assert wait_until(lambda: any(isinstance(r, PlateDirection) for r in sink.analytics), 20, 0.1)
    finally:
        engine.stop()
    [found] = [r for r in sink.analytics if isinstance(r, PlateDirection)]
    assert (found.camera, found.pass_key, found.direction) == ("demo", "pass-1", "towards")
    assert found.growth == pytest.approx(40 / 22, abs=1e-3)
    assert [e.text for e in sink.events()] == ["LS15EBC"]
