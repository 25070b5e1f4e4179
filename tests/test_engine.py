"""The engine: capture workers, latest-frame buffer, NO SIGNAL and recovery, no leaked threads."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import PLATE_CLIP, assert_keeps_pace, free_port, is_no_signal, issc_threads
from mjpeg_server import MjpegCamera
from scenes import MovingPatch, PatchSource

from issc.analysis import Analysis, NullAnalyzer
from issc.config import load_settings
from issc.detections import PLATE, make_detections
from issc.engine import Engine
from issc.tuning import Tuning
from issc.types import CameraState


def wait_until(predicate, timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def test_two_clips_and_an_unreachable_camera(videos_dir: Path, no_thread_leak) -> None:
    settings = load_settings(
        cameras=f"{videos_dir / PLATE_CLIP},{videos_dir / 'intel_car-detection.mp4'},"
        "dead=http://127.0.0.1:9/stream.mjpg"
    )
    engine = Engine.from_settings(settings).start()
    try:
        assert wait_until(
            lambda: (
                [s.state for s in engine.status()]
                == [CameraState.ONLINE, CameraState.ONLINE, CameraState.OFFLINE]
            )
        )
        time.sleep(1.5)
        status = {s.name: s for s in engine.status()}
        assert_keeps_pace(status["aiguy_license_plate_uk_LS15EBC"].fps, 30)
        assert_keeps_pace(status["intel_car-detection"].fps, 12.5)
        dead = status["dead"]
        assert dead.last_error and "cannot connect" in dead.last_error
        assert dead.last_frame_age_s is None
        frame_id, jpeg = engine.camera("2").current_jpeg()
        assert frame_id == -1 and is_no_signal(jpeg)
        frame_id, jpeg = engine.camera("0").current_jpeg()
        assert frame_id >= 0 and not is_no_signal(jpeg)
    finally:
        engine.stop()
    assert not any(t.is_alive() for t in engine.threads())


def test_many_viewers_share_the_newest_frame(videos_dir: Path, no_thread_leak) -> None:
    engine = Engine.from_settings(load_settings(cameras=str(videos_dir / PLATE_CLIP))).start()
    try:
        camera = engine.camera("0")
        first = camera.buffer.wait_newer(-1, timeout=10)
        assert first is not None
        a = camera.buffer.wait_newer(first.frame.frame_id, timeout=2)
        b = camera.buffer.latest()
        assert a is not None and b is not None
        # reading does not consume: both viewers see a frame at least as new as a
        assert b.frame.frame_id >= a.frame.frame_id
        assert a.jpeg() is a.jpeg()  # encoded once, shared
    finally:
        engine.stop()


def test_network_camera_goes_no_signal_within_3_s_and_recovers(no_thread_leak) -> None:
    port = free_port()
    cam = MjpegCamera(port, fps=15).start()
    engine = Engine.from_settings(
        load_settings(cameras=f"net=http://127.0.0.1:{port}/stream.mjpg", reconnect_max_s=2)
    ).start()
    camera = engine.camera("0")
    try:
        assert wait_until(lambda: camera.status().state == CameraState.ONLINE, 10)
        assert not is_no_signal(camera.current_jpeg()[1])
        # When the camera dies
        cam.kill()
        assert wait_until(lambda: is_no_signal(camera.current_jpeg()[1]), 3.0)
        assert camera.status().state == CameraState.OFFLINE
        # Then while down the capture thread sleeps between retries (no busy loop)
        cpu_before = time.thread_time()
        time.sleep(1)
        assert time.thread_time() - cpu_before < 0.2
        # When it comes back on the same address, the stream recovers by itself
        cam = MjpegCamera(port, fps=15).start()
        assert wait_until(lambda: camera.status().state == CameraState.ONLINE, 10)
        assert wait_until(lambda: not is_no_signal(camera.current_jpeg()[1]), 3)
    finally:
        engine.stop()
        cam.kill()


class SlowAnalyzer(NullAnalyzer):
    """An analyzer that takes 300 ms a frame: the live stream must not slow down."""

    def __init__(self, tuning: Tuning) -> None:
        super().__init__(tuning)
        self.calls = 0

    def analyze(self, frame) -> Analysis:
        self.calls += 1
        time.sleep(0.3)
        return Analysis(frame_id=frame.frame_id)


def test_slow_analysis_never_slows_capture(videos_dir: Path, no_thread_leak) -> None:
    settings = load_settings(cameras=str(videos_dir / PLATE_CLIP), motion_gating=False)
    engine = Engine.from_settings(settings, analyzer_factory=lambda cam, tuning: SlowAnalyzer(tuning)).start()
    try:
        time.sleep(2.5)
        status = engine.status()[0]
        analyzer = engine.camera("0").analyzer
        assert_keeps_pace(status.fps, 30)
        assert 3 <= analyzer.calls <= 9
        assert engine.camera("0").health.analysis_skipped > 30
    finally:
        engine.stop()


def test_one_service_per_process_found_by_every_caller(no_thread_leak) -> None:
    from issc import service

    settings = load_settings(cameras="demo,demo")
    builds = []

    def build():
        builds.append(1)
        return service.Service.build(settings, history=False)

    try:
        first = service.start(build)
        threads = len(issc_threads())
        # Given many reruns of pages and many requests asking for the service
        for _ in range(5):
            assert service.current() is first and service.start(build) is first
        # Then it was built once: no second set of threads
        assert len(builds) == 1 and len(issc_threads()) == threads and first.engine.running
        # And once it is stopped (server shutdown), every thread is joined
        service.stop()
        assert not first.engine.running and all(not t.is_alive() for t in first.engine.threads())
    finally:
        service.stop()


def test_a_wrong_configuration_is_one_sentence_found_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from issc import service
    from issc.errors import ConfigError

    monkeypatch.setenv("PERSON_CONF", "2")
    calls = []

    def build():
        calls.append(1)
        return service.Service.build(load_settings(), history=False)

    try:
        for _ in range(3):
            with pytest.raises(ConfigError, match=r"PERSON_CONF='2' is invalid"):
                service.start(build)
            with pytest.raises(ConfigError, match=r"PERSON_CONF='2' is invalid"):
                service.current()
        assert len(calls) == 1  # the settings were read once, not per request
    finally:
        service.stop()


def test_tuning_applies_to_running_analyzers_by_camera_name() -> None:
    engine = Engine.from_settings(load_settings(cameras="a=demo,b=demo"))
    engine.push_webcam_frame(np.zeros((48, 64, 3), np.uint8))  # the webcam follows the shared tuning too
    new = Tuning(person_conf=0.9)
    assert engine.set_tuning(new, "b") is False  # no store: applied, not saved
    assert engine.camera("1").analyzer.tuning.person_conf == 0.9
    assert engine.camera("0").analyzer.tuning.person_conf == 0.5
    engine.set_tuning(Tuning(person_conf=0.2))
    assert engine.camera("0").analyzer.tuning.person_conf == 0.2
    assert engine.camera("webcam").analyzer.tuning.person_conf == 0.2
    assert engine.camera("1").analyzer.tuning.person_conf == 0.9
    assert engine.tuning.overrides() == {"b": new}
    engine.clear_tuning("b")
    assert engine.camera("1").analyzer.tuning.person_conf == 0.2


def test_tuning_is_validated_and_saved_values_are_checked_again() -> None:
    from pydantic import ValidationError

    from issc.tuning import TuningBook

    with pytest.raises(ValidationError):
        Tuning(plate_conf=1.5)
    with pytest.raises(ValidationError):
        Tuning().changed(ocr_engine="paddle")

    class Saved(dict):
        def get_setting(self, key, default=None):
            return self.get(key, default)

        def set_setting(self, key, value):
            self[key] = value

    saved = Saved(
        {"tuning": {"plate_conf": 7, "iou": 0.4, "gone": 1}, "tuning.camera.gate": {"person_conf": 0.8}}
    )
    book = TuningBook(Tuning(), saved).load(["gate", "yard"])
    # out-of-range and unknown saved values are dropped; the rest is restored
    assert book.global_tuning == Tuning(iou=0.4)
    assert book.for_camera("gate") == Tuning(iou=0.4, person_conf=0.8)
    assert book.for_camera("yard") == Tuning(iou=0.4)
    assert book.set(Tuning(plate_conf=0.6), "yard") is True
    assert saved["tuning.camera.yard"]["plate_conf"] == 0.6


def test_demo_camera_reads_its_plate_out_of_the_box(no_thread_leak) -> None:
    """No configuration, no key, no network: the demo's car makes one ISSC42 event."""
    from issc.service import build_engine
    from issc.sink import MemorySink
    from issc.sources import DEMO_PLATE

    sink = MemorySink()
    engine = build_engine(load_settings(), sink=sink)
    heard = []
    engine.subscribe(heard.append)
    engine.start()
    try:
        assert wait_until(lambda: len(sink.events()) >= 1, 45, 0.5)
        time.sleep(1)
    finally:
        engine.stop()
    texts = [e.text for e in sink.events()]
    assert texts == [DEMO_PLATE]
    assert heard == sink.events()  # subscribers hear every event the sink took
    event = sink.events()[0]
    assert (
        event.camera == "demo"
        and event.crop_jpeg[:2] == b"\xff\xd8"
        and event.snapshot_jpeg[:2] == b"\xff\xd8"
    )
    assert event.ocr_calls <= 3


