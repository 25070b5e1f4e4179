"""The HTTP routes, checked with a real client against ``streamlit run app.py``."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests
from conftest import PLATE_CLIP, assert_keeps_pace
from test_engine import is_no_signal


def read_parts(url: str, seconds: float, want: int | None = None) -> tuple[requests.Response, list[bytes]]:
    """Read an MJPEG stream for ``seconds`` (or until ``want`` parts came); returns the response and
    the JPEG parts."""
    parts: list[bytes] = []
    with requests.get(url, stream=True, timeout=10, headers={"Accept-Encoding": "gzip, deflate"}) as response:
        buffer = b""
        deadline = time.monotonic() + seconds
        for chunk in response.raw.stream(16384, decode_content=False):
            buffer += chunk
            while True:
                start = buffer.find(b"\xff\xd8")
                end = buffer.find(b"\xff\xd9", start + 2)
                if start < 0 or end < 0:
                    break
                parts.append(buffer[start : end + 2])
                buffer = buffer[end + 2 :]
            if time.monotonic() > deadline or (want is not None and len(parts) >= want):
                break
    return response, parts


def test_routes_with_two_clips_and_an_unreachable_camera(streamlit_server, videos_dir: Path) -> None:
    cams = f"{videos_dir / PLATE_CLIP},{videos_dir / 'intel_car-detection.mp4'},gate=rtsp://user:pw@127.0.0.1:9/s"
    server = streamlit_server({"CAMERAS": cams})

    assert requests.get(server.url + "/_stcore/health", timeout=5).text == "ok"
    check = requests.get(server.url + "/video_feed/check_cams/", timeout=5)
    assert check.status_code == 200 and check.json() == 3 and check.text == "3"

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        cameras = requests.get(server.url + "/api/cameras", timeout=5).json()
        if [c["state"] for c in cameras] == ["online", "online", "offline"]:
            break
        time.sleep(0.5)
    assert [c["state"] for c in cameras] == ["online", "online", "offline"]
    assert set(cameras[0]) >= {
        "id",
        "name",
        "source_kind",
        "state",
        "fps",
        "last_frame_age_s",
        "dropped",
        "last_error",
    }
    assert cameras[2]["name"] == "gate" and cameras[2]["source_kind"] == "url"
    assert "pw" not in requests.get(server.url + "/api/cameras", timeout=5).text

    response, parts = read_parts(server.url + "/video_feed/0/", seconds=4.0)
    assert response.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
    assert response.headers.get("Content-Encoding", "identity") == "identity"
    # the clip is 30 fps: the stream keeps its pace (the first part may take a moment)
    assert_keeps_pace(len(parts) / 4.0, 30)
    assert not is_no_signal(parts[-1])

    _, dead_parts = read_parts(server.url + "/video_feed/2/", seconds=2.5)
    assert dead_parts and all(is_no_signal(p) for p in dead_parts)

    missing = requests.get(server.url + "/video_feed/9/", timeout=5)
    assert missing.status_code == 404 and "no camera with id '9'" in missing.json()["error"]


def test_bad_configuration_is_one_line_on_console_and_a_message_on_routes(streamlit_server) -> None:
    server = streamlit_server({"CAMERAS": "ftp://nowhere/x", "API_KEY": "sk-secret-value"})
    response = requests.get(server.url + "/api/cameras", timeout=5)
    assert response.status_code == 503
    assert "CAMERAS" in response.json()["error"] and "unsupported scheme" in response.json()["error"]
    log = server.log.read_text()
    assert "ISSC configuration error: CAMERAS=" in log
    assert "Traceback" not in log and "sk-secret-value" not in log


@pytest.mark.xdist_group("web_plate_clip")  # one worker, so the two share the server (pytest -n)
def test_plate_clip_makes_one_event_in_the_history_api(shared_streamlit_server, videos_dir: Path) -> None:
    # Given the UK plate clip as the only camera, with the default offline detector (the server is
    # shared with the next test, which only watches: this one runs first in a fresh history)
    server = shared_streamlit_server({"CAMERAS": str(videos_dir / PLATE_CLIP)})
    # When the car has passed (the clip loops: within a minute on a quiet machine, the wait is
    # generous for a loaded one)
    deadline = time.monotonic() + 180
    found: dict = {"total": 0}
    # (a pass is stored as soon as its reads are enough, then completed when the car has gone)
    while time.monotonic() < deadline and not (found["total"] and found["items"][0]["reads"] >= 2):
        time.sleep(2)
        found = requests.get(server.url + "/api/plates", params={"q": "LS15EBC"}, timeout=10).json()
    # Then exactly one event for the pass, not one per frame
    assert found["total"] == 1, found
    event = found["items"][0]
    assert event["text"] == "LS15EBC" and event["reads"] >= 2
    # and a near-miss query finds it too
    near = requests.get(server.url + "/api/plates", params={"q": "LS15E8C"}, timeout=10).json()
    assert [i["id"] for i in near["items"]] == [event["id"]]
    # and the CSV has a header and that row
    lines = requests.get(
        server.url + "/api/plates.csv", params={"q": "LS15EBC"}, timeout=10
    ).text.splitlines()
    assert lines[0].startswith("id,") and len(lines) == 2 and "LS15EBC" in lines[1]
    crop = requests.get(server.url + event["crop_url"], timeout=10)
    assert crop.headers["Content-Type"] == "image/jpeg" and crop.content[:2] == b"\xff\xd8"


AMBER_BGR = np.array([0, 176, 255])  # plate boxes, #ffb000


def shows_plate_box(jpeg: bytes) -> bool:
    """Whether a streamed picture carries an amber plate box (a few hundred amber pixels)."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return int((np.abs(image.astype(int) - AMBER_BGR).sum(axis=2) < 60).sum()) > 200


@pytest.mark.xdist_group("web_plate_clip")
def test_the_live_stream_shows_the_plate_box_while_the_car_is_in_view(
    shared_streamlit_server, videos_dir: Path
) -> None:
    # Given the plate clip (the car is in view in every frame; the clip loops) on a 2-core box
    server = shared_streamlit_server({"CAMERAS": str(videos_dir / PLATE_CLIP)})
    # once the models have loaded and analyses run (at once when the previous test warmed it)
    deadline = time.monotonic() + 60
    while requests.get(server.url + "/api/cameras", timeout=30).json()[0]["detect_fps"] <= 0:
        assert time.monotonic() < deadline, "no analysis within 60 s"
        time.sleep(0.2)
    # When a viewer watches the stream for 90 pictures (3 s of the clip; longer on a loaded machine)
    _, parts = read_parts(server.url + "/video_feed/0/", seconds=90.0, want=90)
    # Then the plate's box is drawn on the pictures between analyses too (DETECT_FPS is 5 at most:
    # a run of 15 boxed pictures, half a second, spans at most three analyses), and on a good share
    # of them. How large a share depends on how fast this machine analyses (each loop of the clip
    # starts without boxes until its first analysis): `python -m issc.bench passes` measures that.
    boxed = [shows_plate_box(p) for p in parts]
    strip = "".join("#" if b else "." for b in boxed)
    assert len(parts) == 90
    assert max(len(run) for run in strip.split(".")) >= 15, strip
    assert sum(boxed) >= len(parts) / 3, strip
