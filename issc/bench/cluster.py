"""cluster: loopback camera workers on one PostgreSQL: write capacity, live rate, page latency, failover.

``python -m issc.bench cluster --workers N --cameras M [--seconds S] [--database-url URL] [--json]``

On one machine, against PostgreSQL (``--database-url``, else ``ISSC_BENCH_DATABASE_URL``, else
``DATABASE_URL`` when it is PostgreSQL; SQLite is refused: workers share the database and take
camera locks in it). The bench works in a database of its own (``issc_bench_<tag>``, dropped at the
end) when the role may create one; otherwise in the given one, deleting its own rows after.

1. **Writer capacity** (:mod:`issc.bench.cluster_writers`): ``--writers`` processes, each a
   :class:`issc.store.Store` (the sink workers write through) fed vehicle passes with crop and
   snapshot for ``S`` seconds: passes/s, records/s, flush latency p50/p95. Then the writers again
   with the Plates page's queries timed meanwhile (the database saturated by writes).
2. **Workers**: ``N`` ``python -m issc.worker`` processes with ``M`` demo cameras dealt over them,
   plus a standby listing worker 1's first camera. While they run for ``S`` seconds, the Plates
   page's queries and ``Registry.live()`` are timed (:mod:`issc.bench.cluster_pages`); the plate
   events the workers wrote meanwhile give the live rate (rows per camera-minute).
3. **Failover** (:mod:`issc.bench.cluster_workers`): ``kill -9`` worker 1; seconds until the
   registry shows the standby running the camera, and until the standby serves it online.
4. **Pages, workers stopped**: the same page views without the workers: the busy/idle ratio.

Further measurements (the remote dashboard's MJPEG proxy overhead and remote-status latency) go in
:data:`WITH_WORKERS`: functions taking the running :class:`Bench` and returning a :class:`Part`,
whose rows join the table and whose data joins the JSON under its key.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil
import sqlalchemy as sa

from issc.bench.cluster_pages import time_pages
from issc.bench.cluster_workers import Cluster, Layout, count_rows, measure_failover
from issc.bench.cluster_writers import IN_FLIGHT, measure_capacity
from issc.bench.common import print_json, print_table
from issc.bench.load import cpu_load
from issc.cluster import Registry
from issc.store import Store
from issc.store.database import drop_database


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``cluster`` command."""
    parser.add_argument("--workers", type=int, default=2, help="camera workers (default 2)")
    parser.add_argument("--cameras", type=int, default=4, help="demo cameras dealt over them (default 4)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each timed phase (default 30)")
    parser.add_argument(
        "--database-url",
        help="PostgreSQL URL (default ISSC_BENCH_DATABASE_URL, then DATABASE_URL if PostgreSQL)",
    )
    parser.add_argument(
        "--writers", type=int, default=2, help="writer processes of the capacity phase (default 2)"
    )
    parser.add_argument(
        "--in-flight",
        type=int,
        default=IN_FLIGHT,
        help=f"records each writer keeps queued (default {IN_FLIGHT})",
    )
    parser.add_argument(
        "--history-rows",
        type=int,
        default=100_000,
        help="plate events filled first (default 100000; own database only)",
    )
    parser.add_argument("--detector", default="local", help="DETECTOR of the workers (default local)")
    parser.add_argument("--load", type=int, default=0, help="cores kept busy by other processes meanwhile")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")


@dataclass(frozen=True)
class Row:
    """One line of the table: a measured figure."""

    part: str
    measure: str
    value: float | int | None
    unit: str
    note: str = ""


@dataclass(frozen=True)
class Part:
    """What one measurement returns: its JSON under ``key``, and its lines of the table."""

    key: str
    data: dict
    rows: list[Row] = field(default_factory=list)


@dataclass
class Bench:
    """What a measurement may use while the workers run."""

    url: str
    store: Store  # not started: queries only
    registry: Registry
    cluster: Cluster
    seconds: float
    tag: str


