"""The Plates page in a real browser: filters, deep links, row selection and the CSV download."""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect
from test_pages_history import seed_history

from issc.store import CSV_COLUMNS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
]


def wait_for_rerun(page) -> None:
    """Until the script run has finished: no element left stale, no running indicator."""
    page.wait_for_timeout(200)
    page.wait_for_function(
        '() => !document.querySelector(\'[data-stale="true"], [data-testid^="stStatusWidgetRunning"]\')',
        timeout=15_000,
    )


def query_of(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def test_plates_page_filters_selects_downloads_and_deep_links(
    streamlit_server, browser, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/history.db"
    seed_history(url)  # written and closed before the server opens it
    server = streamlit_server({"CAMERAS": "demo", "DETECTOR": "none", "DATABASE_URL": url})
    page = browser
    # Open the app once at its root first: on a fresh server Streamlit treats the `pages/` folder as a
    # v1 multipage app until some session has run app.py's st.navigation (PagesManager.
    # uses_pages_directory is process-wide), and /plates would run without the app's navigation.
    page.goto(server.url + "/")
    page.get_by_role("heading", name="Live").wait_for(timeout=30_000)
    page.goto(server.url + "/plates")
    page.get_by_text("63 plates match").wait_for(timeout=30_000)

    # When: camera "gate", all time
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Camera").click()
    page.get_by_role("option", name="gate", exact=True).click()
    page.get_by_role("radio", name="All", exact=True).click()
    page.get_by_text("3 plates match").wait_for(timeout=10_000)
    page.wait_for_function("() => location.search.includes('range=All')", timeout=10_000)
    assert query_of(page.url) == {"camera": "gate", "range": "All"}

    # Then the CSV link (streamed by /api/plates.csv) holds exactly those rows
    # A link left over from an earlier run carries that run's filter: wait for this one's.
    link = page.get_by_role("link", name="Download CSV")
    expect(link).to_have_attribute("href", re.compile(r"camera=gate"), timeout=15_000)
    href = link.get_attribute("href")
    assert href is not None and href.startswith("/api/plates.csv?")
    download = page.request.get(server.url + href)  # the browser's own cookies and origin
    disposition = download.headers["content-disposition"]
    assert download.ok and 'filename="plates-' in disposition and disposition.endswith('.csv"')
    rows = list(csv.reader(io.StringIO(download.text())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r[CSV_COLUMNS.index("text")] for r in rows[1:]] == ["LS15EBC", "XY99ZZZ", "OLD1234"]

    # When: a near-miss search
    search = page.get_by_role("textbox", name="Search plates")
    search.fill("LS15E8C")
    search.press("Enter")
    page.get_by_text("1 plate matches").wait_for(timeout=10_000)
    page.wait_for_function("() => location.search.includes('q=LS15E8C')", timeout=10_000)
    wait_for_rerun(page)

    # When: the first row's selection box is clicked (the grid is a canvas: click by position)
    grid = page.locator('[data-testid="stDataFrame"]')
    grid.wait_for(timeout=10_000)
    box = grid.bounding_box()
    assert box is not None
    page.wait_for_timeout(500)  # the canvas draws after the element appears
    page.mouse.click(box["x"] + 16, box["y"] + 35 + 22)  # row-marker column, header 35 px, row 44 px
    # Then the crop and the snapshot appear with the details
    page.get_by_text("LS15EBC · gate").wait_for(timeout=10_000)
    images = page.locator('[data-testid="stImage"] img')
    images.nth(1).wait_for(timeout=10_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
        ".filter(i => i.naturalWidth > 0).length === 2",
        timeout=10_000,
    )
    assert page.get_by_text("7 OCR calls").count() == 1

    # And the URL is a deep link: opening it in a new tab restores every filter
    link = page.url
    assert query_of(link) == {"camera": "gate", "range": "All", "q": "LS15E8C"}
    fresh = page.context.new_page()
    fresh.goto(link)
    fresh.get_by_text("1 plate matches").wait_for(timeout=30_000)
    expect(fresh.get_by_role("textbox", name="Search plates")).to_have_value("LS15E8C", timeout=20_000)
    camera = fresh.locator('[data-testid="stSelectbox"]').filter(has_text="Camera")
    expect(camera.locator("input")).to_have_value("gate", timeout=20_000)
    expect(fresh.get_by_role("radio", name="All", exact=True)).to_have_attribute(
        "aria-checked", "true", timeout=20_000
    )
