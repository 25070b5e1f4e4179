"""Pages in a real browser: Debian's Chromium driven by Playwright, against ``streamlit run``."""

from __future__ import annotations

import shutil
import time

import pytest
import requests

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
]


def test_live_page_streams_mjpeg_tiles(streamlit_server, browser) -> None:
    server = streamlit_server({"CAMERAS": "street=demo,gate=http://127.0.0.1:9/x.mjpg"})
    browser.goto(server.url + "/")
    browser.get_by_text("street", exact=True).wait_for(timeout=30_000)
    images = browser.locator('img[src="/video_feed/0/"]')
    images.wait_for(timeout=10_000)
    # the browser really decodes the MJPEG stream: the image gets its natural size
    browser.wait_for_function(
        "() => { const i = document.querySelector('img[src=\"/video_feed/0/\"]'); return i && i.naturalWidth === 640; }",
        timeout=15_000,
    )
    browser.get_by_text("offline").first.wait_for(timeout=15_000)


def test_webcam_page_sends_the_fake_camera_through_the_engine(streamlit_server, browser) -> None:
    server = streamlit_server({"CAMERAS": "demo"})
    browser.goto(server.url + "/")
    browser.get_by_role("link", name="Webcam").click(timeout=30_000)
    component = browser.frame_locator('iframe[src*="streamlit_webrtc"]')
    component.get_by_role("button", name="START").click(timeout=30_000)
    # Then the engine receives the browser's frames as camera "webcam" and publishes them
    deadline = time.monotonic() + 30
    webcam = None
    while time.monotonic() < deadline:
        cams = requests.get(server.url + "/api/cameras", timeout=5).json()
        webcam = next((c for c in cams if c["id"] == "webcam"), None)
        if webcam and webcam["state"] == "online" and webcam["fps"] > 5:
            break
        time.sleep(0.5)
    assert webcam is not None and webcam["state"] == "online" and webcam["fps"] > 5, webcam
    assert requests.get(server.url + "/video_feed/check_cams/", timeout=5).json() == 1
