"""Retention of the history on real databases: SQLite files always, and PostgreSQL (the ``postgres``
fixture; the tests drop and recreate the store's tables in its database).

Events are written through the writer with last-seen times relative to a fixed clock, then one purge
runs (``store.purger.purge()``, what the background thread runs hourly) and the tables are read back.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from issc.store import PlateFilter, Store
from issc.types import PlateEvent

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/issc.db"
    return request.getfixturevalue("empty_postgres_url")


def event(days_ago: float, text: str = "AB12CDE", camera: str = "gate", image_kb: int = 2) -> PlateEvent:
    last = NOW - timedelta(days=days_ago)
    return PlateEvent(
        camera=camera,
        first_seen=last - timedelta(seconds=3),
        last_seen=last,
        text=text,
        confidence=0.9,
        reads=3,
        box=(1, 2, 3, 4),
        crop_jpeg=b"\xff\xd8crop" + os.urandom(image_kb * 100),
        snapshot_jpeg=b"\xff\xd8snap" + os.urandom(image_kb * 1000),
    )


def open_store(url: str, **retention: Any) -> Store:
    store = Store(url, flush_interval_s=0.1, purge_first_after_s=3600, **retention)
    store.purger.clock = NOW.timestamp
    return store.start()


@pytest.fixture
def write(database_url: str) -> Iterator[Any]:
    """Opens a store with the given retention, writes events into it and returns it (closed after)."""
    opened: list[Store] = []

    def make(events: list[PlateEvent], **retention: Any) -> Store:
        store = open_store(database_url, **retention)
        opened.append(store)
        for e in events:
            store.add_plate_event(e)
        assert store.flush(timeout=60), store.status()  # given: generous on a loaded machine
        return store

    yield make
    for store in opened:
        store.close()


def file_size(store: Store, path: Path) -> int:
    """The SQLite file's size once its write-ahead log is written back."""
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    return path.stat().st_size


def hour_totals(store: Store) -> dict[tuple[str, datetime], int]:
    return {(h.camera, h.hour): h.plates for h in store.plates_per_hour()}


def hour_counts_from_events(store: Store) -> dict[tuple[str, datetime], int]:
    counts: dict[tuple[str, datetime], int] = {}
    for row in store.search_plates(limit=10_000):
        hour = row.last_seen.replace(minute=0, second=0, microsecond=0)
        counts[(row.camera, hour)] = counts.get((row.camera, hour), 0) + 1
    return counts


def test_old_events_go_with_their_images_and_the_rollup_follows(write: Any) -> None:
    # given events 40, 35, 29 and 1 days old, two cameras, and 30 days of retention
    events = [event(40, "OLD1AAA"), event(35, "OLD2BBB", "yard"), event(29, "KEEP1CC"), event(1, "KEEP2DD")]
    store = write(events, retention_days=30, snapshot_retention_days=0)
    old_ids = [r.id for r in store.search_plates() if r.text.startswith("OLD")]
    # when the purge runs
    result = store.purger.purge()
    # then the two old events, their images, their roll-up hours and their fold keys are gone
    assert result.events == 2
    assert sorted(r.text for r in store.search_plates()) == ["KEEP1CC", "KEEP2DD"]
    assert all(store.plate_image(i, "crop") is None for i in old_ids)
    assert hour_totals(store) == hour_counts_from_events(store)
    assert store.search_plates(PlateFilter(q="OLD1AAA")) == []
    with store.engine.connect() as conn:
        keys = set(conn.execute(sa.text("SELECT fold_key FROM plate_keys")).scalars())
    assert len(keys) == 2
    assert "deleted 2 events" in store.status().retention


def test_snapshots_go_sooner_and_crops_stay(write: Any) -> None:
    # given events 10 and 2 days old, snapshots kept 7 days, events 30
    store = write([event(10, "AA10AAA"), event(2, "BB02BBB")], retention_days=30, snapshot_retention_days=7)
    rows = {r.text: r for r in store.search_plates()}
    crop = store.plate_image(rows["AA10AAA"].id, "crop")
    # when the purge runs
    result = store.purger.purge()
    # then the old event lost its snapshot only; the recent one kept both
    assert (result.events, result.snapshots) == (0, 1)
    old = store.get_plate(rows["AA10AAA"].id)
    assert old is not None and not old.has_snapshot and old.has_crop
    assert store.plate_image(old.id, "snapshot") is None
    assert store.plate_image(old.id, "crop") == crop
    assert store.plate_image(rows["BB02BBB"].id, "snapshot") is not None