#: Measurements run while the workers (and the standby) run, after the live window and before the
#: failover; each returns a Part, shown after the built-in ones. The remote dashboard's MJPEG proxy
#: overhead and remote-status latency go here (``Bench.cluster.workers[i].url`` and ``.token`` reach
#: the workers).
def _remote_dashboard(bench: Bench) -> Part:
    """The real dashboard with ENGINE=remote over the workers (:mod:`issc.bench.cluster_proxy`)."""
    from issc.bench.cluster_proxy import measure_proxy

    data = measure_proxy(bench.url, bench.cluster, bench.seconds)
    label = "remote dashboard"
    rows = [
        Row(label, "GET /api/cameras p50", data["status_p50_ms"], "ms", "every worker's cameras"),
        Row(label, "GET /api/cameras p95", data["status_p95_ms"], "ms"),
        Row(label, "dashboard CPU, no viewer", data["dashboard_idle_cpu_pct"], "%", "100 % = one core"),
        Row(label, "fps per viewer, straight from the worker", data["direct_fps_per_viewer"], "1/s"),
    ]
    for seen in data["through_dashboard"]:
        n = seen["viewers"]
        note = f"{seen['upstream_streams']} stream(s) to the worker"
        rows.append(
            Row(
                label, f"fps per viewer, {n} viewer(s) via the dashboard", seen["fps_per_viewer"], "1/s", note
            )
        )
        rows.append(Row(label, f"proxy CPU per viewer, {n} viewer(s)", seen["overhead_pct_per_viewer"], "%"))
    return Part("remote_dashboard", data, rows)


WITH_WORKERS: list[Callable[[Bench], Part]] = [_remote_dashboard]


def resolve_url(given: str | None) -> str:
    """The PostgreSQL URL to use.

    Raises:
        SystemExit: none given, or not PostgreSQL (one sentence saying what to set).
    """
    env_url = os.environ.get("DATABASE_URL", "")
    url = (
        given
        or os.environ.get("ISSC_BENCH_DATABASE_URL")
        or (env_url if env_url.startswith("postgresql") else "")
    )
    if not url:
        raise SystemExit(
            "the cluster bench needs PostgreSQL: pass --database-url postgresql+psycopg://user:pw@host/db "
            "or set ISSC_BENCH_DATABASE_URL"
        )
    backend = sa.make_url(url).get_backend_name()
    if backend != "postgresql":
        raise SystemExit(
            f"the cluster bench needs PostgreSQL, not {backend}: workers share the history and take "
            "camera locks in it; pass --database-url postgresql+psycopg://user:pw@host/db"
        )
    return url


@contextlib.contextmanager
def bench_database(url: str, tag: str) -> Iterator[tuple[str, bool]]:
    """A database of the bench's own (``issc_bench_<tag>``, dropped after), else ``url`` itself.

    Yields:
        The URL to use, and whether it is the bench's own database.
    """
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"issc_bench_{tag}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.DBAPIError as exc:
        print(
            f"cluster: cannot create a database ({str(exc.orig).strip()}): using the given one",
            file=sys.stderr,
        )
        admin.dispose()
        yield url, False
        return
    try:
        yield sa.make_url(url).set(database=name).render_as_string(hide_password=False), True
    finally:
        drop_database(admin, name)  # waits for an autovacuum worker busy in it
        admin.dispose()


def delete_own_rows(engine: sa.Engine, tag: str) -> None:
    """The bench's rows in a shared database: events (images and reads cascade), roll-ups, workers."""
    like = {"p": f"{tag}-%"}
    with engine.begin() as conn:
        for table, column in (
            ("plate_events", "camera"),
            ("plate_hours", "camera"),
            ("people_counts", "camera"),
        ):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE {column} LIKE :p"), like)
        conn.execute(sa.text("DELETE FROM workers WHERE id LIKE :p"), like)


