"""The Cameras page in a real browser: add a camera with a real clip, test an unreachable RTSP
address, remove the camera; the configured camera keeps streaming throughout."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import requests
from conftest import PLATE_CLIP
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
]


def _cameras(server) -> dict[str, dict]:
    return {c["name"]: c for c in requests.get(server.url + "/api/cameras", timeout=10).json()}


def test_add_test_and_remove_a_camera_on_the_page(streamlit_server, browser, videos_dir: Path) -> None:
    server = streamlit_server({"CAMERAS": "street=demo", "DETECTOR": "none"})
    page = browser
    page.goto(server.url + "/cameras")
    page.get_by_role("heading", name="Cameras", exact=True).wait_for(timeout=30_000)
    page.get_by_text("From configuration:").wait_for(timeout=10_000)
    deadline = time.monotonic() + 15
    while _cameras(server)["street"]["fps"] < 5 and time.monotonic() < deadline:
        time.sleep(0.3)
    street_fps = _cameras(server)["street"]["fps"]

    # When an unreachable RTSP address is tested: the reason shows
    form = page.locator('[data-testid="stForm"]').first
    form.get_by_role("textbox", name="Source").fill("rtsp://127.0.0.1:9/stream")
    form.get_by_role("button", name="Test").click()
    page.get_by_text("connection refused by 127.0.0.1:9").wait_for(timeout=30_000)

    # When a camera is added with a real clip
    form.get_by_role("textbox", name="Name").fill("gate2")
    form.get_by_role("textbox", name="Source").fill(str(videos_dir / PLATE_CLIP))
    form.get_by_role("button", name="Add camera").click()
    started = time.monotonic()
    page.get_by_text("Added camera gate2").wait_for(timeout=10_000)
    # Then it streams within 10 s and the configured camera keeps its rate
    while _cameras(server).get("gate2", {}).get("state") != "online" and time.monotonic() - started < 10:
        time.sleep(0.3)
    cams = _cameras(server)
    assert cams["gate2"]["state"] == "online" and cams["gate2"]["origin"] == "stored"
    assert cams["street"]["state"] == "online" and cams["street"]["fps"] > street_fps * 0.6
    page.goto(server.url + "/live")
    page.wait_for_function(
        "() => { const i = document.querySelector('img[src=\"/video_feed/gate2/\"]'); return i && i.naturalWidth > 0; }",
        timeout=15_000,
    )

    # When it is removed on the page: it stops, the configured camera runs on
    page.goto(server.url + "/cameras")
    page.get_by_role("heading", name="Cameras", exact=True).wait_for(timeout=30_000)
    choose = page.locator('[data-testid="stSelectbox"]').filter(has_text="Edit, test or remove")
    deadline = time.monotonic() + 30
    while True:  # a rerun still drawing the page can close the list just opened: open it again
        choose.click(timeout=30_000)
        try:
            page.get_by_role("option", name="gate2", exact=True).click(timeout=5_000)
            break
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise
    page.get_by_role("button", name="Remove").click(timeout=10_000)
    page.get_by_text("Removed camera gate2").wait_for(timeout=15_000)
    assert "gate2" not in _cameras(server)
    assert requests.get(server.url + "/video_feed/gate2/", timeout=10).status_code == 404
    assert _cameras(server)["street"]["state"] == "online"
