"""Camera sources: file pacing and looping, the demo scene, MJPEG over HTTP."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import PLATE_CLIP, free_port
from mjpeg_server import MjpegCamera

from issc.errors import SourceError
from issc.sources import DemoSource, FileSource, HttpSource


def test_file_source_is_paced_at_its_own_fps_and_loops(videos_dir: Path) -> None:
    # Given the 140-frame, 30 fps plate clip
    source = FileSource(str(videos_dir / PLATE_CLIP), stop=threading.Event())
    source.open()
    assert source.fps == pytest.approx(30.0)
    assert source.frames == 140
    # When reading for one second, about 30 frames come (not as fast as decoding allows)
    start = time.monotonic()
    frames = 0
    while time.monotonic() - start < 1.0:
        image = source.read()
        frames += 1
    assert image.shape == (720, 1280, 3)
    assert 20 <= frames <= 34
    # And reading past the end starts again from the first frame
    source._t0 -= 10  # pretend we are late: late frames are skipped, not decoded
    for _ in range(140):
        source.read()
    assert source.dropped > 0
    source.close()


def test_missing_file_raises_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "broken.mp4"
    bogus.write_bytes(b"not a video")
    source = FileSource(str(bogus), stop=threading.Event())
    with pytest.raises(SourceError, match="cannot open video file"):
        source.open()


def test_demo_scene_is_deterministic_labelled_and_moving() -> None:
    demo = DemoSource(stop=threading.Event())
    a, b, c = demo.render(1.0), demo.render(1.0), demo.render(2.0)
    assert a.shape == (360, 640, 3)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    # the label strip along the top is drawn in amber text on black
    assert (a[:26] == 0).all(axis=2).mean() > 0.8


def test_mjpeg_http_source_reads_frames_then_reports_a_dead_camera() -> None:
    camera = MjpegCamera(free_port()).start()
    source = HttpSource(camera.url, stop=threading.Event())
    try:
        source.open()
        image = source.read()
        assert image.shape == (240, 320, 3)
        camera.kill()
        with pytest.raises(SourceError):
            for _ in range(100):
                source.read()
    finally:
        source.close()
        camera.kill()
    with pytest.raises(SourceError, match="cannot connect"):
        HttpSource(camera.url, stop=threading.Event()).open()
