"""Analyst review in a real browser (Chromium, ``AUTH=on``): the queue's order and progress, Enter
confirms, typing corrects, the corrected plate is found by its new text with its audit entry, and a
viewer can neither open the Review page nor change a read through the API."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_auth import run_cli
from test_browser_auth import sign_in

from issc.store import PlateFilter, Store
from issc.types import PlateEvent, PlateRead

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
]


def crop_jpeg(text: str) -> bytes:
    """A plate-like crop with ``text`` printed on it."""
    image = np.full((60, 240, 3), 235, np.uint8)
    cv2.putText(image, text, (10, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (20, 20, 20), 3, cv2.LINE_AA)
    return cv2.imencode(".jpg", image)[1].tobytes()


def fill_history(url: str) -> dict[str, int]:
    """Three events: a sure read, a misread with disagreeing reads, an unsure read."""
    now = datetime.now(UTC)
    events = [
        ("AB12CDE", 0.97, 30, (PlateRead("AB12CDE", 0.97), PlateRead("AB12CDE", 0.96))),
        (
            "LS15E8C",
            0.52,
            20,
            (PlateRead("LS15E8C", 0.6), PlateRead("LS15EBC", 0.5), PlateRead("LS15E8C", 0.45)),
        ),
        ("XY51ABC", 0.41, 10, (PlateRead("XY51ABC", 0.41),)),
    ]
    with Store(url, flush_interval_s=0.1) as store:
        for text, conf, minutes_ago, votes in events:
            seen = now - timedelta(minutes=minutes_ago)
            store.add_plate_event(
                PlateEvent(
                    camera="demo",
                    first_seen=seen - timedelta(seconds=2),
                    last_seen=seen,
                    text=text,
                    confidence=conf,
                    reads=len(votes),
                    box=(10, 10, 100, 40),
                    crop_jpeg=crop_jpeg(text),
                    votes=votes,
                    char_conf=tuple(0.95 for _ in text),
                )
            )
        assert store.flush()
        return {r.text: r.id for r in store.search_plates(PlateFilter())}


def blur(page) -> None:
    """Take the keyboard focus out of any field (keys then go to the page's shortcuts)."""
    page.evaluate("document.activeElement && document.activeElement.blur()")


def add_user(url: str, name: str, role: str) -> None:
    added = run_cli(url, "user", "add", name, "--role", role, "--password-stdin", stdin=f"{name} password\n")
    assert added.returncode == 0, added.stderr


def test_an_analyst_confirms_and_corrects_from_the_keyboard(
    streamlit_server, browser_context, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/history.db"
    ids = fill_history(url)
    add_user(url, "ana", "analyst")
    server = streamlit_server({"CAMERAS": "demo", "DETECTOR": "none", "DATABASE_URL": url, "AUTH": "on"})
    page = browser_context.new_page()
    page.goto(server.url + "/review")
    sign_in(page, server.url, "ana", "ana password")
    page.get_by_role("heading", name="Review").wait_for(timeout=30_000)
    # the queue shows progress and the likeliest mistake first (disagreeing reads, low confidence)
    page.get_by_text("0 of 3 reviewed").wait_for(timeout=20_000)
    item = page.locator(".st-key-review_item")
    page.get_by_text(f"event #{ids['LS15E8C']}", exact=False).wait_for(timeout=20_000)
    item.get_by_text("reads disagree", exact=False).wait_for(timeout=10_000)
    # → moves on to the next item, ← comes back
    blur(page)
    page.keyboard.press("ArrowRight")
    page.get_by_text(f"event #{ids['XY51ABC']}", exact=False).wait_for(timeout=20_000)
    page.keyboard.press("ArrowLeft")
    page.get_by_text(f"event #{ids['LS15E8C']}", exact=False).wait_for(timeout=20_000)
    # typing starts a correction in the text field; Enter saves it
    page.keyboard.type("LS15EBC")
    field = page.locator(f".st-key-review_text_{ids['LS15E8C']} input:focus")  # not a stale copy
    assert field.input_value() == "LS15EBC"
    page.keyboard.press("Enter")
    page.get_by_text("1 of 3 reviewed").wait_for(timeout=20_000)
    # the next item is confirmed with Enter alone (focus outside the field)
    page.get_by_text(f"event #{ids['XY51ABC']}", exact=False).wait_for(timeout=20_000)
    blur(page)
    page.keyboard.press("Enter")
    page.get_by_text("2 of 3 reviewed").wait_for(timeout=20_000)
    # the corrected plate is found by its new text, with its audit entry
    page.goto(server.url + "/plates?q=LS15EBC&range=All")
    page.get_by_role("heading", name="Plates").wait_for(timeout=30_000)
    page.get_by_text("1 plate matches").wait_for(timeout=20_000)
    with Store(url) as store:
        row = store.get_plate(ids["LS15E8C"])
        assert row is not None and (row.text, row.original_text, row.reviewed_by) == (
            "LS15EBC",
            "LS15E8C",
            "ana",
        )
        confirmed = store.get_plate(ids["XY51ABC"])
        assert confirmed is not None and confirmed.confirmed and confirmed.original_text is None
        assert [r.id for r in store.search_plates(PlateFilter(q="LS15EBC"))] == [ids["LS15E8C"]]
    # selecting the row shows the reads and the audit trail
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.wait_for(timeout=20_000)
    box = grid.bounding_box()
    assert box is not None
    page.wait_for_timeout(500)  # the canvas draws after the element appears
    page.mouse.click(box["x"] + 16, box["y"] + 35 + 22)  # row-marker column, header 35 px, row 44 px
    details = page.locator(".st-key-plate_details")
    details.get_by_text("Audit trail").wait_for(timeout=20_000)
    details.get_by_text("corrected from LS15E8C", exact=False).wait_for(timeout=10_000)
    # (the audit table is a canvas grid; its accessible cells carry the text)
    details.locator('[role="gridcell"]', has_text="ana").first.wait_for(state="attached", timeout=10_000)
    page.screenshot(path=str(tmp_path / "plates-review.png"), full_page=True)


def test_a_viewer_can_neither_review_nor_patch(streamlit_server, browser_context, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/history.db"
    ids = fill_history(url)
    add_user(url, "vic", "viewer")
    server = streamlit_server({"CAMERAS": "demo", "DETECTOR": "none", "DATABASE_URL": url, "AUTH": "on"})
    page = browser_context.new_page()
    page.goto(server.url + "/plates")
    sign_in(page, server.url, "vic", "vic password")
    page.get_by_role("heading", name="Plates").wait_for(timeout=30_000)
    nav = page.locator('[data-testid="stSidebarNav"]')
    nav.get_by_text("Plates").wait_for(timeout=10_000)
    assert nav.get_by_text("Review").count() == 0
    # the API refuses the viewer's session too
    answer = page.request.patch(server.url + f"/api/plates/{ids['LS15E8C']}", data={"text": "LS15EBC"})
    assert answer.status == 403
    assert page.request.get(server.url + f"/api/plates/{ids['LS15E8C']}").status == 200
    with Store(url) as store:
        row = store.get_plate(ids["LS15E8C"])
        assert row is not None and row.text == "LS15E8C" and row.reviewed_at is None
