"""The history store against real databases: SQLite files always, and PostgreSQL (the ``postgres``
fixture: ``ISSC_TEST_POSTGRES_URL``'s server or a throwaway cluster; the tests drop and recreate the
store's tables in its database). Migrations: test_store_migrate.py."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from issc.store import PlateFilter, Store, head_revision
from issc.tuning import Tuning, TuningBook
from issc.types import PeopleCount, PlateEvent

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

#: (minutes after T0, camera, text, confidence, watchlist) — the search fixture's events.
EVENTS: tuple[tuple[int, str, str, float, str | None], ...] = (
    (0, "gate", "LS15EBC", 0.95, "stolen"),
    (5, "yard", "AB12CDE", 0.40, None),
    (10, "gate", "XY99ZZZ", 0.80, None),
    (15, "yard", "LS15EBC", 0.70, "stolen"),
    (20, "gate", "LS16EBC", 0.90, None),
    (25, "gate", "QWE1234", 0.60, None),
    (30, "yard", "AB12CDF", 0.99, None),
    (35, "gate", "ZZZ9999", 0.50, None),
)


def plate_event(
    minute: float,
    camera: str = "gate",
    text: str = "AB12CDE",
    confidence: float = 0.9,
    watchlist: str | None = None,
    **kwargs: Any,
) -> PlateEvent:
    """A plate event last seen ``minute`` minutes after T0 (first seen 3 s earlier)."""
    last = T0 + timedelta(minutes=minute)
    return PlateEvent(
        camera=camera,
        first_seen=last - timedelta(seconds=3),
        last_seen=last,
        text=text,
        confidence=confidence,
        reads=3,
        box=(10, 20, 130, 50),
        ocr_calls=4,
        watchlist=watchlist,
        **kwargs,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/data/issc.db"
    return request.getfixturevalue("empty_postgres_url")


@pytest.fixture
def store(database_url: str, no_thread_leak: None) -> Iterator[Store]:
    """A started store with a short flush interval and fast retries."""
    with Store(database_url, flush_interval_s=0.2, retry_interval_s=0.1) as s:
        yield s


@pytest.fixture
def filled(store: Store) -> Store:
    """The store holding :data:`EVENTS`, written through the writer thread."""
    for minute, camera, text, conf, label in EVENTS:
        store.add_plate_event(plate_event(minute, camera, text, conf, label))
    assert store.flush()
    return store


def texts(rows: list[Any]) -> list[str]:
    return [r.text for r in rows]


# ---------------------------------------------------------------- schema and migrations


def test_sqlite_file_gets_its_folder_and_wal_mode(tmp_path: Path) -> None:
    # given a URL whose folder does not exist yet
    url = f"sqlite:///{tmp_path}/deep/er/issc.db"
    # when the store opens it
    with Store(url) as s, s.engine.connect() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    # then the file exists and runs in WAL mode at the latest schema
    assert (tmp_path / "deep" / "er" / "issc.db").is_file()
    assert mode == "wal"
    assert s.schema_revision == head_revision()


# ---------------------------------------------------------------- writer


def test_writer_batches_a_burst_into_a_few_transactions(store: Store) -> None:
    # given a counter of commits
    commits: list[float] = []
    sa.event.listen(store.engine, "commit", lambda _conn: commits.append(time.monotonic()))
    # when 200 events arrive in a burst
    for i in range(200):
        store.add_plate_event(plate_event(i, text=f"AB{i:03d}CD"))
    assert store.flush(timeout=30)
    # then all are readable after a few transactions: the writer batches, and adding never waited
    # for a commit (that would take one per event). How long adding and flushing take is a
    # benchmark's figure (bench cluster's flush p50/p95): a loaded 2-core machine stretches both.
    assert store.count_plates() == 200
    assert 1 <= len(commits) <= 10, len(commits)
    assert store.status() == store.status().__class__(True, "writing normally", 0, 0, 200)


def test_full_queue_drops_newest_and_counts_them(database_url: str, no_thread_leak: None) -> None:
    # given a store whose writer has not started, with room for 5 records
    s = Store(database_url, queue_size=5)
    try:
        # when 8 records arrive
        for i in range(7):
            s.add_plate_event(plate_event(i, text=f"AB{i:03d}CD"))
        s.add_people_count(PeopleCount("gate", T0, 2, 1.0, 5))
        status = s.status()
        s.start()
        assert s.flush()
        # then 3 were dropped and counted, and the first 5 were written
        assert (status.buffered, status.dropped) == (5, 3)
        assert s.status().written == 5
        assert texts(s.search_plates()) == [f"AB{i:03d}CD" for i in (4, 3, 2, 1, 0)]
    finally:
        s.close()


def _limit_file_growth(dbapi_connection: Any, _record: Any) -> None:
    """SQLite's own 'database or disk is full' (SQLITE_FULL): the file may not grow any more."""
    cursor = dbapi_connection.cursor()
    pages = cursor.execute("PRAGMA page_count").fetchone()[0]
    cursor.execute(f"PRAGMA max_page_count = {pages}")
    cursor.close()


