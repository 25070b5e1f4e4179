"""The plate history routes, served by uvicorn on a loopback port and queried with requests."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import serving
from starlette.applications import Starlette
from test_store import EVENTS, plate_event

from issc.api import plate_routes
from issc.store import PlateFilter, Store

CROP = b"\xff\xd8\xff\xe0crop-bytes\xff\xd9"
SNAPSHOT = b"\xff\xd8\xff\xe0snapshot-bytes\xff\xd9"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Store]]:
    """A store holding the search fixture's events (the first with images) behind a live server."""
    folder: Path = tmp_path_factory.mktemp("api")
    store = Store(f"sqlite:///{folder}/issc.db", flush_interval_s=0.1).start()
    for i, (minute, camera, text, conf, label) in enumerate(EVENTS):
        images = {"crop_jpeg": CROP, "snapshot_jpeg": SNAPSHOT} if i == 0 else {}
        store.add_plate_event(plate_event(minute, camera, text, conf, label, **images))
    assert store.flush()
    with serving(Starlette(routes=plate_routes(lambda: store))) as url:
        yield url, store
    store.close()


def get(api: tuple[str, Store], path: str, **params: str) -> requests.Response:
    return requests.get(api[0] + path, params=params, timeout=10)


@pytest.mark.parametrize(
    ("params", "texts", "total"),
    [
        ({}, [e[2] for e in reversed(EVENTS)], 8),
        ({"q": "LS15E8C"}, ["LS16EBC", "LS15EBC", "LS15EBC"], 3),
        ({"q": "ab12"}, ["AB12CDF", "AB12CDE"], 2),
        ({"camera": "yard", "min_conf": "0.5"}, ["AB12CDF", "LS15EBC"], 2),
        ({"since": "2024-05-01T12:20:00Z", "until": "2024-05-01T12:30:00+00:00"}, ["QWE1234", "LS16EBC"], 2),
        ({"since": "2024-05-01T14:20:00+02:00"}, ["ZZZ9999", "AB12CDF", "QWE1234", "LS16EBC"], 4),
        ({"until": "2024-05-01T12:05:00"}, ["LS15EBC"], 1),  # no zone: UTC
        ({"watchlist_only": "true"}, ["LS15EBC", "LS15EBC"], 2),
        ({"limit": "3", "offset": "2"}, ["QWE1234", "LS16EBC", "LS15EBC"], 8),
        ({"q": "", "camera": ""}, [e[2] for e in reversed(EVENTS)], 8),  # empty form fields: absent
        ({"offset": "100"}, [], 8),
    ],
)
def test_list_filters_and_pages(
    api: tuple[str, Store], params: dict[str, str], texts: list[str], total: int
) -> None:
    # when listing plates with filters
    response = get(api, "/api/plates", **params)
    # then the page is newest first with the total of all matches
    assert response.status_code == 200
    body = response.json()
    assert [item["text"] for item in body["items"]] == texts
    assert body["total"] == total
    assert (body["limit"], body["offset"]) == (int(params.get("limit", 50)), int(params.get("offset", 0)))


def test_list_item_shape(api: tuple[str, Store]) -> None:
    # when asking for the oldest event (the one with images)
    item = get(api, "/api/plates", until="2024-05-01T12:01:00Z").json()["items"][0]
    # then it carries these fields
    assert item == {
        "id": item["id"],
        "time": "2024-05-01T12:00:00+00:00",
        "first_seen": "2024-05-01T11:59:57+00:00",
        "camera": "gate",
        "text": "LS15EBC",
        "confidence": 0.95,
        "reads": 3,
        "watchlist": "stolen",
        "crop_url": f"/api/plates/{item['id']}/crop.jpg",
        "snapshot_url": f"/api/plates/{item['id']}/snapshot.jpg",
        "original_text": "LS15EBC",
        "confirmed": False,
        "reviewed_by": None,
        "reviewed_at": None,
        "probable": None,
        "unsure": False,
    }