def test_zero_keeps_everything(write: Any) -> None:
    # given events up to ten years old and retention switched off
    store = write([event(3650), event(400), event(9)], retention_days=0, snapshot_retention_days=0)
    # when the purge runs, then nothing is deleted, and no purge thread was started
    assert store.purger.purge().events == 0
    assert store.count_plates() == 3
    assert store.purger._thread is None


def test_size_cap_deletes_the_oldest_first(write: Any) -> None:
    # given 40 events of about 100 kB each (about 4 MB), and a cap of 1.5 MB
    events = [event(40 - i, f"CAP{i:02d}AA", image_kb=100) for i in range(40)]
    store = write(events, retention_days=0, snapshot_retention_days=0, retention_max_gb=0.0015)
    # when the purge runs
    result = store.purger.purge()
    # then the oldest went until the history fits, the newest stayed, and the roll-up follows
    remaining = [r.text for r in store.search_plates(limit=100)]
    assert 0 < len(remaining) < 40 and result.events == 40 - len(remaining)
    assert remaining == [f"CAP{i:02d}AA" for i in range(39, 39 - len(remaining), -1)]
    assert store.purger.history_bytes() <= 1_500_000 * 1.2
    assert hour_totals(store) == hour_counts_from_events(store)


def test_size_cap_counts_only_what_it_can_purge(write: Any) -> None:
    # given 10 events of about 100 kB (about 1 MB) and 3 MB in a table the purge never touches
    events = [event(10 - i, f"OWN{i:02d}AA", image_kb=100) for i in range(10)]
    store = write(events, retention_days=0, snapshot_retention_days=0, retention_max_gb=0.0015)
    with store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO settings (key, value) VALUES ('bulk', :v)"), {"v": "x" * 3_000_000})
    # when the purge runs with a cap of 1.5 MB
    result = store.purger.purge()
    # then no event goes: the events alone fit (before, the whole file counted and every purge
    # deleted a share of all events, new ones included)
    assert result.events == 0 and store.count_plates() == 10
    assert store.purger.history_bytes() < 1_500_000


def test_size_cap_never_deletes_events_of_the_last_day(write: Any) -> None:
    # given 10 events of about 100 kB from 5 days ago and 10 from the last hours, and a cap of 0.5 MB
    old = [event(5 + i / 100, f"OLD{i:02d}AA", image_kb=100) for i in range(10)]
    new = [event((i + 1) / 24 / 2, f"NEW{i:02d}AA", image_kb=100) for i in range(10)]
    store = write(old + new, retention_days=0, snapshot_retention_days=0, retention_max_gb=0.0005)
    # when the purge runs (RETENTION_MIN_KEEP_H at its default, 24 h)
    result = store.purger.purge()
    # then every old event went, every event of the last 24 h stayed, and the status says why
    remaining = sorted(r.text for r in store.search_plates(limit=100))
    assert remaining == sorted(e.text for e in new) and result.events == 10
    assert result.cap_unmet_h == 24 and "RETENTION_MIN_KEEP_H" in store.status().retention
    assert hour_totals(store) == hour_counts_from_events(store)


def test_min_keep_hours_can_be_lowered(write: Any) -> None:
    events = [event((i + 1) / 24, f"HRS{i:02d}AA", image_kb=100) for i in range(6)]  # 1..6 h old
    store = write(
        events, retention_days=0, snapshot_retention_days=0, retention_max_gb=0.0002, retention_min_keep_h=3.5
    )
    store.purger.purge()
    assert sorted(r.text for r in store.search_plates()) == ["HRS00AA", "HRS01AA", "HRS02AA"]


def test_sqlite_gives_space_back(tmp_path: Path) -> None:
    # given a new SQLite file (incremental auto-vacuum) holding about 6 MB of old images
    url = f"sqlite:///{tmp_path}/issc.db"
    store = open_store(url, retention_days=30)
    try:
        for i in range(60):
            store.add_plate_event(event(60 - i * 0.1, f"BIG{i:02d}AA", image_kb=100))
        assert store.flush()
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 2  # incremental
        before = file_size(store, tmp_path / "issc.db")
        # when the purge deletes them
        result = store.purger.purge()
        # then the file shrank
        assert result.events == 60 and result.freed_pages > 0
        after = (tmp_path / "issc.db").stat().st_size
        assert after < before / 3
    finally:
        store.close()


