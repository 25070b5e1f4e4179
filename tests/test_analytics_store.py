"""Lines, zones and visits in the history (SQLite and PostgreSQL) and their HTTP routes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from conftest import serving
from starlette.applications import Starlette
from test_store import database_url, store  # noqa: F401  (fixtures)

from issc.analytics import Crossing, HourTotals, ZoneVisit, parse_shapes
from issc.analytics_api import analytics_routes
from issc.store import Store
from issc.store.analytics import purge_analytics

H0 = 1_714_564_800  # 2024-05-01T12:00:00Z
ZONES = {
    "zones": [
        {"name": "table", "kind": "zone", "points": [[300, 280], [620, 280], [620, 420], [300, 420]]},
        {"name": "door", "kind": "line", "points": [[100, 431], [100, 0]], "in": "right"},
    ]
}


def test_records_come_back_as_reports(store: Store) -> None:  # noqa: F811
    # given two visits, three crossings and the hourly totals of two hours
    records = [
        ZoneVisit("cam", "table", 1, H0 + 10, H0 + 25.5),
        ZoneVisit("cam", "table", 2, H0 + 3700, H0 + 3710),
        Crossing("cam", "door", "in", H0 + 5, 1),
        Crossing("cam", "door", "out", H0 + 30, 1),
        Crossing("cam", "door", "in", H0 + 3690, 2),
        HourTotals("cam", H0, "zone", "table", entries=1, visits=1, dwell_s=15.5, max_occupancy=1),
        HourTotals("cam", H0, "line", "door", in_count=1, out_count=1),
        HourTotals("cam", H0, "people", "", distinct=1),
        HourTotals("cam", H0 + 3600, "zone", "table", entries=1, max_occupancy=1),
        HourTotals(
            "cam", H0 + 3600, "zone", "table", entries=1, visits=1, dwell_s=10, max_occupancy=2
        ),  # newer
        HourTotals("cam", H0 + 3600, "line", "door", in_count=1),
        HourTotals("cam", H0 + 3600, "people", "", distinct=1),
        HourTotals("other", H0, "people", "", distinct=5),
    ]
    for record in records:
        store.add_analytics(record)
    assert store.flush()
    # then the zone report has both visits, the totals, and hourly occupancy
    zones = store.zone_report("cam")["zones"]
    assert len(zones) == 1
    table = zones[0]
    assert table["visits"] == [
        {"start": "2024-05-01T12:00:10+00:00", "end": "2024-05-01T12:00:25.500000+00:00", "dwell_s": 15.5},
        {"start": "2024-05-01T13:01:40+00:00", "end": "2024-05-01T13:01:50+00:00", "dwell_s": 10.0},
    ]
    assert (table["visit_count"], table["max_occupancy"], table["mean_dwell_s"]) == (2, 2, 12.8)
    assert [o["max"] for o in table["occupancy"]] == [1, 2]
    # a time range keeps the second hour only
    since = datetime.fromtimestamp(H0 + 3600, UTC)
    later = store.zone_report("cam", since=since)["zones"][0]
    assert later["visit_count"] == 1 and len(later["visits"]) == 1
    lines = store.line_report("cam")["lines"]
    assert [(x["name"], x["in"], x["out"]) for x in lines] == [("door", 2, 1)]
    assert [h["in"] for h in lines[0]["hours"]] == [1, 1]
    people = store.people_report()["cameras"]
    assert {c["camera"]: [h["distinct"] for h in c["hours"]] for c in people} == {"cam": [1, 1], "other": [5]}
    # and retention removes what is older than its cut
    purge_analytics(store.engine, (H0 + 3600) * 1000)
    assert store.zone_report("cam")["zones"][0]["visit_count"] == 1
    assert store.line_report("cam")["lines"][0]["in"] == 1


def test_shapes_are_stored_per_camera_name(store: Store) -> None:  # noqa: F811
    shapes = parse_shapes(ZONES, 768, 432)
    store.put_camera_shapes("lobby", shapes, 768, 432)
    got = store.camera_shapes("lobby")
    assert got is not None and got.shapes == shapes and (got.width, got.height) == (768, 432)
    store.put_camera_shapes("lobby", shapes[:1], 768, 432)
    assert store.camera_shapes("lobby").shapes == shapes[:1]
    assert store.camera_shapes("nowhere") is None
    assert set(store.all_camera_shapes()) == {"lobby"}


@pytest.fixture
def running(
    tmp_path: Path, videos_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Store, object]]:
    """The intel clip as camera "lobby" (no detector), a store, and the analytics routes served."""
    from issc.config import load_settings
    from issc.service import build_engine

    monkeypatch.setenv("CAMERAS", f"lobby={videos_dir / 'intel_one-by-one-person-detection.mp4'}")
    monkeypatch.setenv("DETECTOR", "none")
    engine = build_engine(load_settings()).start()
    history = Store(f"sqlite:///{tmp_path}/issc.db", flush_interval_s=0.1).start()
    try:
        deadline = time.monotonic() + 20
        while engine.latest(engine.configs()[0].id) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        with serving(Starlette(routes=analytics_routes(lambda: history, lambda: engine))) as url:
            yield url, history, engine
    finally:
        engine.stop()
        history.close()


@pytest.mark.parametrize(
    ("zones", "message"),
    [
        (
            [{"name": "t", "kind": "zone", "points": [[0, 0], [100, 100], [100, 0], [0, 100]]}],
            "crosses itself",
        ),
        (
            [{"name": "t", "kind": "zone", "points": [[0, 0], [800, 0], [0, 100]]}],
            "outside the 768x432 frame",
        ),
        ([ZONES["zones"][0], {**ZONES["zones"][1], "name": "table"}], "used twice"),
    ],
)
def test_bad_zones_get_400(running, zones, message) -> None:
    url, history, _ = running
    response = requests.put(f"{url}/api/cameras/lobby/zones", json={"zones": zones}, timeout=10)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert history.camera_shapes("lobby") is None  # nothing stored


def test_zones_put_are_stored_applied_and_drawn(running) -> None:
    url, _, engine = running
    assert requests.get(f"{url}/api/cameras/lobby/zones", timeout=10).json() == {
        "zones": [],
        "width": 768,
        "height": 432,
    }
    assert requests.get(f"{url}/api/cameras/nowhere/zones", timeout=10).status_code == 404
    response = requests.put(f"{url}/api/cameras/lobby/zones", json=ZONES, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["zones"] == ZONES["zones"]
    assert requests.get(f"{url}/api/cameras/lobby/zones", timeout=10).json()["zones"] == ZONES["zones"]
    camera = engine.all_cameras()[0]
    assert [s.name for s in camera.shapes] == ["table", "door"]
    assert camera.capture.annotator.shapes == camera.shapes
    # the live picture shows the zone faintly: pixels on its edge changed, the rest not
    before = camera.latest().frame.frame_id
    item = camera.wait_newer(before, 5)
    raw, drawn = item.frame.image, item.image
    assert (abs(drawn[350, 300].astype(int) - raw[350, 300].astype(int)).sum()) > 30
    assert (drawn[100:200, 650:700] == raw[100:200, 650:700]).all()


def test_reports_take_a_camera_and_a_time_range(running) -> None:
    url, history, _ = running
    history.add_analytics(ZoneVisit("lobby", "table", 1, H0 + 10, H0 + 20))
    history.add_analytics(
        HourTotals("lobby", H0, "zone", "table", entries=1, visits=1, dwell_s=10, max_occupancy=1)
    )
    assert history.flush()
    body = requests.get(f"{url}/api/analytics/zones", params={"camera": "lobby"}, timeout=10).json()
    assert body["zones"][0]["visits"] == [
        {"start": "2024-05-01T12:00:10+00:00", "end": "2024-05-01T12:00:20+00:00", "dwell_s": 10.0}
    ]
    none = requests.get(f"{url}/api/analytics/zones", params={"since": "2024-05-02T00:00:00Z"}, timeout=10)
    assert none.json() == {"zones": []}
    bad = requests.get(f"{url}/api/analytics/lines", params={"since": "yesterday"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["parameter"] == "since"
    assert requests.get(f"{url}/api/analytics/people", params={"cam": "x"}, timeout=10).status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "role"),
    [
        ("GET", "/api/cameras/lobby/zones", "admin"),  # a camera's shapes: admins only, even to read
        ("PUT", "/api/cameras/lobby/zones", "admin"),
        ("GET", "/api/cameras", "viewer"),
        ("GET", "/api/analytics/zones", "viewer"),
        ("GET", "/api/analytics/onsite", "viewer"),
    ],
)
def test_who_may_read_and_write_lines_zones_and_reports(method: str, path: str, role: str) -> None:
    from issc.auth.middleware import _needed_role

    assert _needed_role({"type": "http", "method": method}, path) == role
