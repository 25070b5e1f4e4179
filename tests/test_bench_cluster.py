"""The cluster bench at tiny size on real PostgreSQL: every part reports, with sane figures, and
leaves no database, process or row behind.

PostgreSQL comes from the ``postgres`` fixture (``ISSC_TEST_POSTGRES_URL``'s server or a throwaway
cluster, see tests/postgres.py). The refusal of SQLite needs no database.
"""

from __future__ import annotations

import contextlib
import json
import os

import psutil
import pytest
import sqlalchemy as sa

from issc.bench.__main__ import main as bench_main
from issc.bench.cluster import resolve_url
from issc.store.database import drop_database

PARTS = {
    "writer_capacity",
    "pages_during_capacity",
    "live_writes",
    "pages_busy",
    "failover",
    "pages_idle",
    "remote_dashboard",
}


def _bench_databases(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'issc_bench_b%'")
            return set(conn.execute(query).scalars())
    finally:
        engine.dispose()


def _bench_children() -> list[str]:
    """Worker and writer processes still running under this one (multiprocessing's own resource
    tracker stays for the interpreter's life: not the bench's)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            command = " ".join(child.cmdline())
            if "issc.worker" in command or "spawn_main" in command:
                found.append(command)
    return found


@pytest.mark.slow
def test_a_tiny_cluster_run_reports_every_part(capsys: pytest.CaptureFixture[str], postgres_url: str) -> None:
    databases_before = _bench_databases(postgres_url)
    # when the bench runs one worker (and its standby) with one camera for two seconds a phase
    argv = ["cluster", "--workers", "1", "--cameras", "1", "--seconds", "2", "--writers", "1"]
    rc = bench_main(
        [*argv, "--history-rows", "0", "--detector", "none", "--database-url", postgres_url, "--json"]
    )
    # then it prints the table and one JSON object holding every part
    assert rc == 0
    out = capsys.readouterr().out
    assert "failover (kill -9)" in out and "writer capacity" in out
    result = json.loads(out.strip().splitlines()[-1])
    assert result.keys() >= PARTS | {"date", "cpus", "loadavg_before", "workers", "cameras"}
    capacity, failover = result["writer_capacity"], result["failover"]
    assert capacity["passes_per_s"] > 0 and capacity["records_per_s"] >= capacity["passes_per_s"]
    assert 0 < capacity["flush_p50_ms"] <= capacity["flush_p95_ms"]
    assert capacity["dropped"] == 0
    assert 0 < failover["registry_s"] <= failover["first_frame_s"] < 15
    for pages in (result["pages_busy"], result["pages_idle"], result["pages_during_capacity"]):
        assert pages["views"] >= 3 and 0 < pages["page_p50_ms"] <= pages["page_p95_ms"]
        assert pages["registry_live_p95_ms"] > 0
        assert set(pages["calls"]) == {
            "cameras 30d",
            "count",
            "rows (50)",
            "per hour chart",
            "people chart",
            "top plates",
        }
    assert result["pages_idle"]["p95_busy_over_idle"] > 0
    during = result["pages_during_capacity"]
    assert during["views"] >= 3 and during["capacity"]["passes_per_s"] > 0
    live = result["live_writes"]
    assert live["rows_per_camera_minute"] >= 0 and live["workers_cpu_percent"] > 0
    # and the remote dashboard relayed the camera to every viewer over one stream from the worker
    remote = result["remote_dashboard"]
    assert 0 < remote["status_p50_ms"] <= remote["status_p95_ms"] and remote["direct_fps_per_viewer"] > 0
    assert [seen["viewers"] for seen in remote["through_dashboard"]] == [1, 4]
    for seen in remote["through_dashboard"]:
        assert seen["fps_per_viewer"] > 0 and seen["upstream_streams"] == 1
    # and it dropped its own database and left no process running
    assert result["own_database"] is True
    assert _bench_databases(postgres_url) == databases_before
    assert _bench_children() == []


@pytest.mark.parametrize(
    ("given", "env", "refused"),
    [
        ("sqlite:///data/issc.db", {}, "needs PostgreSQL, not sqlite"),
        (None, {"DATABASE_URL": "sqlite:///data/issc.db"}, "needs PostgreSQL: pass --database-url"),
        (None, {}, "needs PostgreSQL: pass --database-url"),
    ],
)
def test_the_bench_refuses_anything_but_postgresql(
    monkeypatch: pytest.MonkeyPatch, given: str | None, env: dict[str, str], refused: str
) -> None:
    monkeypatch.delenv("ISSC_BENCH_DATABASE_URL", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit, match=refused):
        resolve_url(given)


def test_the_bench_takes_its_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    pg = "postgresql+psycopg://u:p@db/issc"
    monkeypatch.setenv("DATABASE_URL", pg)
    monkeypatch.delenv("ISSC_BENCH_DATABASE_URL", raising=False)
    assert resolve_url(None) == pg
    monkeypatch.setenv("ISSC_BENCH_DATABASE_URL", pg + "_bench")
    assert resolve_url(None) == pg + "_bench"


@pytest.mark.slow
def test_the_history_bench_runs_on_postgresql(capsys: pytest.CaptureFixture[str], postgres_url: str) -> None:
    """``bench history`` (the Plates page's queries, CSV export, search) on PostgreSQL, in a database
    of its own so that its rows never mix with another test's."""
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"issc_history_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
        argv = ["history", "--rows", "3000", "--repeats", "2", "--csv-rows", "300", "--distance-repeats", "1"]
        assert bench_main([*argv, "--database-url", url, "--json"]) == 0
        result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert result["rows"] == 3000 and "postgresql" in json.dumps(result).lower()
    finally:
        drop_database(admin, name)  # waits for an autovacuum worker busy in it
        admin.dispose()
