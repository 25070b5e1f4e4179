"""Camera sources: file pacing and looping, the demo scene, frames pushed by the webcam page."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import PLATE_CLIP

from issc.errors import SourceError
from issc.sources import DemoSource, FileSource, PushSource


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


def test_file_source_plays_a_grey_gap_between_loops_and_says_which_frame_it_read(tmp_path: Path) -> None:
    # Given a 10-frame, 30 fps clip whose frames are numbered by their brightness
    path = tmp_path / "ten.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    for i in range(10):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()
    source = FileSource(str(path), stop=threading.Event(), gap_s=0.2)
    source.open()
    # When reading one play, the gap and the start of the next play
    positions, brightness, times = [], [], []
    for _ in range(19):
        image = source.read()
        positions.append(source.position)
        brightness.append(int(image.mean()))
        times.append(time.monotonic())
    source.close()
    # Then the clip's frames come with their index, then 0.2 s of plain grey (-1), then frame 0
    assert positions == [*range(10), *[-1] * 6, 0, 1, 2]
    assert brightness[10:16] == [FileSource.GAP_GREY] * 6
    assert abs(brightness[3] - 60) <= 3 and abs(brightness[16]) <= 3
    assert times[16] - times[10] == pytest.approx(0.2, abs=0.05)
    assert source.plays == 1 and source.dropped == 0


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


def test_push_source_hands_over_the_newest_frame_and_counts_the_ones_never_read() -> None:
    # Given two frames pushed before the capture thread reads
    stop = threading.Event()
    source = PushSource(stop, fps=10.0)
    source.open()
    first, second = np.zeros((4, 4, 3), np.uint8), np.ones((4, 4, 3), np.uint8)
    assert source.push(first) == 1 and source.push(second) == 2
    # Then the read gets the newest and the older one counts as dropped
    assert source.read() is second
    assert source.dropped == 1
    # And a read waiting for a frame returns a 1x1 picture once the camera stops
    threading.Timer(0.1, stop.set).start()
    assert source.read().shape == (1, 1, 3)
    source.close()


@pytest.mark.parametrize(
    "source",
    [
        "rtsp://admin:S3cretPw@127.0.0.1:{port}/s1",
        "rtsp://admin:p@ss/S3cretPw@127.0.0.1:{port}/s1",
        "http://admin:S3cretPw@127.0.0.1:{port}/video.mjpg",
        "http://127.0.0.1:{port}/user=admin_password=S3cretPw_channel=1",
        "http://127.0.0.1:{port}/snapshot.cgi?user=admin&pwd=S3cretPw",
    ],
)
def test_source_errors_name_the_camera_without_its_password(source: str) -> None:
    # given a network camera whose URL holds a password, on a port where nothing listens
    from conftest import free_port

    from issc.config import CameraConfig
    from issc.sources import make_source

    url = source.format(port=free_port())
    camera = CameraConfig(id="0", name="gate", kind="url", source=url)
    src = make_source(camera, threading.Event())
    # when it cannot be opened, then the message names the camera by its redacted URL
    with pytest.raises(SourceError) as caught:
        src.open()
    message = str(caught.value)
    assert "127.0.0.1" in message and "S3cretPw" not in message and "p@ss" not in message
    assert "S3cretPw" not in camera.display_source
