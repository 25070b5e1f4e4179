"""Plates, Tuning and Watchlist pages (and the Live page's watchlist toasts) with Streamlit's AppTest,
over a real SQLite history seeded with plate events."""

from __future__ import annotations

import csv
import io
import shutil
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
import streamlit as st
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from issc import service as process
from issc import tuning as live_tuning
from issc import uploads
from issc.config import load_settings
from issc.engine import Engine
from issc.store import CSV_COLUMNS, PlateFilter, Store
from issc.tuning import Tuning, TuningBook, camera_key
from issc.types import PeopleCount, PlateEvent
from issc.ui import history

# --- seeded history ----------------------------------------------------------------------
# Within the last 24 hours: three named plates and 60 fillers on "street"; one more 3 days ago; and
# one unsure read (left out of everything below but the "Reads" filter's test).
FILLERS = [f"PQ{i:02d}RST" for i in range(60)]
RECENT = 3 + len(FILLERS)


def small_jpeg(width: int, height: int, text: str) -> bytes:
    """A real JPEG with the plate text written on it."""
    image = np.full((height, width, 3), 215, np.uint8)
    cv2.putText(image, text, (6, height // 2 + 8), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (20, 20, 20), 2)
    return cv2.imencode(".jpg", image)[1].tobytes()


def plate_event(
    text: str,
    camera: str,
    confidence: float,
    seen: datetime,
    watchlist: str | None = None,
    unsure: bool = False,
):
    return PlateEvent(
        camera=camera,
        first_seen=seen - timedelta(seconds=4),
        last_seen=seen,
        text=text,
        confidence=confidence,
        reads=5,
        box=(100, 80, 220, 120),
        crop_jpeg=small_jpeg(120, 40, text),
        snapshot_jpeg=small_jpeg(320, 180, text),
        ocr_calls=7,
        watchlist=watchlist,
        unsure=unsure,
    )


def seed_history(database_url: str, now: datetime | None = None) -> None:
    """Write the test history into ``database_url`` and close the store."""
    now = now or datetime.now(UTC)
    with Store(database_url) as store:
        store.add_plate_event(plate_event("LS15EBC", "gate", 0.93, now - timedelta(minutes=10), "stolen"))
        store.add_plate_event(plate_event("AB12CDE", "street", 0.55, now - timedelta(minutes=20)))
        store.add_plate_event(plate_event("XY99ZZZ", "gate", 0.35, now - timedelta(minutes=30)))
        store.add_plate_event(plate_event("K179658", "gate", 0.41, now - timedelta(minutes=15), unsure=True))
        for i, text in enumerate(FILLERS):
            store.add_plate_event(plate_event(text, "street", 0.7, now - timedelta(minutes=40 + i)))
        store.add_plate_event(plate_event("OLD1234", "gate", 0.9, now - timedelta(days=3)))
        minute = now.replace(second=0, microsecond=0)
        for m in range(0, 180, 5):
            store.add_people_count(PeopleCount("street", minute - timedelta(minutes=m), m // 5 % 5, 1.5, 12))
        assert store.flush()


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded database, written once per module (tests get copies)."""
    path = tmp_path_factory.mktemp("seeded") / "history.db"
    seed_history(f"sqlite:///{path}")
    return path


@pytest.fixture
def history_url(seeded_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for file in seeded_db.parent.glob(seeded_db.name + "*"):  # the database and any WAL left
        shutil.copy(file, tmp_path / file.name)
    url = f"sqlite:///{tmp_path}/{seeded_db.name}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("CAMERAS", "demo")
    monkeypatch.setenv("DETECTOR", "none")
    return url


@pytest.fixture
def page(history_url: str) -> Iterator[Callable[..., AppTest]]:
    """``page("plates.py", q="...")``: an AppTest of one page, with query parameters as in a link."""

    def make(name: str, **query: str) -> AppTest:
        at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=30)
        at.query_params.update(query)
        return at

    yield make
    process.stop()
    st.cache_data.clear()
    st.cache_resource.clear()


def table_plates(at: AppTest) -> list[str]:
    return list(at.dataframe[0].value["plate"]) if len(at.dataframe) else []


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def text_of(at: AppTest) -> str:
    return "\n".join(m.value for m in [*at.markdown, *at.caption, *at.info, *at.error, *at.warning])


def service() -> process.Service:
    return process.current()


def engine() -> Engine:
    return service().engine


def wait_for_frame(camera_id: str = "0", timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while engine().latest(camera_id) is None:
        assert time.monotonic() < deadline, "the demo camera published no frame"
        time.sleep(0.05)


# --- Plates -------------------------------------------------------------------------------


def test_plates_lists_the_last_24_hours_newest_first_and_pages_in_sql(page) -> None:
    at = page("plates.py").run()
    assert not at.exception
    assert f"**{RECENT}** plates match" in text_of(at)
    assert table_plates(at)[:3] == ["LS15EBC", "AB12CDE", "XY99ZZZ"]
    assert len(table_plates(at)) == 50
    table = at.dataframe[0].value
    assert table["crop"][0] == "/api/plates/1/crop.jpg" and table["watchlist"][0] == "stolen"

    at.selectbox(key="size").set_value(25).run()
    at.number_input(key="page").set_value(3).run()
    assert table_plates(at) == FILLERS[-13:]
    assert "page 3 of 3" in text_of(at)

    # a new search starts again on page 1
    at.text_input(key="q").set_value("PQ").run()
    assert at.number_input(key="page").value == 1
    assert table_plates(at) == FILLERS[:25]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (None, ["LS15EBC", "AB12CDE", "XY99ZZZ"]),  # the default: confident reads only
        ("include", ["LS15EBC", "K179658", "AB12CDE", "XY99ZZZ"]),
        ("only", ["K179658"]),
    ],
)
def test_plates_shows_unsure_reads_only_when_asked_and_marks_them(
    page, choice: str | None, expected: list[str]
) -> None:
    at = page("plates.py", **({"unsure": choice} if choice else {})).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["plate"])[: len(expected)] == expected
    review = dict(zip(table["plate"], table["review"], strict=True))
    assert review.get("K179658", "unsure") == "unsure"  # marked wherever it shows
    assert "unsure" not in review.get("LS15EBC", "")
    if choice is None:
        at.segmented_control(key="unsure").set_value("only").run()
        assert table_plates(at) == ["K179658"]


def test_plates_search_finds_near_misses(page) -> None:
    at = page("plates.py").run()
    at.text_input(key="q").set_value("LS15E8C").run()
    assert table_plates(at) == ["LS15EBC"]
    assert "**1** plate matches" in text_of(at)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("camera", "gate", ["LS15EBC", "XY99ZZZ"]),
        ("min_conf", 0.9, ["LS15EBC"]),
        ("watchlist", True, ["LS15EBC"]),
        ("range", "7d", ["LS15EBC", "AB12CDE", "XY99ZZZ", *FILLERS[:47]]),
    ],
)
def test_plates_filters(page, key: str, value: object, expected: list[str]) -> None:
    at = page("plates.py").run()
    assert "gate" in at.selectbox(key="camera").options  # cameras found in the history are offered
    widget = {"camera": at.selectbox, "min_conf": at.slider, "watchlist": at.toggle}.get(key)
    if widget is None:
        at.segmented_control(key=key).set_value(value).run()
    else:
        widget(key=key).set_value(value).run()
    assert not at.exception
    assert table_plates(at) == expected


def test_plates_deep_link_restores_every_filter(page) -> None:
    at = page("plates.py", q="LS15E8C", camera="gate", range="7d", min_conf="0.5", watchlist="true").run()
    assert at.text_input(key="q").value == "LS15E8C"
    assert at.selectbox(key="camera").value == "gate"
    assert at.segmented_control(key="range").value == "7d"
    assert at.slider(key="min_conf").value == 0.5
    assert at.toggle(key="watchlist").value is True
    assert table_plates(at) == ["LS15EBC"]

    paged = page("plates.py", size="25", page="2").run()
    assert paged.selectbox(key="size").value == 25 and paged.number_input(key="page").value == 2
    assert table_plates(paged) == FILLERS[22:47]


def test_plates_custom_range_from_the_url(page) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)  # AppTest's browser has no time zone: UTC
    since, until = (
        (now - timedelta(days=4)).isoformat("T", "minutes"),
        (now - timedelta(days=2)).isoformat("T", "minutes"),
    )
    at = page("plates.py", range="Custom", since=since, until=until).run()
    assert not at.exception
    assert table_plates(at) == ["OLD1234"]

    backwards = page("plates.py", range="Custom", since=until, until=since).run()
    assert "must be before" in backwards.error[0].value
    assert not backwards.dataframe


def test_plates_download_is_exactly_the_filtered_rows(page, history_url) -> None:
    from urllib.parse import parse_qsl, urlsplit

    from issc.api import parse_filter

    at = page("plates.py", camera="gate", range="All").run()
    button = at.get("link_button")[0].proto
    assert button.label == "Download CSV" and not button.disabled
    # the page builds no file: it links to the streamed route, with its own filter in the API's form
    link = urlsplit(button.url)
    assert link.path == "/api/plates.csv"
    with Store(history_url) as store:
        content = "".join(store.iter_plates_csv(parse_filter(dict(parse_qsl(link.query)))))
    rows = list(csv.reader(io.StringIO(content)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r[CSV_COLUMNS.index("text")] for r in rows[1:]] == ["LS15EBC", "XY99ZZZ", "OLD1234"]
    assert {r[CSV_COLUMNS.index("camera")] for r in rows[1:]} == {"gate"}


def test_plates_selected_row_shows_crop_snapshot_and_details(page) -> None:
    at = page("plates.py", q="LS15EBC").run()
    at.session_state["plates_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert [image.captions for image in at.image] == [["Crop"], ["Snapshot"]]
    details = text_of(at)
    assert "0.93 from 5 agreeing reads (7 OCR calls)" in details and "stolen" in details
    assert at.subheader[0].value == "LS15EBC · gate"


def test_plates_charts_follow_the_filters(history_url) -> None:
    with Store(history_url) as store:
        flt = PlateFilter(camera="gate", since=datetime.now(UTC) - timedelta(days=1))
        assert history.plates_per_hour_frame(store, flt, UTC)["plates"].sum() == 2
        top = history.top_plates_frame(store, PlateFilter(camera="street"), limit=3)
        assert len(top) == 3 and set(top["seen"]) == {1}
        people = history.people_frame(store, PlateFilter(since=datetime.now(UTC) - timedelta(hours=1)), UTC)
        assert set(people["camera"]) == {"street"} and people["peak"].max() == 4
    st.cache_data.clear()


def test_plates_page_explains_when_the_history_is_off(page) -> None:
    process.start(lambda: process.Service.build(load_settings(), history=False))
    at = page("plates.py").run()
    assert not at.exception
    assert "plate history is off" in at.info[0].value
    assert not at.dataframe


# --- Tuning -------------------------------------------------------------------------------


def test_tuning_slider_applies_to_the_engine_and_persists(page, history_url) -> None:
    at = page("tuning.py").run()
    assert not at.exception
    wait_for_frame()
    at.slider(key="tune_person_conf_all").set_value(0.8).run()
    at.slider(key="tune_motion_sensitivity_all").set_value(100).run()
    expected = Tuning(person_conf=0.8, motion_threshold=0.0001)
    assert engine().tuning_for(None) == expected
    assert engine().cameras["0"].analyzer.tuning == expected
    with Store(history_url) as store:
        assert TuningBook(Tuning(), store).load(["demo"]).global_tuning == expected
    # the preview now compares the previous settings with the current ones
    assert [image.captions for image in at.image] == [["Previous settings"], ["Current settings"]]
    assert "motion threshold 0.002 → 0.0001" in text_of(at)
    # the plate recognition threshold is tuned live too
    at.slider(key="tune_recognition_threshold_all").set_value(0.95).run()
    assert engine().cameras["0"].analyzer.tuning.recognition_threshold == 0.95
    assert "recognition threshold 0.9 → 0.95" in text_of(at)


def test_tuning_camera_override_and_reset(page, history_url) -> None:
    at = page("tuning.py").run()
    at.selectbox(key="tune_scope").set_value("demo").run()
    at.slider(key="tune_plate_conf_demo").set_value(0.6).run()
    key = camera_key("demo")
    assert engine().tuning.overrides()["demo"].plate_conf == 0.6
    assert engine().tuning_for(None).plate_conf == 0.3
    with Store(history_url) as store:
        assert store.get_setting(key)["plate_conf"] == 0.6

    at.button(key="tune_reset").click().run()
    assert engine().tuning.overrides() == {}
    assert engine().cameras["0"].analyzer.tuning == engine().tuning_for(None)
    assert at.slider(key="tune_plate_conf_demo").value == 0.3
    with Store(history_url) as store:
        assert store.get_setting(key) is None


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG that claims this size (its pixel data is cut short): a decoder reads the size."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.png", b"", "The file is empty"),
        ("notes.jpg", b"these are meeting notes, not a picture", "not a picture that can be read"),
        ("big.png", png_header(8000, 6000), "8000×6000 (48 megapixels)"),
        ("bomb.png", png_header(30000, 30000), "far larger than 40 megapixels"),
    ],
)
def test_tuning_rejects_bad_uploads_with_a_clear_error(page, name: str, content: bytes, message: str) -> None:
    at = page("tuning.py").run()
    at.segmented_control(key="tune_source").set_value("Upload").run()
    at.file_uploader(key="tune_upload").set_value((name, content, "image/png")).run()
    assert not at.exception
    assert message in at.error[0].value and name in at.error[0].value
    assert not at.image


def test_decode_upload_refuses_files_over_20_mb() -> None:
    with pytest.raises(uploads.UploadRejected, match=r"21\.0 MB; pictures up to 20 MB"):
        uploads.decode_upload(b"\xff" * (21 * 1024 * 1024))


def test_tuning_preview_reads_a_real_plate(page, data_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("DETECTOR", "local")
    at = page("tuning.py").run()
    at.segmented_control(key="tune_source").set_value("Upload").run()
    picture = (data_dir / "plates" / "eu" / "eu1.jpg").read_bytes()
    at.file_uploader(key="tune_upload").set_value(("eu1.jpg", picture, "image/jpeg")).run()
    assert not at.exception and not at.error
    assert "plates: M5XSX" in text_of(at)


# --- Watchlist ----------------------------------------------------------------------------


def _add(at: AppTest, plate: str, label: str, distance: object = "Automatic") -> AppTest:
    at.text_input(key="wl_add_plate").input(plate)
    at.text_input(key="wl_add_label").input(label)
    at.selectbox(key="wl_add_distance").set_value(distance)
    return button(at, "Add to watchlist").click().run()


def test_watchlist_add_normalises_and_matches_live_reads(page) -> None:
    at = page("watchlist.py").run()
    assert not at.exception
    assert "no webhook is configured" in text_of(at)
    _add(at, "ls15 ebc", "stolen")
    assert not at.error
    entries = at.dataframe[0].value
    assert list(entries["plate"]) == ["LS15EBC"] and list(entries["max_distance"]) == [1]
    assert at.text_input(key="wl_add_plate").value == ""  # the form is cleared after a success
    assert service().store.watchlist_match("LS15E8C") == "stolen"


@pytest.mark.parametrize(
    ("plate", "label", "message"),
    [
        ("--", "stolen", "has no letters or digits"),
        ("", "stolen", "Enter a plate"),
        ("AB12CDE", "  ", "Enter a label"),
        ("ab-12 cde", "again", "AB12CDE is already on the watchlist (staff)"),
    ],
)
def test_watchlist_rejects_bad_entries(page, plate: str, label: str, message: str) -> None:
    at = page("watchlist.py").run()
    _add(at, "AB12CDE", "staff", 0)
    _add(at, plate, label)
    assert message in at.error[0].value
    assert at.text_input(key="wl_add_plate").value == plate  # kept, to be corrected
    assert len(service().store.list_watchlist()) == 1


def test_watchlist_edit_and_remove(page) -> None:
    at = page("watchlist.py").run()
    _add(at, "AB12CDE", "staff", 0)
    entry = service().store.list_watchlist()[0]
    at.selectbox(key="wl_edit_choice").set_value(entry.id).run()
    at.text_input(key=f"wl_edit_label_{entry.id}").input("visitor")
    at.selectbox(key=f"wl_edit_distance_{entry.id}").set_value(2)
    button(at, "Save").click().run()
    assert not at.exception
    assert service().store.list_watchlist()[0].label == "visitor"
    assert service().store.list_watchlist()[0].max_distance == 2

    button(at, "Remove").click().run()
    assert service().store.list_watchlist() == []
    assert "The watchlist is empty" in text_of(at)


def test_watchlist_names_the_webhook_host_but_no_secret(page, monkeypatch) -> None:
    monkeypatch.setenv("WEBHOOK_URL", "https://bot:hunter2@hooks.example.com/services/T00/B00/XyZsecret")
    at = page("watchlist.py").run()
    shown = text_of(at)
    assert "hooks.example.com" in shown
    assert "hunter2" not in shown and "XyZsecret" not in shown and "services" not in shown


# --- Live: watchlist toasts ---------------------------------------------------------------


def test_live_page_toasts_new_watchlist_hits_once(page) -> None:
    at = page("live.py").run()
    store = service().store
    store.add_watchlist("LS15EBC", "stolen")
    old = plate_event("LS15E8C", "demo", 0.9, datetime.now(UTC))
    service().sink.add_plate_event(old)
    assert not at.toast

    at.run()
    assert not at.exception
    assert "LS15E8C" in at.toast[0].value and "stolen" in at.toast[0].value
    assert "Watchlist hit: LS15E8C" in at.warning[0].value

    at.run()  # shown once; the banner stays while the hit is recent
    assert not at.toast and at.warning


def test_live_page_does_not_toast_hits_from_before_it_opened(page) -> None:
    page("live.py").run()  # starts the engine
    service().store.add_watchlist("LS15EBC", "stolen")
    service().sink.add_plate_event(plate_event("LS15EBC", "demo", 0.9, datetime.now(UTC)))
    at = page("live.py").run()  # a new session
    assert not at.toast
    assert "Watchlist hit: LS15EBC" in at.warning[0].value


def test_live_page_without_alerts_is_quiet(page) -> None:
    process.start(
        lambda: process.Service.build(load_settings(), history=False)
    )  # MemorySink: no alerts_after
    at = page("live.py").run()
    assert not at.exception and not at.toast and not at.warning


def test_tuning_values_round_trip_through_sensitivity() -> None:
    for threshold in (0.0001, 0.001, 0.01, 0.1):
        assert live_tuning.threshold_from_sensitivity(
            live_tuning.sensitivity_from_threshold(threshold)
        ) == pytest.approx(threshold, rel=0.05)
    assert live_tuning.sensitivity_from_threshold(0.0) == 100
