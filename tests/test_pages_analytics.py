"""The Analytics page with Streamlit's AppTest over a seeded history: charts, tables, CSV, shapes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from issc import service as process
from issc.analytics import Crossing, HourTotals, ZoneVisit, hour_of
from issc.store import Store
from issc.types import PlateEvent


def seed(url: str) -> None:
    now = time.time()
    hour = hour_of(now)
    with Store(url) as store:
        store.add_analytics(Crossing("demo", "door", "in", now - 60, 1))
        store.add_analytics(ZoneVisit("demo", "desk", 1, now - 600, now - 540))
        store.add_analytics(ZoneVisit("demo", "desk", 2, now - 500, now - 380))
        store.add_analytics(HourTotals("demo", hour, "line", "door", in_count=7, out_count=5))
        store.add_analytics(
            HourTotals("demo", hour, "zone", "desk", entries=2, visits=2, dwell_s=180, max_occupancy=1)
        )
        store.add_analytics(HourTotals("demo", hour, "people", "", distinct=9))
        store.add_analytics(HourTotals("demo", hour - 3 * 86_400, "people", "", distinct=4))  # only in 30 d
        seen = datetime.now(UTC)
        for camera, text, minutes in (
            ("demo", "LS15EBC", 90),
            ("demo", "LS15EBC", 30),
            ("demo", "AB12CDE", 20),
        ):
            at = seen - timedelta(minutes=minutes)
            store.add_plate_event(PlateEvent(camera, at, at, text, 0.9, 3, (0, 0, 10, 5)))
        assert store.flush()


@pytest.fixture
def page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    url = f"sqlite:///{tmp_path}/h.db"
    seed(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("CAMERAS", "demo")
    monkeypatch.setenv("DETECTOR", "none")
    monkeypatch.setenv("ENTRY_CAMERAS", "demo")
    monkeypatch.setenv("EXIT_CAMERAS", "demo")

    def make(**query: str) -> AppTest:
        at = AppTest.from_file(str(ROOT / "pages" / "analytics.py"), default_timeout=30)
        at.query_params.update(query)
        return at.run()

    yield make
    process.stop()
    st.cache_data.clear()
    st.cache_resource.clear()


def test_tables_charts_and_csv_follow_camera_and_range(page) -> None:
    at = page(camera="demo", range="24h")
    assert not at.exception
    frames = [df.value for df in at.dataframe]
    crossings, occupancy, visits, people = frames[0], frames[1], frames[2], frames[3]
    assert sorted(zip(crossings["direction"], crossings["count"], strict=True)) == [("in", 7), ("out", 5)]
    assert list(occupancy["max_occupancy"]) == [1]
    assert sorted(visits["dwell_s"]) == [60.0, 120.0]
    assert list(people["distinct"]) == [9]  # the 3-day-old hour is outside 24 h
    assert "2 visits, average stay 90 s, at most 1 at once" in " ".join(m.value for m in at.markdown)
    labels = [b.label for b in at.get("download_button")]
    assert "Download zone-visits CSV" in labels and "Download vehicle-visits CSV" in labels
    # vehicles: LS15EBC in then out (one camera at the gate), AB12CDE still on site
    vehicles_closed, onsite = frames[-1], frames[-2]
    assert list(vehicles_closed["plate"]) == ["LS15EBC"] and list(vehicles_closed["stay (min)"]) == [60.0]
    assert list(onsite["plate"]) == ["AB12CDE"]
    month = page(camera="demo", range="30d")
    assert sorted(month.dataframe[3].value["distinct"]) == [4, 9]


def save(at: AppTest):
    """The JSON form's Save button (the drawing editor's buttons come first)."""
    return next(b for b in at.button if b.label == "Save")


def test_an_admin_saves_shapes_and_a_bad_polygon_is_refused(page) -> None:
    at = page(camera="demo")
    engine = process.current().engine
    deadline = time.monotonic() + 20
    while engine.latest(engine.configs()[0].id) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    at.run()
    form_text = at.text_area[0]
    form_text.set_value(
        '{"zones": [{"name": "z", "kind": "zone", "points": [[0, 0], [50, 50], [50, 0], [0, 50]]}]}'
    )
    save(at).click().run()
    assert "crosses itself" in at.error[0].value
    at.text_area[0].set_value(
        '{"zones": [{"name": "desk", "kind": "zone", "points": [[10, 10], [200, 10], [200, 150]]}]}'
    )
    save(at).click().run()
    assert not at.error
    stored = process.current().store.camera_shapes("demo")
    assert stored is not None and [s.name for s in stored.shapes] == ["desk"]
    assert [s.name for s in engine.all_cameras()[0].shapes] == ["desk"]