def _capacity_part(data: dict) -> Part:
    note = f"{data['writers']} processes, {data['in_flight']} in flight each; crop {data['crop_bytes']} B, snapshot {data['snapshot_bytes']} B"
    return Part(
        "writer_capacity",
        data,
        [
            Row("writer capacity", "passes/s (provisional + final)", data["passes_per_s"], "1/s", note),
            Row("writer capacity", "records/s", data["records_per_s"], "1/s", f"dropped {data['dropped']}"),
            Row("writer capacity", "flush p50", data["flush_p50_ms"], "ms", "hand-over to commit"),
            Row("writer capacity", "flush p95", data["flush_p95_ms"], "ms"),
        ],
    )


def _pages_rows(label: str, data: dict) -> list[Row]:
    return [
        Row(label, "page view p50", data["page_p50_ms"], "ms", f"{data['views']} views, 6 queries each"),
        Row(label, "page view p95", data["page_p95_ms"], "ms"),
        Row(label, "Registry.live() p50", data["registry_live_p50_ms"], "ms"),
        Row(label, "Registry.live() p95", data["registry_live_p95_ms"], "ms"),
    ]


def _pages_while_writing(
    url: str, store: Store, registry: Registry, writers: int, seconds: float, tag: str, in_flight: int
) -> Part:
    """Page views while the writer processes saturate the database (half a phase, once they write)."""
    pages_s = max(2.0, seconds / 2)

    def pages() -> dict:  # called once every writer writes
        return time_pages(store, registry, pages_s, [])

    data = measure_capacity(url, writers, pages_s + 2, f"{tag}-x", in_flight, meanwhile=pages)
    during = data.pop("meanwhile")
    label = f"pages, {writers} writers saturating"
    rows = _pages_rows(label, during)
    rows.append(
        Row(label, "passes/s meanwhile", data["passes_per_s"], "1/s", "writers with page views running")
    )
    return Part("pages_during_capacity", {**during, "capacity": data}, rows)


def _ratio(busy: float | None, idle: float | None) -> float | None:
    return round(busy / idle, 2) if busy and idle else None