def test_an_old_sqlite_file_without_auto_vacuum_is_vacuumed_once(tmp_path: Path) -> None:
    # given a SQLite file made before incremental auto-vacuum (auto_vacuum = NONE), with old events
    path = tmp_path / "old.db"
    sa.create_engine(f"sqlite:///{path}").connect().exec_driver_sql("PRAGMA auto_vacuum = NONE").close()
    raw = sa.create_engine(f"sqlite:///{path}").raw_connection()
    raw.cursor().execute("CREATE TABLE t (x)")  # a table fixes the mode
    raw.commit()
    raw.close()
    store = open_store(f"sqlite:///{path}", retention_days=30)
    try:
        for i in range(30):
            store.add_plate_event(event(50, f"OLD{i:02d}AA", image_kb=100))
        store.add_plate_event(event(1, "NEW01AA"))
        assert store.flush()
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 0
        before = file_size(store, path)
        # when the purge frees most of the file
        result = store.purger.purge()
        # then one VACUUM gave the space back and switched the file to incremental auto-vacuum
        assert result.vacuumed
        assert path.stat().st_size < before / 3
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 2
        assert [r.text for r in store.search_plates()] == ["NEW01AA"]
    finally:
        store.close()


def test_background_purge_runs_soon_after_start_and_stops_with_the_store(
    database_url: str, no_thread_leak: None
) -> None:
    # given a store with old events and a purge due 0.3 s after start
    store = Store(database_url, flush_interval_s=0.1, retention_days=30, purge_first_after_s=0.3)
    store.purger.clock = NOW.timestamp
    store.start()
    try:
        store.add_plate_event(event(100))
        store.add_plate_event(event(1))
        assert store.flush()
        # when a moment passes
        deadline = time.monotonic() + 5
        while store.count_plates() > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        # then the background thread purged the old event
        assert store.count_plates() == 1
    finally:
        store.close()


def test_writer_keeps_writing_while_a_purge_runs(write: Any) -> None:
    # given 1000 old events
    store = write([event(90, f"OLD{i:03d}A", image_kb=1) for i in range(1000)], retention_days=30)
    # when new events are written during the purge
    import threading

    purged: list[Any] = []
    purge = threading.Thread(target=lambda: purged.append(store.purger.purge()))
    purge.start()
    for i in range(20):
        store.add_plate_event(event(0.01, f"NEW{i:02d}AA"))
        time.sleep(0.01)
    assert store.flush(timeout=60), store.status()
    purge.join(60)
    # then the writer kept writing (nothing dropped or set aside), the purge took every old event
    # and only the new ones remain (how long the writer waits per batch is bench material)
    status = store.status()
    assert status.ok and status.dropped == 0 and status.poisoned == 0, status
    assert not purge.is_alive() and purged[0].events == 1000, purged
    assert store.count_plates() == 20


@pytest.mark.parametrize(
    ("key", "value"),
    [("RETENTION_DAYS", "-1"), ("SNAPSHOT_RETENTION_DAYS", "-2"), ("RETENTION_MAX_GB", "-0.5")],
)
def test_bad_retention_settings_name_the_key(monkeypatch: pytest.MonkeyPatch, key: str, value: str) -> None:
    from issc.config import load_settings
    from issc.errors import ConfigError

    monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=key):
        load_settings()


def test_service_passes_the_retention_settings_to_the_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from issc.config import load_settings
    from issc.service import open_history

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/issc.db")
    monkeypatch.setenv("RETENTION_DAYS", "12")
    monkeypatch.setenv("RETENTION_MAX_GB", "2.5")
    store = open_history(load_settings())
    try:
        assert (store.purger.policy.days, store.purger.policy.max_gb, store.purger.policy.snapshot_days) == (
            12,
            2.5,
            7,
        )
    finally:
        store.close()


def test_one_process_at_a_time_purges_a_shared_postgresql(write: Any, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes share a PostgreSQL history, not a SQLite file")
    from issc.store.retention import PURGE_LOCK_KEY

    store = write([event(40, "OLD1AAA"), event(1, "KEEP2DD")], retention_days=30, snapshot_retention_days=0)
    other = sa.create_engine(database_url)
    try:
        with other.connect() as conn:
            # given another process (a camera worker) purging the shared database right now
            assert conn.execute(sa.text(f"SELECT pg_try_advisory_lock({PURGE_LOCK_KEY})")).scalar()
            # then this store's purge skips its round, and says so
            assert store.purger.purge().events == 0
            assert "another process was purging" in store.status().retention
            assert len(store.search_plates()) == 2
            conn.execute(sa.text(f"SELECT pg_advisory_unlock({PURGE_LOCK_KEY})"))
        # and once it is done, the next round purges
        assert store.purger.purge().events == 1
        assert [r.text for r in store.search_plates()] == ["KEEP2DD"]
    finally:
        other.dispose()
