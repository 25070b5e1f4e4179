"""The engine with the Roboflow backend against the loopback emulator: a rejected key stops the
calls (no retry storm) and says so; passing failures back off; the stream never waits."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import PLATE_CLIP
from roboflow_emulator import Behaviour, RoboflowEmulator, prediction
from test_engine import wait_until

from issc.config import load_settings
from issc.service import build_engine
from issc.sink import MemorySink

KEY = "rf_live_key_never_shown_42"


@pytest.fixture
def emulator():
    with RoboflowEmulator(Behaviour(valid_key=KEY)) as server:
        yield server


def engine_for(emulator: RoboflowEmulator, clip: Path, key: str):
    settings = load_settings(
        cameras=f"gate={clip}",
        api_key=key,
        api_url=emulator.url,
        human_model="issc-human-detection/1",
        plate_model="issc-plate-recognition/1",
        motion_gating=False,
        detector_timeout_s=2,
    )
    assert settings.detection.kind == "roboflow"
    return build_engine(settings, sink=MemorySink())


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
        assert status.fps == pytest.approx(30, rel=0.15)
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
        assert camera.status().fps == pytest.approx(30, rel=0.15)
    finally:
        engine.stop()