def _read_only(dbapi_connection: Any, _record: Any) -> None:
    """SQLite's own 'attempt to write a readonly database' (SQLITE_READONLY)."""
    dbapi_connection.cursor().execute("PRAGMA query_only = ON")


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (_limit_file_growth, "database or disk is full"),
        (_read_only, "readonly database"),
    ],
)
def test_write_failure_buffers_reports_and_recovers(
    tmp_path: Path, no_thread_leak: None, failure: Any, message: str
) -> None:
    # given a SQLite store that has written one event
    with Store(f"sqlite:///{tmp_path}/issc.db", flush_interval_s=0.1, retry_interval_s=0.1) as s:
        s.add_plate_event(plate_event(0, text="AA11AAA"))
        assert s.flush()
        # when every new connection fails to write (the pool is emptied so the writer reconnects)
        sa.event.listen(s.engine, "connect", failure)
        s.engine.dispose()
        snapshot = b"\xff\xd8" + os.urandom(200_000)  # needs new pages, so a full file shows
        for i in range(3):
            s.add_plate_event(plate_event(i + 1, text=f"BB{i}1BBB", snapshot_jpeg=snapshot))
        assert not s.flush(timeout=1.0)
        failing = s.status()
        readable = s.count_plates()
        # and the disk works again
        sa.event.remove(s.engine, "connect", failure)
        s.engine.dispose()
        assert s.flush(timeout=5.0)
        # then the store said what was wrong, kept the events, kept serving reads and wrote them later
        assert not failing.ok
        assert message in failing.message and "retrying" in failing.message
        assert (failing.buffered, failing.dropped, failing.written) == (3, 0, 1)
        assert readable == 1
        assert s.status() == s.status().__class__(True, "writing normally", 0, 0, 4)
        assert s.count_plates() == 4
        assert s.plate_image(s.search_plates(limit=1)[0].id, "snapshot") == snapshot


def test_close_writes_what_is_queued(database_url: str, no_thread_leak: None) -> None:
    # given a store with a long flush interval and queued events
    s = Store(database_url, flush_interval_s=1.0).start()
    for i in range(5):
        s.add_plate_event(plate_event(i, text=f"CC{i}1CCC"))
    # when it is closed right away
    s.close()
    # then nothing was lost
    reopened = Store(database_url)
    try:
        assert reopened.count_plates() == 5
    finally:
        reopened.close()


# ---------------------------------------------------------------- search


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # substring (newest first)
        ("AB12", ["AB12CDF", "AB12CDE"]),
        ("15EB", ["LS15EBC", "LS15EBC"]),
        ("zzz", ["ZZZ9999", "XY99ZZZ"]),
        ("ab 12-cd", ["AB12CDF", "AB12CDE"]),
        # near misses: look-alikes are free, plus one edit for 7 characters
        ("LS15E8C", ["LS16EBC", "LS15EBC", "LS15EBC"]),
        ("1S15EBC", ["LS16EBC", "LS15EBC", "LS15EBC"]),
        ("LS15EB", ["LS15EBC", "LS15EBC"]),  # LS16EBC is two edits away
        ("XY99ZZ", ["XY99ZZZ"]),
        ("QWE1235", ["QWE1234"]),
        # no match
        ("LS1", ["LS16EBC", "LS15EBC", "LS15EBC"]),
        ("LS9", []),
        ("MM77MMM", []),
        ("KKK", []),
        ("", [t[2] for t in reversed(EVENTS)]),
    ],
)
def test_search_by_text(filled: Store, q: str, expected: list[str]) -> None:
    # when searching by plate text
    rows = filled.search_plates(PlateFilter(q=q))
    # then substrings and near misses are found, newest first, and the count agrees
    assert texts(rows) == expected
    assert filled.count_plates(PlateFilter(q=q)) == len(expected)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"camera": "yard"}, ["AB12CDF", "LS15EBC", "AB12CDE"]),
        ({"since": T0 + timedelta(minutes=20)}, ["ZZZ9999", "AB12CDF", "QWE1234", "LS16EBC"]),
        ({"until": T0 + timedelta(minutes=10)}, ["AB12CDE", "LS15EBC"]),
        ({"min_conf": 0.9}, ["AB12CDF", "LS16EBC", "LS15EBC"]),
        ({"watchlist_only": True}, ["LS15EBC", "LS15EBC"]),
        ({"q": "LS15E8C", "camera": "gate", "min_conf": 0.9}, ["LS16EBC", "LS15EBC"]),
        (
            {"camera": "gate", "since": T0 + timedelta(minutes=5), "until": T0 + timedelta(minutes=30)},
            ["QWE1234", "LS16EBC", "XY99ZZZ"],
        ),
        ({"camera": "nowhere"}, []),
    ],
)
def test_search_filters(filled: Store, filters: dict[str, Any], expected: list[str]) -> None:
    # when filtering
    flt = PlateFilter(**filters)
    rows = filled.search_plates(flt)
    # then exactly the matching events come back, newest first, and the count agrees
    assert texts(rows) == expected
    assert filled.count_plates(flt) == len(expected)