@pytest.mark.parametrize(
    ("path", "params", "parameter", "fragment"),
    [
        ("/api/plates", {"since": "yesterday"}, "since", "expected an ISO-8601 time"),
        ("/api/plates", {"until": "2024-13-01"}, "until", "expected an ISO-8601 time"),
        (
            "/api/plates",
            {"since": "2024-05-02T00:00:00Z", "until": "2024-05-01T00:00:00Z"},
            "until",
            "after since",
        ),
        ("/api/plates", {"limit": "0"}, "limit", "expected an integer from 1 to 1000, got 0"),
        ("/api/plates", {"limit": "1001"}, "limit", "expected an integer from 1 to 1000"),
        ("/api/plates", {"limit": "ten"}, "limit", "got 'ten'"),
        ("/api/plates", {"offset": "-1"}, "offset", "expected an integer from 0 to 1000000000"),
        ("/api/plates", {"min_conf": "1.5"}, "min_conf", "expected a number from 0 to 1"),
        ("/api/plates", {"min_conf": "high"}, "min_conf", "expected a number from 0 to 1"),
        ("/api/plates", {"watchlist_only": "maybe"}, "watchlist_only", "expected true or false"),
        ("/api/plates", {"plate": "AB"}, "plate", "unknown parameter"),
        ("/api/plates.csv", {"since": "soon"}, "since", "expected an ISO-8601 time"),
        ("/api/plates.csv", {"limit": "10"}, "limit", "unknown parameter"),
    ],
)
def test_bad_parameters_get_a_400_naming_them(
    api: tuple[str, Store], path: str, params: dict[str, str], parameter: str, fragment: str
) -> None:
    # when a parameter has an unusable value
    response = get(api, path, **params)
    # then the answer says which one and what was expected
    assert response.status_code == 400
    body = response.json()
    assert body["parameter"] == parameter
    assert body["error"].startswith(f"{parameter}: ") and fragment in body["error"]


def test_csv_has_header_and_exactly_the_filtered_rows(api: tuple[str, Store]) -> None:
    # when exporting the yard camera's events
    response = get(api, "/api/plates.csv", camera="yard")
    # then it is an attachment with the header and those rows, newest first
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="plates-')
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["id", "first_seen", "last_seen", "camera", "text", "confidence", "reads", "ocr_calls",
                       "watchlist", "box", "original_text", "confirmed", "reviewed_by", "probable", "unsure"]  # fmt: skip
    assert [(r[3], r[4], r[2]) for r in rows[1:]] == [
        ("yard", "AB12CDF", "2024-05-01T12:30:00+00:00"),
        ("yard", "LS15EBC", "2024-05-01T12:15:00+00:00"),
        ("yard", "AB12CDE", "2024-05-01T12:05:00+00:00"),
    ]
    assert response.text == "".join(api[1].iter_plates_csv(PlateFilter(camera="yard")))


def test_images_are_served_as_jpeg(api: tuple[str, Store]) -> None:
    # given the event stored with images
    event_id = get(api, "/api/plates", until="2024-05-01T12:01:00Z").json()["items"][0]["id"]
    # when fetching them
    crop = get(api, f"/api/plates/{event_id}/crop.jpg")
    snapshot = get(api, f"/api/plates/{event_id}/snapshot.jpg")
    # then they are the stored bytes as image/jpeg
    assert (crop.status_code, crop.headers["content-type"], crop.content) == (200, "image/jpeg", CROP)
    assert (snapshot.status_code, snapshot.content) == (200, SNAPSHOT)


@pytest.mark.parametrize("path", ["/api/plates/{no_image}/crop.jpg", "/api/plates/999999/snapshot.jpg"])
def test_missing_images_are_404_with_a_message(api: tuple[str, Store], path: str) -> None:
    # given an event without images, and an unknown id
    no_image = get(api, "/api/plates", q="ZZZ9999").json()["items"][0]["id"]
    # when fetching an image
    response = get(api, path.format(no_image=no_image))
    # then the answer is a 404 that says why
    assert response.status_code == 404
    assert "image" in response.json()["error"]