class MovingPlateAnalyzer(NullAnalyzer):
    """Reports the plate of ``scene`` for the first ``reports`` analyses, then nothing.

    Each analysis takes 100 ms, so its result arrives after later frames were already published.
    """

    def __init__(self, tuning: Tuning, scene: MovingPatch, reports: int = 4) -> None:
        super().__init__(tuning)
        self.scene = scene
        self.reports = reports
        self.calls = 0
        self.reported: list[float] = []  # capture times of the frames that showed the plate
        self.returned: list[float] = []  # when each of those results was handed back

    def analyze(self, frame) -> Analysis:
        self.calls += 1
        time.sleep(0.1)
        if self.calls > self.reports:
            return Analysis(frame_id=frame.frame_id)
        box = self.scene.box_at(frame.captured_mono)
        found = make_detections(np.array([box]), np.array([0.9]), np.array([PLATE]))
        found.tracker_id = np.array([1])
        found.data["plate_text"] = np.array(["LS15EBC"], dtype=object)
        self.reported.append(frame.captured_mono)
        self.returned.append(time.monotonic())
        return Analysis(frame_id=frame.frame_id, detections=found)


def test_boxes_follow_a_track_between_analyses_then_fade_out(no_thread_leak) -> None:
    # Given a plate moving right at 100 px/s, analysed twice a second, reported by 4 analyses
    scene = MovingPatch()
    settings = load_settings(cameras="demo", motion_gating=False, detect_fps=2.0)
    engine = Engine.from_settings(
        settings,
        analyzer_factory=lambda cam, tuning: MovingPlateAnalyzer(tuning, scene),
        source_factory=lambda cam, stop: PatchSource(scene, stop),
    ).start()
    camera = engine.camera("0")
    analyzer = camera.analyzer
    seen = []
    try:
        last = -1
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (
            analyzer.calls < 4 or time.monotonic() < analyzer.returned[-1] + 2.5
        ):
            item = camera.wait_newer(last, timeout=0.5)
            if item is not None:
                last = item.frame.frame_id
                seen.append(item)
    finally:
        engine.stop()
    assert len(analyzer.reported) == 4
    t_last = analyzer.reported[-1]
    # Then every frame published after the first result carries the box where the plate is at
    # that frame's capture time, not where it was analysed, drawn in amber
    following = [p for p in seen if analyzer.returned[0] + 0.05 < p.frame.captured_mono < t_last + 0.7]
    assert len(following) >= 30
    for item in following:
        assert len(item.boxes) == 1
        assert item.boxes.xyxy[0][0] == pytest.approx(scene.x_at(item.frame.captured_mono), abs=3.0)
        assert item.boxes.tracker_id.tolist() == [1] and item.boxes.class_id.tolist() == [PLATE]
        assert float(item.boxes.data["opacity"][0]) == 1.0
    sample = following[len(following) // 2]
    x0, y0 = (int(v) for v in sample.boxes.xyxy[0][:2])
    assert tuple(int(v) for v in sample.image[y0 + 10, x0]) == (0, 176, 255)  # #ffb000 in BGR
    # And once the plate is no longer reported, its box fades, then disappears
    after = [p for p in seen if p.frame.captured_mono > t_last + 0.7]
    opacities = [float(p.boxes.data["opacity"][0]) if len(p.boxes) else 0.0 for p in after]
    assert any(0.05 < o < 0.95 for o in opacities)
    assert all(b <= a + 1e-6 for a, b in itertools.pairwise(opacities))
    gone = [p for p in seen if p.frame.captured_mono > t_last + 1.6]
    assert gone and all(len(p.boxes) == 0 for p in gone)


def test_boxes_are_drawn_only_when_a_viewer_asks() -> None:
    from issc.engine import Published
    from issc.types import Frame

    drawn = []

    def draw(image, boxes):
        drawn.append(len(boxes))
        return image + 1

    boxes = make_detections(np.array([[2, 2, 8, 8]]), np.array([0.9]), np.array([PLATE]))
    frame = Frame(np.zeros((16, 16, 3), np.uint8), 0, "0", time.time(), time.monotonic())
    published = Published(frame=frame, published_mono=time.monotonic(), boxes=boxes, draw=draw)
    assert drawn == []  # publishing costs no drawing
    jpeg = published.jpeg()
    assert published.jpeg() is jpeg and int(published.image[0, 0, 0]) == 1
    assert drawn == [1]  # drawn once, however many viewers ask
    assert frame.image.max() == 0  # the analysed frame is never drawn on
