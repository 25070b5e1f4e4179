"""Each page has a path of its own: a typed or shared URL opens that page directly."""

from __future__ import annotations

import shutil

import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
]


@pytest.mark.parametrize(
    ("path", "heading"), [("/live", "Live"), ("/plates", "Plates"), ("/tuning", "Tuning")]
)
def test_a_page_path_opens_its_page_on_a_fresh_server(streamlit_server, browser, path, heading) -> None:
    # Given a server nobody has opened yet
    server = streamlit_server({"CAMERAS": "demo", "DETECTOR": "none"})
    # When a page's own path is typed
    browser.goto(server.url + path)
    # Then that page runs, with the app's navigation, and Streamlit does not fall back to the main page
    browser.get_by_role("heading", name=heading, exact=True).wait_for(timeout=30_000)
    browser.get_by_role("link", name="Plates").first.wait_for(timeout=10_000)
    browser.wait_for_timeout(500)
    assert browser.get_by_text("Page not found").count() == 0
    assert browser.url.endswith(path)
