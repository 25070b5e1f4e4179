"""Migrations of the history store (Alembic revisions): fresh databases, databases from before Alembic
(the committed ``fixtures/history_v4.sqlite`` and simulated versions 1-4), downgrades and the command
line. SQLite and PostgreSQL (the ``postgres`` fixture, see test_store.py)."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from test_store import T0, plate_event

from issc.errors import ISSCError
from issc.store import PlateFilter, Store, create_engine, head_revision
from issc.store import __main__ as store_cli
from issc.store import migrate as store_migrate
from issc.store import schema as store_schema
from issc.store.keys import PlateKeys
from issc.store.migrate import LEGACY_REVISIONS, alembic_config, current_revision, migrate

#: Made by the last build before Alembic (commit 6a3f7fa, schema_version 4) with 512-byte pages:
#: six plate events over three hours (three with images), three people counts, two watchlist entries
#: and three settings (see the test below for the exact rows).
V4_FILE = Path(__file__).parent / "fixtures" / "history_v4.sqlite"
VERSION_TABLES = {"schema_version", "alembic_version", "sqlite_autoindex_alembic_version_1"}
HOUR = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/issc.db"
    return request.getfixturevalue("empty_postgres_url")


@pytest.fixture
def v4_copy(tmp_path: Path) -> Path:
    """A writable copy of the database the pre-Alembic build left at schema version 4."""
    path = tmp_path / "history_v4.sqlite"
    shutil.copyfile(V4_FILE, path)
    return path


def sqlite_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (version tables left out), in a stable order."""
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            name: sorted(conn.execute(f"SELECT * FROM {name}").fetchall(), key=repr)
            for name in names
            if name not in VERSION_TABLES
        }
    finally:
        conn.close()


