"""The engine: capture workers, latest-frame buffer, NO SIGNAL and recovery, no leaked threads."""

from __future__ import annotations

import importlib
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import PLATE_CLIP, free_port, issc_threads
from mjpeg_server import MjpegCamera

from issc.analysis import Analysis, NullAnalyzer
from issc.config import load_settings
from issc.engine import Engine, peek_shared_engine, shared_engine, stop_shared_engine
from issc.types import CameraState, Tuning


def wait_until(predicate, timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def is_no_signal(jpeg: bytes) -> bool:
    """The prototype's NO SIGNAL frame: purple at the top, a red circle in the upper middle."""
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    b, g, r = (int(v) for v in img[5, 5])
    cb, cg, cr = (int(v) for v in img[int(h * 0.38) - int(30 * h / 360), w // 2 - int(25 * h / 360)])
    return b > g + 30 and r > g + 20 and cr > 180 and cg < 90 and cb < 90


def test_two_clips_and_an_unreachable_camera(videos_dir: Path, no_thread_leak) -> None:
    settings = load_settings(
        cameras=f"{videos_dir / PLATE_CLIP},{videos_dir / 'intel_car-detection.mp4'},"
        "dead=http://127.0.0.1:9/stream.mjpg"
    )
    engine = Engine(settings).start()
    try:
        assert wait_until(
            lambda: (
                [s.state for s in engine.status()]
                == [CameraState.ONLINE, CameraState.ONLINE, CameraState.OFFLINE]
            )
        )
        time.sleep(1.5)
        status = {s.name: s for s in engine.status()}
        assert status["aiguy_license_plate_uk_LS15EBC"].fps == pytest.approx(30, rel=0.15)
        assert status["intel_car-detection"].fps == pytest.approx(12.5, rel=0.15)
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
    engine = Engine(load_settings(cameras=str(videos_dir / PLATE_CLIP))).start()
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
    engine = Engine(
        load_settings(cameras=f"net=http://127.0.0.1:{port}/stream.mjpg", reconnect_max_s=2)
    ).start()
    camera = engine.camera("0")
    try:
        assert wait_until(lambda: camera.status().state == CameraState.ONLINE, 10)
        assert not is_no_signal(camera.current_jpeg()[1])
        # When the camera dies
        cam.kill()
        killed = time.monotonic()
        assert wait_until(lambda: is_no_signal(camera.current_jpeg()[1]), 3.0)
        assert time.monotonic() - killed <= 3.0
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
    engine = Engine(settings, analyzer_factory=lambda cam, tuning: SlowAnalyzer(tuning)).start()
    try:
        time.sleep(2.5)
        status = engine.status()[0]
        analyzer = engine.camera("0").analyzer
        assert status.fps == pytest.approx(30, rel=0.15)
        assert 3 <= analyzer.calls <= 9
        assert engine.camera("0").analysis_skipped > 30
    finally:
        engine.stop()


def test_shared_engine_survives_reruns_cache_clears_and_module_reloads(no_thread_leak) -> None:
    import issc.engine as engine_module

    settings = load_settings(cameras="demo,demo")
    builds = []

    def build():
        builds.append(1)
        return Engine(settings)

    saved = dict(engine_module.__dict__)
    try:
        first = shared_engine(build)
        threads = len(issc_threads())
        # Given many reruns of a page asking for the engine
        for _ in range(5):
            assert shared_engine(build) is first
        # When the engine module is reloaded during development
        reloaded = importlib.reload(engine_module)
        again = reloaded.shared_engine(build)
        # Then the running engine is found again: no second set of threads
        assert again is first and first.running
        assert len(builds) == 1 and len(issc_threads()) == threads
        # And once it is stopped (server shutdown), the next request builds a fresh one
        reloaded.stop_shared_engine()
        assert not first.running and all(not t.is_alive() for t in first.threads())
    finally:
        stop_shared_engine()
        # later tests must see the classes they imported, not the reloaded ones
        engine_module.__dict__.clear()
        engine_module.__dict__.update(saved)
    assert peek_shared_engine() is None


def test_tuning_applies_to_running_analyzers() -> None:
    engine = Engine(load_settings(cameras="a=demo,b=demo"))
    new = Tuning(person_conf=0.9)
    engine.set_tuning(new, camera_id="1")
    assert engine.camera("1").analyzer.tuning.person_conf == 0.9
    assert engine.camera("0").analyzer.tuning.person_conf == 0.5
    engine.set_tuning(Tuning(person_conf=0.2))
    assert engine.camera("0").analyzer.tuning.person_conf == 0.2
    assert engine.camera("1").analyzer.tuning.person_conf == 0.9


def test_demo_camera_reads_its_plate_out_of_the_box(no_thread_leak) -> None:
    """No configuration, no key, no network: the demo's car makes one ISSC42 event."""
    from issc.service import build_engine
    from issc.sink import MemorySink
    from issc.sources import DEMO_PLATE

    engine = build_engine(load_settings(), sink=MemorySink()).start()
    try:
        assert wait_until(lambda: len(engine.sink.events()) >= 1, 45, 0.5)
        time.sleep(1)
    finally:
        engine.stop()
    texts = [e.text for e in engine.sink.events()]
    assert texts == [DEMO_PLATE]
    event = engine.sink.events()[0]
    assert (
        event.camera == "demo"
        and event.crop_jpeg[:2] == b"\xff\xd8"
        and event.snapshot_jpeg[:2] == b"\xff\xd8"
    )
    assert event.ocr_calls <= 3