def run(
    url: str,
    workers: int = 2,
    cameras: int = 4,
    seconds: float = 30.0,
    writers: int = 2,
    history_rows: int = 100_000,
    detector: str = "local",
    load: int = 0,
    in_flight: int = IN_FLIGHT,
) -> tuple[dict, list[Row]]:
    """Every phase (see the module); returns the JSON object and the table's rows."""
    tag = f"b{secrets.token_hex(3)}"
    layout = Layout.spread(tag, workers, cameras)
    parts: list[Part] = []
    result: dict = {
        "command": "cluster",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": psutil.cpu_count(),
        "loadavg_before": [round(v, 2) for v in os.getloadavg()],
        "workers": workers,
        "cameras": cameras,
        "seconds": seconds,
        "detector": detector,
        "load": load,
    }
    with (
        bench_database(url, tag) as (db_url, own),
        cpu_load(load),
        tempfile.TemporaryDirectory(prefix="issc-cluster-") as tmp,
    ):
        result["own_database"] = own
        store = Store(db_url, purge_first_after_s=3600.0)  # migrates; never started: queries only
        registry = Registry(store.engine)
        cluster: Cluster | None = None
        try:
            if own and history_rows:
                from issc.bench.history import fill

                result["history_fill_s"] = round(fill(store, history_rows, 7, datetime.now(UTC)), 1)
            result["history_rows"] = store.count_plates() if own else 0
            parts.append(_capacity_part(measure_capacity(db_url, writers, seconds, tag, in_flight)))
            parts.append(_pages_while_writing(db_url, store, registry, writers, seconds, tag, in_flight))
            result["rows_after_capacity"] = store.count_plates()

            cluster = Cluster(db_url, layout, Path(tmp), detector, tag)
            result["workers_online_s"] = round(cluster.wait_online(), 1)
            cluster.start_standby(registry)
            before, t0 = count_rows(store.engine, layout.cameras()), time.monotonic()
            cpu0 = sum(w.cpu_s() for w in cluster.workers)
            busy = time_pages(store, registry, seconds, layout.cameras())
            minutes = (time.monotonic() - t0) / 60
            written = count_rows(store.engine, layout.cameras()) - before
            cpu = sum(w.cpu_s() for w in cluster.workers) - cpu0
            detect = [fps for w in cluster.workers for fps in w.detect_fps()]
            live = {
                "rows": written,
                "minutes": round(minutes, 2),
                "rows_per_camera_minute": round(written / cameras / minutes, 2),
                "rows_per_s": round(written / (minutes * 60), 2),
                "workers_cpu_percent": round(100 * cpu / (minutes * 60), 1),
                "detect_fps_per_camera": round(sum(detect) / len(detect), 2) if detect else None,
            }
            bench = Bench(db_url, store, registry, cluster, seconds, tag)
            extra = [measure(bench) for measure in WITH_WORKERS]  # their own timings, after the window
            failover = measure_failover(cluster, registry)
            cluster.stop()
            idle = time_pages(store, registry, seconds, layout.cameras())
        finally:
            if cluster is not None:
                cluster.stop()
            if not own:
                delete_own_rows(store.engine, tag)
            store.close()
    result["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    ratio = _ratio(busy["page_p95_ms"], idle["page_p95_ms"])
    parts += [
        Part(
            "live_writes",
            live,
            [
                Row(
                    "workers writing",
                    "plate events per camera-minute",
                    live["rows_per_camera_minute"],
                    "1/min",
                    f"{written} rows, {cameras} demo cameras, {minutes:.1f} min",
                ),
                Row("workers writing", "workers' CPU", live["workers_cpu_percent"], "%", "100 % = one core"),
                Row("workers writing", "detections/s per camera", live["detect_fps_per_camera"], "1/s"),
            ],
        ),
        Part("pages_busy", busy, _pages_rows(f"pages, {workers} workers writing", busy)),
        Part(
            "failover",
            failover,
            [
                Row(
                    "failover (kill -9)",
                    "registry shows standby running it",
                    failover["registry_s"],
                    "s",
                    failover["camera"],
                ),
                Row(
                    "failover (kill -9)",
                    "standby serves it online",
                    failover["first_frame_s"],
                    "s",
                    "first frame",
                ),
            ],
        ),
        Part(
            "pages_idle", {**idle, "p95_busy_over_idle": ratio}, _pages_rows("pages, workers stopped", idle)
        ),
    ]
    parts[-1].rows.append(Row("pages, workers stopped", "p95 busy / idle", ratio, "x"))
    parts += extra
    for part in parts:
        result[part.key] = part.data
    return result, [row for part in parts for row in part.rows]


def main(argv: list[str] | argparse.Namespace | None = None) -> int:
    """Run, print the table (and one JSON object with ``--json``)."""
    if isinstance(argv, argparse.Namespace):
        args = argv
    else:
        parser = argparse.ArgumentParser(prog="python -m issc.bench cluster", description=__doc__)
        add_arguments(parser)
        args = parser.parse_args(argv)
    url = resolve_url(args.database_url)
    result, rows = run(
        url,
        workers=args.workers,
        cameras=args.cameras,
        seconds=args.seconds,
        writers=args.writers,
        history_rows=args.history_rows,
        detector=args.detector,
        load=args.load,
        in_flight=args.in_flight,
    )
    print(
        f"cluster: {result['date']}, {result['cpus']} CPUs, load average {result['loadavg_before']} before, "
        f"{result['loadavg_after']} after; {args.workers} workers + 1 standby, {args.cameras} demo cameras "
        f"(DETECTOR={args.detector}), {args.seconds:g} s phases, --load {args.load}, "
        f"history {result['history_rows']} events before the run"
    )
    print_table(
        ["part", "measure", "value", "unit", "note"],
        [(r.part, r.measure, r.value, r.unit, r.note) for r in rows],
    )
    if args.json:
        print_json(result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
