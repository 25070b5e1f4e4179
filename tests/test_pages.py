"""Pages smoke-tested with Streamlit's AppTest (no browser): they render and show camera health."""

from __future__ import annotations

import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from issc import service


@pytest.fixture
def app_test(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CAMERAS", "lobby=demo,dead=http://127.0.0.1:9/x.mjpg")
    yield lambda page: AppTest.from_file(str(ROOT / "pages" / page), default_timeout=30)
    service.stop()


def test_live_page_shows_a_tile_per_camera_with_state(app_test) -> None:
    at = app_test("live.py").run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "**lobby**" in text and "**dead**" in text
    assert 'src="/video_feed/0/"' in text and 'src="/video_feed/1/"' in text


def test_live_page_shows_configuration_errors_in_one_sentence(app_test, monkeypatch) -> None:
    monkeypatch.setenv("DETECT_FPS", "-1")
    at = app_test("live.py").run()
    assert not at.exception
    assert "DETECT_FPS='-1' is invalid" in at.error[0].value


def test_every_page_file_has_its_own_url_path() -> None:
    # the navigation looks each page up by name: a page added without a path broke every page
    from issc.ui.navigation import PAGES, URL_PATHS

    assert sorted(URL_PATHS) == sorted(p.stem for p in PAGES.glob("*.py"))
    assert len(set(URL_PATHS.values())) == len(URL_PATHS)
