"""The live plate path at the analysis rates of a small, busy machine: every pass makes its event.

Real footage (the UK LS15EBC clip), the default offline detector, the engine as the server builds it.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import PLATE_CLIP

from issc.config import load_settings
from issc.service import analyzer_factory, build_detector, build_engine
from issc.sink import MemorySink
from issc.sources import video_frames
from issc.types import Frame

#: one worker under pytest -n, so the module's decoded frames and detector are made once
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("plates_live")]


@pytest.fixture(scope="module")
def clip_frames(videos_dir: Path) -> list[np.ndarray]:
    return list(video_frames(videos_dir / PLATE_CLIP))


@pytest.fixture(scope="module")
def detector():
    return build_detector(load_settings(cameras="demo"))


@pytest.mark.parametrize("analysed", [2, 3, 7])
def test_a_pass_seen_in_a_few_analysed_frames_makes_one_event(
    clip_frames: list[np.ndarray], detector, analysed: int
) -> None:
    # Given the live analyzer fed only `analysed` frames of a 4.7 s pass (0.4 to 1.5 a second)
    settings = load_settings(cameras="demo")
    analyzer = analyzer_factory(settings, detector)(settings.cameras.cameras[0], settings.tuning)
    picks = np.linspace(0, len(clip_frames) - 1, analysed).round().astype(int)
    events = []
    for i in picks:
        t = 1_000_000.0 + i / 30
        events += analyzer.analyze(Frame(clip_frames[i], int(i), "0", t, t)).events
    # When the pass ends (the stream ends, say)
    events += analyzer.flush()
    # Then it has made exactly one event, with the right text
    assert [e.text for e in events] == ["LS15EBC"]


def write_clip(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for image in frames:
        writer.write(image)
    writer.release()
    return path


def wait_for_events(sink: MemorySink, seconds: float) -> list:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not sink.events():
        time.sleep(0.2)
    return sink.events()


def test_a_four_frame_clip_of_a_parked_car_makes_its_event(
    clip_frames: list[np.ndarray], detector, tmp_path: Path, no_thread_leak: None
) -> None:
    # Given a clip of only four frames of a car standing close to the camera, played as a camera
    clip = write_clip(tmp_path / "parked.mp4", clip_frames[120:124])
    settings = load_settings(cameras=str(clip))
    sink = MemorySink()
    engine = build_engine(settings, sink=sink, detector=detector).start()
    try:
        # When it plays (it loops: each end of the clip ends the open tracks)
        events = wait_for_events(sink, 30)
    finally:
        engine.stop()
    # Then the parked car's plate is one event, however few frames were analysed
    assert [e.text for e in sink.events()] == ["LS15EBC"], events


def test_stopping_the_engine_mid_pass_keeps_the_pass(
    videos_dir: Path, detector, no_thread_leak: None
) -> None:
    # Given the clip as a camera, stopped while the car is still in view
    settings = load_settings(cameras=str(videos_dir / PLATE_CLIP))
    sink = MemorySink()
    engine = build_engine(settings, sink=sink, detector=detector).start()
    camera = engine.camera("0")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and camera.health.analysed < 2:
        time.sleep(0.1)
    assert camera.health.analysed >= 2
    # When the engine stops before the track has ended by itself
    engine.stop()
    # Then the open track was flushed into its event
    assert [e.text for e in sink.events()] == ["LS15EBC"]