@pytest.mark.parametrize(("limit", "offset"), [(3, 0), (3, 3), (3, 6), (5, 7), (50, 0), (1, 8)])
def test_paging_walks_the_newest_first_order(filled: Store, limit: int, offset: int) -> None:
    # given all events newest first
    everything = filled.search_plates(limit=100)
    # when reading one page
    page = filled.search_plates(limit=limit, offset=offset)
    # then it is the matching slice
    assert page == everything[offset : offset + limit]
    assert [r.last_seen for r in everything] == sorted((r.last_seen for r in everything), reverse=True)


def test_plate_rows_round_trip_every_field(store: Store) -> None:
    # given one event with images and a watchlist label
    event = plate_event(7, "dock", "ab12 cde", 0.875, "vip", crop_jpeg=b"\xff\xd8crop", snapshot_jpeg=b"")
    store.add_plate_event(event)
    assert store.flush()
    # when it is read back
    (row,) = store.search_plates()
    # then every field survived (text normalised, times UTC)
    assert (row.camera, row.text, row.confidence, row.reads, row.box) == (
        "dock",
        "AB12CDE",
        0.875,
        3,
        (10, 20, 130, 50),
    )
    assert (row.first_seen, row.last_seen) == (event.first_seen, event.last_seen)
    assert (row.ocr_calls, row.watchlist, row.has_crop, row.has_snapshot) == (4, "vip", True, False)
    assert store.get_plate(row.id) == row
    assert store.plate_image(row.id, "crop") == b"\xff\xd8crop"
    assert store.plate_image(row.id, "snapshot") is None
    assert store.plate_image(row.id + 1, "crop") is None


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"since": datetime(2024, 1, 1)}, "since=2024-01-01T00:00:00 must be timezone-aware"),
        ({"until": datetime(2024, 1, 1)}, "until=2024-01-01T00:00:00 must be timezone-aware"),
        ({"min_conf": 1.5}, "min_conf=1.5 must be between 0 and 1"),
    ],
)
def test_bad_filters_raise_with_the_name(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PlateFilter(**bad)


@pytest.mark.parametrize(("page", "message"), [({"limit": 0}, "limit=0"), ({"offset": -1}, "offset=-1")])
def test_bad_pages_raise_with_the_name(filled: Store, page: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        filled.search_plates(PlateFilter(), **page)


# ---------------------------------------------------------------- charts and CSV


def test_plates_per_hour_top_plates_and_people(store: Store) -> None:
    # given plates over two hours and people counts (one minute reported twice: upsert)
    for minute, camera, text in [(0, "gate", "AA11AAA"), (10, "gate", "AA11AAA"), (20, "yard", "BB22BBB"),
                                 (70, "gate", "AA11AAA"), (80, "gate", "CC33CCC")]:  # fmt: skip
        store.add_plate_event(plate_event(minute, camera, text))
    store.add_people_count(PeopleCount("gate", T0, 2, 1.0, 10))
    store.add_people_count(PeopleCount("gate", T0, 5, 2.0, 20))
    store.add_people_count(PeopleCount("gate", T0 + timedelta(minutes=1), 3, 3.0, 20))
    store.add_people_count(PeopleCount("yard", T0 + timedelta(minutes=61), 1, 0.5, 20))
    assert store.flush()
    # when the charts are queried
    hours = [(h.hour, h.camera, h.plates) for h in store.plates_per_hour()]
    top = [(t.text, t.plates) for t in store.top_plates(limit=2)]
    people = [(p.start, p.camera, p.max_count, p.mean_count) for p in store.people_over_time()]
    gate_only = store.plates_per_hour(PlateFilter(camera="gate", since=T0 + timedelta(minutes=30)))
    gate_people = store.people_over_time(PlateFilter(camera="gate"), bucket_minutes=1)
    # (people counts have no plate text or confidence: a page's whole plate filter may be passed)
    page_filter = PlateFilter(q="AA11AAA", camera="gate", min_conf=0.99, watchlist_only=True)
    # then they count per hour and camera, most frequent first, with upserted minutes
    assert hours == [(T0, "gate", 2), (T0, "yard", 1), (T0 + timedelta(hours=1), "gate", 2)]
    assert top == [("AA11AAA", 3), ("CC33CCC", 1)]
    assert people == [(T0, "gate", 5, 2.5), (T0 + timedelta(hours=1), "yard", 1, 0.5)]
    assert [(h.hour, h.plates) for h in gate_only] == [(T0 + timedelta(hours=1), 2)]
    assert [p.mean_count for p in gate_people] == [2.0, 3.0]
    assert store.people_over_time(page_filter, bucket_minutes=1) == gate_people
    # and the cameras with plates from an hour on are named once each (the page's camera list)
    assert store.cameras_since(T0) == ["gate", "yard"]
    assert store.cameras_since(T0 + timedelta(minutes=30)) == ["gate", "yard"]  # the hour it falls in
    assert store.cameras_since(T0 + timedelta(hours=1)) == ["gate"]
    assert store.cameras_since(T0 + timedelta(hours=2)) == []


def test_csv_export_is_exactly_the_filtered_rows(filled: Store) -> None:
    # when exporting the gate camera's events of at least 0.7 confidence
    chunks = list(filled.iter_plates_csv(PlateFilter(camera="gate", min_conf=0.7), chunk_rows=2))
    # then the text is exactly the header and those rows, newest first
    ids = {r.text: r.id for r in filled.search_plates(PlateFilter(camera="gate"))}
    assert "".join(chunks) == (
        "id,first_seen,last_seen,camera,text,confidence,reads,ocr_calls,watchlist,box,"
        "original_text,confirmed,reviewed_by,probable,unsure\n"
        f"{ids['LS16EBC']},2024-05-01T12:19:57+00:00,2024-05-01T12:20:00+00:00,gate,LS16EBC,0.900,3,4,,10 20 130 50,"
        "LS16EBC,no,,,no\n"
        f"{ids['XY99ZZZ']},2024-05-01T12:09:57+00:00,2024-05-01T12:10:00+00:00,gate,XY99ZZZ,0.800,3,4,,10 20 130 50,"
        "XY99ZZZ,no,,,no\n"
        f"{ids['LS15EBC']},2024-05-01T11:59:57+00:00,2024-05-01T12:00:00+00:00,gate,LS15EBC,0.950,3,4,stolen,10 20 130 50,"
        "LS15EBC,no,,,no\n"
    )
    assert len(chunks) >= 2  # streamed in pieces, not built whole


def test_csv_export_of_nothing_is_just_the_header(filled: Store) -> None:
    assert "".join(filled.iter_plates_csv(PlateFilter(q="MM77MMM"))) == (
        "id,first_seen,last_seen,camera,text,confidence,reads,ocr_calls,watchlist,box,"
        "original_text,confirmed,reviewed_by,probable,unsure\n"
    )


# ---------------------------------------------------------------- watchlist and settings


@pytest.mark.parametrize(
    ("read", "expected"),
    [
        ("LS15EBC", "stolen"),
        ("LS15E8C", "stolen"),  # look-alike: free
        ("LS15EBX", "stolen"),  # one edit for seven characters
        ("ls-15 ebc", "stolen"),
        ("LS15EXX", None),  # two edits
        ("AB1234", "exact only"),
        ("AB1235", None),  # the entry allows no edits
        ("A81234", "exact only"),  # ...but look-alikes are still free
        ("", None),
    ],
)
def test_watchlist_match(store: Store, read: str, expected: str | None) -> None:
    # given two entries, one with the default budget and one exact
    store.add_watchlist("LS15EBC", "stolen")
    store.add_watchlist("AB1234", "exact only", max_distance=0)
    # then reads match by each entry's allowed distance
    assert store.watchlist_match(read) == expected


def test_watchlist_crud_survives_a_restart(database_url: str) -> None:
    # given entries added, changed and removed
    with Store(database_url) as s:
        first = s.add_watchlist("ab 12 cde", "red car")
        second = s.add_watchlist("XY99ZZZ", "visitor", max_distance=2)
        changed = s.update_watchlist(first.id, label="blue car", max_distance=0)
        assert s.remove_watchlist(second.id)
        assert not s.remove_watchlist(second.id)
        assert s.update_watchlist(9999, label="x") is None
        with pytest.raises(ValueError, match="no letters or digits"):
            s.add_watchlist("--", "x")
    # when the store reopens
    with Store(database_url) as s:
        entries = s.list_watchlist()
    # then only the changed first entry is there
    assert first.plate == "AB12CDE" and first.max_distance == 1
    assert changed is not None and (changed.label, changed.max_distance) == ("blue car", 0)
    assert [(e.plate, e.label, e.max_distance) for e in entries] == [("AB12CDE", "blue car", 0)]


def test_settings_and_tuning_persist_across_restarts(database_url: str) -> None:
    # given settings saved by one run
    with Store(database_url) as s:
        s.set_setting("layout", {"columns": 2, "cams": ["gate"]})
        s.set_setting("layout", {"columns": 3, "cams": ["gate"]})
        TuningBook(Tuning(), s).set(Tuning(plate_conf=0.45, ocr_engine="easyocr"))
    # when the next run reads them
    with Store(database_url) as s:
        layout, missing = s.get_setting("layout"), s.get_setting("nope", 7)
        tuning = TuningBook(Tuning(), s).load([]).global_tuning
    # then they are as last saved
    assert layout == {"columns": 3, "cams": ["gate"]}
    assert missing == 7
    assert tuning == Tuning(plate_conf=0.45, ocr_engine="easyocr")


# ---------------------------------------------------------------- durability: bounds, poison, passes


def test_queue_is_bounded_in_bytes_and_drops_are_logged_once_per_burst(
    database_url: str, no_thread_leak: None, caplog: pytest.LogCaptureFixture
) -> None:
    # given a store whose writer has not started, with room for 1 MB of JPEGs
    s = Store(database_url, queue_max_bytes=1_000_000)
    try:
        snapshot = b"\xff\xd8" + os.urandom(300_000)
        # when six 300 kB events arrive, then a small one (still dropped: the burst goes on) ...
        with caplog.at_level("WARNING", logger="issc.store.writer"):
            for i in range(6):
                s.add_plate_event(plate_event(i, text=f"BY{i:03d}TE", snapshot_jpeg=snapshot))
            full = s.status()
            s.start()
            assert s.flush()
            # ... and one more after the writer made room
            s.add_plate_event(plate_event(9, text="AFTER1A"))
            assert s.flush()
        # then three fitted, three were dropped and counted, and the log has one line per burst
        assert (full.buffered, full.dropped) == (3, 3)
        assert full.queued_bytes >= 900_000
        assert s.count_plates() == 4
        assert s.status().queued_bytes == 0
        lines = [r.getMessage() for r in caplog.records]
        assert sum("queue full" in line for line in lines) == 1
        assert any("3 dropped meanwhile" in line for line in lines)
    finally:
        s.close()


def test_a_poison_record_is_set_aside_and_the_rest_is_written(store: Store) -> None:
    # given a batch with records that the database refuses (NOT NULL camera) among good ones
    poison = plate_event(1, camera=None, text="POISON1")  # type: ignore[arg-type]
    store.add_plate_event(plate_event(0, text="GOOD1AA"))
    store.add_plate_event(poison)
    store.add_plate_event(plate_event(2, text="GOOD2BB"))
    store.add_people_count(PeopleCount("gate", T0, None, 1.0, 5))  # type: ignore[arg-type]
    # when the writer takes them
    assert store.flush(timeout=5)
    # then the good ones are written, the poison ones are set aside, and the writer keeps going
    assert sorted(texts(store.search_plates())) == ["GOOD1AA", "GOOD2BB"]
    status = store.status()
    assert status.ok and (status.poisoned, status.written) == (2, 2)
    letters = store.dead_letters()
    assert [d.kind for d in letters] == ["PlateEvent", "PeopleCount"]
    assert "POISON1" in letters[0].record and letters[0].error
    store.add_plate_event(plate_event(3, text="GOOD3CC"))
    assert store.flush()
    assert store.count_plates() == 3


def test_a_pass_written_early_is_replaced_by_its_final_event(store: Store) -> None:

    # given the provisional event of a pass still in view, written at once ...
    early = PlateEvent(
        camera="gate",
        first_seen=T0,
        last_seen=T0 + timedelta(seconds=1),
        text="LS15E8C",
        confidence=0.7,
        reads=2,
        box=(1, 2, 3, 4),
        crop_jpeg=b"\xff\xd8early",
        pass_key="pass-1",
    )
    store.save_provisional(early)
    assert store.flush()
    assert texts(store.search_plates()) == ["LS15E8C"]
    # when the pass ends an hour-boundary later with a better read
    final = PlateEvent(
        camera="gate",
        first_seen=T0,
        last_seen=T0 + timedelta(minutes=61),
        text="LS15EBC",
        confidence=0.95,
        reads=5,
        box=(5, 6, 7, 8),
        crop_jpeg=b"\xff\xd8final",
        snapshot_jpeg=b"\xff\xd8snap",
        pass_key="pass-1",
    )
    store.add_plate_event(final)
    assert store.flush()
    # then one event holds the final read and images, and the hourly roll-up counts it once
    rows = store.search_plates()
    assert [(r.text, r.reads, r.has_snapshot) for r in rows] == [("LS15EBC", 5, True)]
    assert store.plate_image(rows[0].id, "crop") == b"\xff\xd8final"
    assert [(h.hour, h.plates) for h in store.plates_per_hour()] == [(T0 + timedelta(hours=1), 1)]
    assert store.search_plates(PlateFilter(q="LS15EBC"))[0].id == rows[0].id


def test_provisional_events_get_the_watchlist_label(store: Store) -> None:

    store.add_watchlist("LS15EBC", "stolen")
    store.save_provisional(
        PlateEvent(
            camera="gate",
            first_seen=T0,
            last_seen=T0,
            text="LS15EBC",
            confidence=0.9,
            reads=2,
            box=(1, 2, 3, 4),
            pass_key="pass-2",
        )
    )
    assert store.flush()
    assert store.search_plates()[0].watchlist == "stolen"


def test_a_postgresql_server_that_never_answers_fails_within_the_connect_timeout(
    no_thread_leak: None,
) -> None:
    import socket

    from issc.store.database import PG_CONNECT_TIMEOUT_S

    # given a port that accepts TCP connections but never speaks (a hung server)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        # when a store opens a PostgreSQL URL there
        started = time.monotonic()
        with pytest.raises(sa.exc.OperationalError, match="timeout"):
            Store(f"postgresql+psycopg://u:p@127.0.0.1:{port}/db")
        # then it fails after the connect timeout ("timeout" above) instead of hanging
        assert time.monotonic() - started < 10 * PG_CONNECT_TIMEOUT_S


def test_postgresql_connections_carry_a_statement_timeout(
    empty_postgres_url: str, no_thread_leak: None
) -> None:
    with Store(empty_postgres_url) as s, s.engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "30s"


def test_health_json_reports_the_store_and_each_camera(tmp_path: Path, no_thread_leak: None) -> None:
    from issc.config import load_settings
    from issc.health import health_json
    from issc.service import Service

    # given a running service with a demo camera and a history store
    settings = load_settings(cameras="demo", detector="none", database_url=f"sqlite:///{tmp_path}/issc.db")
    service = Service.build(settings).start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and health_json(service)["cameras"][0]["state"] != "online":
            time.sleep(0.1)
        healthy = health_json(service)
        # when the database turns read-only and a record waits to be written
        sa.event.listen(service.store.engine, "connect", _read_only)
        service.store.engine.dispose()
        service.store.add_plate_event(plate_event(0))
        time.sleep(0.5)
        failing = health_json(service)
        sa.event.remove(service.store.engine, "connect", _read_only)
    finally:
        service.stop()
    # then health said first that all is well, then what is wrong with the store
    assert healthy["ok"] and healthy["store"]["ok"] and healthy["store"]["queue_depth"] == 0
    assert [c["state"] for c in healthy["cameras"]] == ["online"]
    assert not failing["ok"] and not failing["store"]["ok"]
    assert "readonly" in failing["store"]["message"] and failing["store"]["queue_depth"] == 1
    assert set(failing["store"]) >= {"queue_bytes", "dropped", "poisoned", "written", "retention"}
