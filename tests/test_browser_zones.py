"""Drawing a zone and a counting line on the Analytics page in a real browser: points clicked on the
camera's current picture (``streamlit-image-coordinates``), named, saved, then served by
``GET /api/cameras/<name>/zones`` in the frame's pixels and counted with by the engine."""

from __future__ import annotations

import shutil

import pytest
import requests

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
]


def _click_points(page, picture, points: list[tuple[float, float]]) -> None:
    """Click each point (fractions of the shown picture) and wait for the page to list it."""
    for n, (fx, fy) in enumerate(points, start=1):
        box = picture.bounding_box()
        assert box and box["width"] > 50, box
        picture.click(position={"x": fx * box["width"], "y": fy * box["height"]})
        page.wait_for_function(
            "n => [...document.querySelectorAll('p')].some(p => p.textContent.startsWith('Points:')"
            " && p.textContent.split('(').length - 1 === n)",
            arg=n,
            timeout=30_000,
        )


def test_an_admin_draws_a_zone_and_a_line_on_the_picture_and_saves_them(streamlit_server, browser) -> None:
    server = streamlit_server({"CAMERAS": "demo", "DETECTOR": "none"})
    page = browser
    page.goto(server.url + "/analytics?camera=demo")
    page.get_by_role("heading", name="Analytics", exact=True).wait_for(timeout=30_000)
    page.get_by_role("tab", name="Lines and zones").click()
    frame = page.frame_locator('iframe[title*="streamlit_image_coordinates"]')
    picture = frame.locator("#image")
    picture.wait_for(timeout=30_000)
    page.wait_for_function(
        "() => { const f = document.querySelector('iframe[title*=\"streamlit_image_coordinates\"]');"
        " const i = f && f.contentDocument.getElementById('image'); return i && i.naturalWidth > 0 && i.width > 50; }",
        timeout=30_000,
    )
    size = requests.get(server.url + "/api/cameras/demo/zones", timeout=10).json()
    w, h = size["width"], size["height"]

    # When an admin clicks four corners of a zone, names it and saves it
    corners = [(0.2, 0.2), (0.6, 0.2), (0.6, 0.7), (0.2, 0.7)]
    _click_points(page, picture, corners)
    page.get_by_role("textbox", name="Name").fill("desk")
    page.get_by_role("button", name="Save drawn shape").click()
    page.get_by_text("Saved 'desk'").wait_for(timeout=30_000)
    # Then the API serves it in the frame's pixels, where it was clicked (within 2 % of the frame)
    zones = requests.get(server.url + "/api/cameras/demo/zones", timeout=10).json()["zones"]
    assert [(z["name"], z["kind"]) for z in zones] == [("desk", "zone")]
    for (x, y), (fx, fy) in zip(zones[0]["points"], corners, strict=True):
        assert abs(x - fx * w) <= 0.02 * w and abs(y - fy * h) <= 0.02 * h, (zones, w, h)

    # When a counting line is drawn with its in side on the right
    page.get_by_text("Counting line", exact=True).click()
    page.get_by_text("In side").first.wait_for(timeout=30_000)
    _click_points(page, picture, [(0.8, 0.1), (0.8, 0.9)])
    page.get_by_role("textbox", name="Name").fill("door")
    page.get_by_text("right", exact=True).click()
    page.get_by_role("button", name="Save drawn shape").click()
    page.get_by_text("Saved 'door'").wait_for(timeout=30_000)
    # Then both are stored, the line with its in side
    zones = requests.get(server.url + "/api/cameras/demo/zones", timeout=10).json()["zones"]
    assert [(z["name"], z["kind"], z.get("in")) for z in zones] == [
        ("desk", "zone", None),
        ("door", "line", "right"),
    ]

    # When a bad polygon is drawn (its edges cross), it is refused with the API's sentence
    page.get_by_text("Zone (polygon)", exact=True).click()
    page.wait_for_function(
        "() => ![...document.querySelectorAll('label, p')].some(e => e.textContent === 'In side')",
        timeout=30_000,
    )
    _click_points(page, picture, [(0.1, 0.1), (0.4, 0.4), (0.4, 0.1), (0.1, 0.4)])
    page.get_by_role("textbox", name="Name").fill("bow")
    page.get_by_role("button", name="Save drawn shape").click()
    page.get_by_text("'bow': the polygon crosses itself or has no area").wait_for(timeout=30_000)
    assert len(requests.get(server.url + "/api/cameras/demo/zones", timeout=10).json()["zones"]) == 2
