"""The engine with the Roboflow backend against the loopback emulator: a rejected key stops the
calls (no retry storm) and says so, until retried or re-probed; passing failures back off, as long
as Retry-After asks when it says; the stream never waits, whatever the detector does."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from conftest import PLATE_CLIP, assert_keeps_pace
from roboflow_emulator import Behaviour, RoboflowEmulator, prediction
from test_engine import wait_until

from issc.config import load_settings
from issc.detect.roboflow import RoboflowDetector
from issc.service import build_engine
from issc.sink import MemorySink

KEY = "rf_live_key_never_shown_42"


@pytest.fixture
def emulator():
    with RoboflowEmulator(Behaviour(valid_key=KEY)) as server:
        yield server


HUMAN, PLATES = "issc-human-detection/1", "issc-plate-recognition/1"


def engine_for(emulator: RoboflowEmulator, clip: Path, key: str, api_version: str = "auto", timeout_s=2):
    settings = load_settings(
        cameras=f"gate={clip}",
        api_key=key,
        api_url=emulator.url,
        human_model="issc-human-detection/1",
        plate_model="issc-plate-recognition/1",
        motion_gating=False,
        detector_timeout_s=timeout_s,
    )
    assert settings.detection.kind == "roboflow"
    detector = None
    if api_version != "auto":  # the loopback emulator is "self-hosted" (v1) unless forced
        detector = RoboflowDetector(
            emulator.url, key, HUMAN, PLATES, api_version=api_version, timeout_s=timeout_s
        )
    return build_engine(settings, sink=MemorySink(), detector=detector)


def test_rejected_key_stops_calls_and_is_reported(emulator, videos_dir: Path, no_thread_leak) -> None:
    engine = engine_for(emulator, videos_dir / PLATE_CLIP, key="wrong-key").start()
    camera = engine.camera("0")
    try:
        assert wait_until(lambda: camera.status().detector_state.startswith("stopped"), 15)
        calls = len(emulator.inference_requests())
        time.sleep(2)
        status = camera.status()
        # no retry storm: not one more call after the rejection
        assert len(emulator.inference_requests()) == calls
        assert "rejected" in status.detector_state.lower() and "wrong-key" not in status.detector_state
        # the live picture keeps its pace
        assert_keeps_pace(status.fps, 30)
    finally:
        engine.stop()


def test_good_key_draws_roboflow_people(emulator, videos_dir: Path, no_thread_leak) -> None:
    emulator.behaviour.predictions = {
        "issc-human-detection/1": [prediction(200, 200, 80, 200, 0.91, "person")]
    }
    engine = engine_for(emulator, videos_dir / PLATE_CLIP, key=KEY).start()
    camera = engine.camera("0")
    try:
        assert wait_until(lambda: camera.health.analysed >= 3, 20)
        assert camera.status().detector_state == "ok"
        assert engine.camera("0").analysis.latest is not None
        dets = engine.camera("0").analysis.latest[1]
        assert list(dets.data["class_name"]) == ["person"]
        assert dets.xyxy[0].tolist() == [160, 100, 240, 300]
    finally:
        engine.stop()


def test_server_errors_back_off_and_recover(emulator, videos_dir: Path, no_thread_leak) -> None:
    emulator.behaviour.mode = "500"
    engine = engine_for(emulator, videos_dir / PLATE_CLIP, key=KEY).start()
    camera = engine.camera("0")
    try:
        assert wait_until(lambda: camera.status().detector_state.startswith("backing off"), 20)
        emulator.behaviour.mode = "ok"
        assert wait_until(lambda: camera.status().detector_state == "ok", 30)
        assert_keeps_pace(camera.status().fps, 30)
    finally:
        engine.stop()


def test_retry_detector_lifts_the_block_once_the_key_is_accepted(
    emulator, videos_dir: Path, no_thread_leak
) -> None:
    # given: the server rejects every call (a key not yet enabled, a plan out of credits)
    emulator.behaviour.mode = "401"
    engine = engine_for(emulator, videos_dir / PLATE_CLIP, key=KEY).start()
    camera = engine.camera("0")
    try:
        assert wait_until(lambda: camera.status().detector_state.startswith("stopped"), 15)
        assert "Retry detector" in camera.status().detector_state
        # when: the server accepts the key again and an admin presses Retry detector
        emulator.behaviour.mode = "ok"
        assert engine.retry_detector() == ["0"]
        # then: detection runs again, without a restart
        assert wait_until(lambda: camera.status().detector_state == "ok", 15)
        analysed = camera.health.analysed
        assert wait_until(lambda: camera.health.analysed > analysed + 2, 15)
        assert engine.retry_detector("0") == []  # nothing was blocked any more
    finally:
        engine.stop()


def test_a_blocked_detector_is_probed_again_on_its_own(emulator, videos_dir: Path, no_thread_leak) -> None:
    emulator.behaviour.mode = "403"
    engine = engine_for(emulator, videos_dir / PLATE_CLIP, key=KEY)
    camera = engine.camera("0")
    camera.analysis.reprobe_s = 2.0  # 5 minutes in production
    engine.start()
    try:
        assert wait_until(lambda: camera.status().detector_state.startswith("stopped"), 15)
        calls = len(emulator.requests)  # self-hosted form: the model registry call is rejected
        time.sleep(3.5)  # one probe, still rejected: one more call, not a storm
        assert 1 <= len(emulator.requests) - calls <= 2 * 2  # both models, at most two probes
        emulator.behaviour.mode = "ok"
        assert wait_until(lambda: camera.status().detector_state == "ok", 10)
    finally:
        engine.stop()


def test_retry_after_sets_the_wait_before_the_next_call(emulator, videos_dir: Path, no_thread_leak) -> None:
    # given: the hosted API form, answering 429 with Retry-After: 3
    emulator.behaviour.mode = "429"
    emulator.behaviour.retry_after = "3"
    engine = engine_for(emulator, videos_dir / PLATE_CLIP, key=KEY, api_version="v0").start()
    camera = engine.camera("0")
    try:
        assert wait_until(lambda: len(emulator.inference_requests()) >= 1, 15)
        assert wait_until(lambda: "as the server asked" in camera.status().detector_state, 5)

        def gaps() -> list[float]:  # between rounds of calls (each detect sends both models at once)
            rounds = sorted({round(r.received_mono, 1) for r in emulator.inference_requests()})
            return [b - a for a, b in itertools.pairwise(rounds) if b - a > 0.5]

        assert wait_until(lambda: len(gaps()) >= 2, 20), gaps()
        # then: never sooner than the server asked (our own backoff would wait 1 s, then 2 s), and
        # not our doubling backoff either (the gaps do not grow: each waits the 3 s asked, plus load)
        assert all(g >= 2.8 for g in gaps()), gaps()
        assert max(gaps()) < 2 * 2.8, gaps()
        assert_keeps_pace(camera.status().fps, 30)
    finally:
        engine.stop()


@pytest.mark.parametrize("mode", ["403", "500", "503", "garbage", "slow", "drop"])
def test_the_live_stream_keeps_its_fps_while_the_detector_fails(
    emulator, videos_dir: Path, mode: str, no_thread_leak
) -> None:
    # given: a detector that fails in one way (slow: a 10 s stall against a 2 s timeout)
    emulator.behaviour.mode = mode
    emulator.behaviour.delay_s = 10.0
    engine = engine_for(emulator, videos_dir / PLATE_CLIP, key=KEY, api_version="v0").start()
    camera = engine.camera("0")
    try:
        assert wait_until(lambda: len(emulator.requests) >= 1, 15)
        # the failure has shown (for "slow": the 2 s timeout ran out) and a second has passed since
        assert wait_until(lambda: camera.status().detector_state not in ("ok", "idle"), 15)
        time.sleep(1)
        status = camera.status()
        # then: the live picture keeps the clip's pace and the state says what is wrong
        assert_keeps_pace(status.fps, 30)
        assert status.detector_state != "ok" and KEY not in status.detector_state
    finally:
        engine.stop()
