"""Unsure events (best vote below the recognition threshold): stored with the flag, left out of the
default history, the hourly roll-up, the default ``/api/plates`` list and watchlist alerts; first in
the review queue; an analyst's confirmation lifts the flag (and raises a held-back alert)."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import requests
from conftest import serving
from starlette.applications import Starlette
from test_alerts import Hook
from test_store import database_url, plate_event  # noqa: F401  (database_url is a fixture)

from issc.alerts.sink import AlertingSink
from issc.api import plate_routes
from issc.service import Service
from issc.store import PlateFilter, Store


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:  # noqa: F811
    with Store(database_url, flush_interval_s=0.1, retry_interval_s=0.1) as s:
        yield s


def fill(store: Store) -> None:
    """Two confident events and two unsure ones (one of them a watchlist plate), all within an hour."""
    store.add_watchlist("NEILDMND", "stolen")
    store.add_plate_event(plate_event(1, text="LS15EBC", confidence=0.95))
    store.add_plate_event(plate_event(2, text="9658", confidence=0.59, unsure=True))
    store.add_plate_event(plate_event(3, text="K179658", confidence=0.93))
    store.add_plate_event(plate_event(4, text="NEILDMND", confidence=0.39, watchlist="stolen", unsure=True))
    assert store.flush()


@pytest.mark.parametrize(
    ("unsure", "texts"),
    [
        ("exclude", ["K179658", "LS15EBC"]),
        ("include", ["NEILDMND", "K179658", "9658", "LS15EBC"]),
        ("only", ["NEILDMND", "9658"]),
    ],
)
def test_unsure_events_are_stored_flagged_and_left_out_by_default(
    store: Store, unsure: str, texts: list[str]
) -> None:
    fill(store)
    flt = PlateFilter(unsure=unsure)  # type: ignore[arg-type]
    rows = store.search_plates(flt)
    assert [r.text for r in rows] == texts
    assert store.count_plates(flt) == len(texts)
    assert all(r.unsure == (r.text in ("9658", "NEILDMND")) for r in rows)
    assert sum(h.plates for h in store.plates_per_hour(flt)) == len(texts)


def test_the_default_filter_and_the_roll_up_hold_confident_events_only(store: Store) -> None:
    fill(store)
    assert [r.text for r in store.search_plates()] == ["K179658", "LS15EBC"]
    assert [(h.camera, h.plates) for h in store.plates_per_hour()] == [("gate", 2)]  # the roll-up
    assert [t.text for t in store.top_plates()] == ["K179658", "LS15EBC"]
    assert store.search_plates(PlateFilter(watchlist_only=True)) == []


def test_the_csv_marks_unsure_events(store: Store) -> None:
    fill(store)
    rows = list(csv.DictReader(io.StringIO("".join(store.iter_plates_csv(PlateFilter(unsure="include"))))))
    assert [(r["text"], r["unsure"]) for r in rows] == [
        ("NEILDMND", "yes"),
        ("K179658", "no"),
        ("9658", "yes"),
        ("LS15EBC", "no"),
    ]


def test_the_review_queue_shows_unsure_events_first(store: Store) -> None:
    fill(store)
    queue = store.review_queue()
    assert {item.row.text for item in queue[:2]} == {"9658", "NEILDMND"}
    assert {item.row.text for item in queue[2:]} == {"LS15EBC", "K179658"}
    assert all(item.reasons[0].startswith("unsure") for item in queue[:2])
    assert store.review_progress() == (0, 4)


def test_a_confirmation_lifts_the_flag(store: Store) -> None:
    fill(store)
    (row,) = store.search_plates(PlateFilter(q="9658", unsure="only"))
    result = store.correct_plate(row.id, confirmed=True, user="ana")
    assert result.before.unsure and not result.after.unsure
    assert not result.new_watchlist_hit
    assert [r.text for r in store.search_plates()] == ["K179658", "9658", "LS15EBC"]
    assert [(h.camera, h.plates) for h in store.plates_per_hour()] == [("gate", 3)]


def test_a_confirmed_unsure_watchlist_hit_raises_its_alert_then(store: Store) -> None:
    # given an unsure read of a watchlist plate: stored with its label, no alert
    hook = Hook()
    alerts = AlertingSink(store, store, webhook_url=hook.url, outbox=store.outbox)
    try:
        event = plate_event(4, text="NEILDMND", confidence=0.39, unsure=True)
        store.add_watchlist("NEILDMND", "stolen")
        alerts.add_plate_event(event)
        alerts.add_plate_event(plate_event(5, text="NEILDMND", confidence=0.95))  # a confident pass
        assert store.flush()
        assert [(a.event.text, a.event.unsure) for a in alerts.alerts_after(0)] == [("NEILDMND", False)]
        (unsure,) = store.search_plates(PlateFilter(unsure="only"))
        assert unsure.watchlist == "stolen"
        # when an analyst confirms it
        result = store.correct_plate(unsure.id, confirmed=True, user="ana")
        assert result.new_watchlist_hit
        Service.corrected(SimpleNamespace(alerts=alerts), result)  # type: ignore[arg-type]
        # then the alert goes out, once, as a confident event
        assert [a.event.unsure for a in alerts.alerts_after(1)] == [False]
        deadline = time.monotonic() + 10
        while len(hook.bodies) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [b["plate"] for b in hook.bodies] == ["NEILDMND", "NEILDMND"]
    finally:
        alerts.close()
        hook.close()


def test_an_unsure_pass_made_sure_by_its_final_event_counts_once(store: Store) -> None:
    # the provisional event (made while the pass was in view) was unsure; the final one is not
    store.add_plate_event(plate_event(1, text="LS15EBC", confidence=0.6, unsure=True, pass_key="p1"))
    assert store.flush()
    assert store.plates_per_hour() == []
    store.add_plate_event(plate_event(1.1, text="LS15EBC", confidence=0.95, pass_key="p1"))
    assert store.flush()
    assert [r.text for r in store.search_plates()] == ["LS15EBC"]
    assert [h.plates for h in store.plates_per_hour()] == [1]
    # and the other way round
    store.add_plate_event(plate_event(2, text="AB12CDE", confidence=0.95, pass_key="p2"))
    store.add_plate_event(plate_event(2.1, text="AB12CDE", confidence=0.5, unsure=True, pass_key="p2"))
    assert store.flush()
    assert [h.plates for h in store.plates_per_hour()] == [1]
    assert store.count_plates(PlateFilter(unsure="include")) == 2


def test_the_api_lists_confident_events_unless_asked(tmp_path) -> None:
    with Store(f"sqlite:///{tmp_path}/h.db", flush_interval_s=0.1) as store:
        fill(store)
        with serving(Starlette(routes=plate_routes(lambda: store))) as url:

            def texts(**params: str) -> list[tuple[str, bool]]:
                body = requests.get(f"{url}/api/plates", params=params, timeout=10).json()
                return [(item["text"], item["unsure"]) for item in body["items"]]

            assert texts() == [("K179658", False), ("LS15EBC", False)]
            assert texts(unsure="include") == [
                ("NEILDMND", True),
                ("K179658", False),
                ("9658", True),
                ("LS15EBC", False),
            ]
            assert texts(unsure="only") == [("NEILDMND", True), ("9658", True)]
            bad = requests.get(f"{url}/api/plates", params={"unsure": "maybe"}, timeout=10)
            assert bad.status_code == 400 and bad.json()["parameter"] == "unsure"
            export = requests.get(f"{url}/api/plates.csv", params={"unsure": "include"}, timeout=10).text
            assert export.splitlines()[0].endswith(",unsure") and export.count(",yes") == 2