def sqlite_schema(path: Path) -> dict[str, str | None]:
    """``CREATE`` statement of every table, index and trigger (version tables left out), by name."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT name, sql FROM sqlite_master").fetchall()
    finally:
        conn.close()
    return {name: sql for name, sql in rows if name not in VERSION_TABLES}


def make_legacy(url: str, version: int) -> None:
    """A database as the pre-Alembic build left it at ``version``, holding one event from a v1 build."""
    engine = create_engine(url)
    migrate(engine, LEGACY_REVISIONS[1])
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO plate_events (camera, first_seen_ms, last_seen_ms, text, confidence, reads, box,"
                " ocr_calls, watchlist, has_crop, has_snapshot)"
                " VALUES ('gate', 1714564797000, 1714564800000, 'LS15EBC', 0.9, 3, '1,2,3,4', 4, NULL,"
                " false, false)"
            )
        )
    migrate(engine, LEGACY_REVISIONS[version])
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE alembic_version"))
        conn.execute(sa.text("CREATE TABLE schema_version (version INTEGER NOT NULL)"))
        conn.execute(sa.text("INSERT INTO schema_version (version) VALUES (:v)"), {"v": version})
    engine.dispose()


def test_fresh_database_goes_to_head_with_every_table_the_queries_use(database_url: str) -> None:
    # given an empty database
    engine = create_engine(database_url)
    try:
        # when it is migrated twice (the second time must change nothing)
        first, second = migrate(engine), migrate(engine)
        inspector = sa.inspect(engine)
        # then it is at the latest revision, with the query-side tables and the substring index
        assert first == second == head_revision()
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
            assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
        assert not inspector.has_table("schema_version")
        for table in store_schema.metadata.sorted_tables:
            reflected = {c["name"] for c in inspector.get_columns(table.name)}
            assert reflected == set(table.columns.keys()), table.name
        expected_index = "fts5" if engine.dialect.name == "sqlite" else "pg_trgm"
        assert PlateKeys.detect(engine).substring_index == expected_index
    finally:
        engine.dispose()


def test_processes_starting_at_once_take_turns(database_url: str) -> None:
    # given four engines (like four processes) that open the same empty database at the same moment
    engines = [create_engine(database_url) for _ in range(4)]
    start = threading.Barrier(len(engines))

    def open_database(engine: sa.Engine) -> str:
        start.wait()
        return migrate(engine)

    # when all of them migrate it
    try:
        with ThreadPoolExecutor(len(engines)) as pool:
            revisions = list(pool.map(open_database, engines))
    finally:
        for engine in engines:
            engine.dispose()
    # then none failed ("database is locked") and the database was built once
    assert revisions == [head_revision()] * len(engines)


def test_fresh_sqlite_schema_is_exactly_the_schema_before_alembic(tmp_path: Path) -> None:
    # given a database built by the revisions up to 0004, and the v4 file built by the old migrations
    engine = create_engine(f"sqlite:///{tmp_path}/fresh.db")
    migrate(engine, target="0004")
    engine.dispose()
    # then every table, index and the FTS table have the same CREATE statement
    assert sqlite_schema(tmp_path / "fresh.db") == sqlite_schema(V4_FILE)


def test_v4_database_upgrades_in_place_keeping_every_row(v4_copy: Path, no_thread_leak: None) -> None:
    # given the file the pre-Alembic build left at schema version 4
    before = sqlite_rows(v4_copy)
    assert len(before["plate_events"]) == 6 and len(before["plate_images"]) == 3
    # when the store opens it
    with Store(f"sqlite:///{v4_copy}", flush_interval_s=0.1) as store:
        # then it is at the latest revision, the old version table is gone, and every row is there
        assert store.schema_revision == head_revision()
        assert not sa.inspect(store.engine).has_table("schema_version")
        after = sqlite_rows(v4_copy)  # later revisions add tables and append columns
        widths = {table: len(rows[0]) if rows else 0 for table, rows in before.items()}
        assert {table: [row[: widths[table]] for row in after[table]] for table in before} == before
        # and every kind of query reads the old rows
        fuzzy = store.search_plates(PlateFilter(q="LS15E8C"))
        assert [(r.text, r.camera) for r in fuzzy] == [
            ("LS16EBC", "gate"),
            ("LS15EBC", "yard"),
            ("LS15EBC", "gate"),
        ]
        assert [r.text for r in store.search_plates(PlateFilter(q="15E"))] == ["LS15EBC", "LS15EBC"]
        assert store.count_plates(PlateFilter(watchlist_only=True)) == 2
        first = fuzzy[-1]
        assert store.plate_image(first.id, "crop") == b"\xff\xd8crop-1"
        assert store.plate_image(first.id, "snapshot") == b"\xff\xd8snap-1"
        assert [(h.hour, h.camera, h.plates) for h in store.plates_per_hour()] == [
            (HOUR, "gate", 2),
            (HOUR, "yard", 1),
            (HOUR + timedelta(hours=1), "gate", 1),
            (HOUR + timedelta(hours=1), "yard", 1),
            (HOUR + timedelta(hours=2), "dock", 1),
        ]
        assert [(t.text, t.plates) for t in store.top_plates(limit=1)] == [("LS15EBC", 2)]
        people = [(p.camera, p.max_count, p.mean_count) for p in store.people_over_time()]
        assert people == [("gate", 5, 2.5), ("yard", 1, 0.5)]
        assert [(e.plate, e.label, e.max_distance) for e in store.list_watchlist()] == [
            ("LS15EBC", "stolen", 1),
            ("AB1234", "exact only", 0),
        ]
        assert store.watchlist_match("LS15E8X") == "stolen"
        assert store.get_setting("layout") == {"columns": 3, "cams": ["gate"]}
        assert store.get_setting("tuning")["plate_conf"] == 0.45
        assert store.get_setting("tuning.camera.gate") == {"plate_conf": 0.6}
        # and new events are written and found next to the old ones
        store.add_plate_event(plate_event(180, "dock", "LS15EBX"))
        assert store.flush()
        assert [r.text for r in store.search_plates(PlateFilter(q="15EB"))] == [
            "LS15EBX",
            "LS15EBC",
            "LS15EBC",
        ]


@pytest.mark.parametrize("version", sorted(LEGACY_REVISIONS))
def test_databases_from_before_alembic_are_adopted(database_url: str, version: int) -> None:
    # given a database the pre-Alembic build left at schema version 1..4, holding a v1 event
    make_legacy(database_url, version)
    # when the store opens it
    with Store(database_url) as store:
        # then it is at the latest revision, and the event has its fold key and hourly count
        assert store.schema_revision == head_revision()
        assert not sa.inspect(store.engine).has_table("schema_version")
        assert [r.text for r in store.search_plates(PlateFilter(q="LS15E8C"))] == ["LS15EBC"]
        assert [r.text for r in store.search_plates(PlateFilter(q="15E"))] == ["LS15EBC"]
        assert [(h.hour, h.plates) for h in store.plates_per_hour()] == [(T0, 1)]


def test_a_newer_schema_version_is_refused(tmp_path: Path) -> None:
    # given a database from before Alembic at a version this build does not know
    url = f"sqlite:///{tmp_path}/future.db"
    make_legacy(url, 4)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE schema_version SET version = 5"))
    # then migrating says so and leaves it alone
    with pytest.raises(ISSCError, match="schema version 5, newer than this build knows"):
        migrate(engine)
    assert sa.inspect(engine).has_table("schema_version")
    engine.dispose()


def test_downgrade_to_nothing_and_up_again(database_url: str) -> None:
    # given a database at the latest revision
    engine = create_engine(database_url)
    migrate(engine)
    # when every revision is undone
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    left = set(sa.inspect(engine).get_table_names())
    # then only Alembic's own table is left, and upgrading rebuilds everything
    assert left == {"alembic_version"}
    assert migrate(engine) == head_revision()
    engine.dispose()


def test_command_line_shows_and_upgrades_an_old_database(
    v4_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{v4_copy}"
    assert store_cli.main(["--database-url", url, "--show"]) == 0
    assert "schema version 4 (before Alembic" in capsys.readouterr().out
    assert store_cli.main(["--database-url", url]) == 0
    head = head_revision()
    assert f"{url}: revision {head} (latest: revision {head})" in capsys.readouterr().out


def test_command_line_starts_the_next_numbered_revision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a copy of the migrations folder
    folder = tmp_path / "migrations"
    shutil.copytree(store_migrate.MIGRATIONS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(store_migrate, "MIGRATIONS_DIR", folder)
    store_migrate.head_revision.cache_clear()
    try:
        head = store_migrate.head_revision()
        following = f"{int(head) + 1:04d}"
        # when a revision is started
        assert store_cli.main(["revision", "-m", "add plate colour"]) == 0
        # then it is the next number, follows the latest and is the new head
        created = folder / "versions" / f"{following}_add_plate_colour.py"
        assert str(created) in capsys.readouterr().out
        text = created.read_text()
        assert f'revision = "{following}"' in text and f'down_revision = "{head}"' in text
        store_migrate.head_revision.cache_clear()
        assert store_migrate.head_revision() == following
    finally:
        store_migrate.head_revision.cache_clear()
