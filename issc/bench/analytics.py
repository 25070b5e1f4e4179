"""analytics: what people counting costs the live path, and how fast the 30-day reports are.

``python -m issc.bench analytics [--load 1] [--frames 300] [--events 1000000] [--json]``

1. **Live cost.** The intel one-by-one clip (a zone around the table, a line across the room) is
   analysed at 5 frames a second by the live path's ``PlateAnalyzer`` with the offline person
   detector; each analysed frame's tracked people go to ``PeopleCounter.update``, as the engine
   does. Both are timed per frame (thread CPU time and wall time); the table gives their medians and
   the counting time as a share of the analysis time. ``--load N`` keeps N cores busy meanwhile.
2. **Reports at scale.** A history is filled with ``--events`` crossings and visits over 30 days
   on 6 cameras (one bulk transaction per chunk, the writer's schema) and their hourly totals; the
   30-day zone, line and people reports (``/api/analytics/*``) are timed (p50/p95 of ``--repeats``).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2

from issc.analytics import PeopleCounter, parse_shapes
from issc.bench.common import clips, percentile, print_json, print_table
from issc.bench.load import cpu_load
from issc.store import Store
from issc.store import schema as store_schema

CLIP = "intel_one-by-one-person-detection.mp4"
SHAPES = {
    "zones": [
        {"name": "table", "kind": "zone", "points": [[300, 300], [620, 300], [620, 425], [300, 425]]},
        {"name": "room", "kind": "line", "points": [[250, 431], [250, 200]], "in": "right"},
    ]
}
CAMERAS = ("lobby", "door", "desk", "yard", "gate", "dock")
DAYS = 30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``analytics`` command."""
    parser.add_argument("--frames", type=int, default=300, help="analysed frames of the clip (default 300)")
    parser.add_argument("--load", type=int, default=0, help="cores kept busy by other processes")
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="crossings + visits stored (default 1M)"
    )
    parser.add_argument("--repeats", type=int, default=20, help="runs per report (default 20)")
    parser.add_argument("--database-url", help="history database (default: a SQLite file in a temp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")


def live_cost(frames: int) -> dict[str, Any]:
    """Median analysis and counting time per analysed frame (ms), and their ratio."""
    from issc.analysis import PlateAnalyzer
    from issc.detect import CompositeDetector, NullDetector, make_person_detector
    from issc.types import Frame

    path = clips([CLIP])[0]
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    step = max(round(fps / 5), 1)
    analyzer = PlateAnalyzer(CompositeDetector(make_person_detector(), NullDetector()), "bench", frame_rate=5)
    counter = PeopleCounter("bench", parse_shapes(SHAPES, 768, 432))
    analysis_cpu: list[float] = []
    count_cpu: list[float] = []
    count_wall: list[float] = []
    index = done = 0
    while done < frames:
        ok, image = capture.read()
        if not ok:
            break
        if index % step == 0:
            at = 1_800_000_000 + index / fps
            c0 = time.thread_time()
            result = analyzer.analyze(Frame(image, index, "0", at, at))
            c1 = time.thread_time()
            if result.people is not None:
                w0 = time.perf_counter()
                counter.update(result.detections, at)
                count_wall.append((time.perf_counter() - w0) * 1000)
                count_cpu.append((time.thread_time() - c1) * 1000)
            analysis_cpu.append((c1 - c0) * 1000)
            done += 1
        index += 1
    capture.release()
    total_analysis, total_count = sum(analysis_cpu), sum(count_cpu)
    return {
        "frames": done,
        "analysis_ms_p50": percentile(analysis_cpu, 50),
        "count_ms_p50": percentile(count_cpu, 50),
        "count_ms_p95": percentile(count_cpu, 95),
        "count_wall_ms_p95": percentile(count_wall, 95),
        "count_share_pct": 100 * total_count / total_analysis if total_analysis else None,
    }


def fill(store: Store, events: int, seed: int = 7) -> None:
    """``events`` crossings and visits over ``DAYS`` days, and the hourly totals they make."""
    rng = random.Random(seed)
    now_ms = int(time.time() * 1000)
    start_ms = now_ms - DAYS * 86_400_000
    hours: dict[tuple[str, int, str, str], dict[str, int]] = {}
    chunk: list[dict[str, Any]] = []
    visits: list[dict[str, Any]] = []

    def flush() -> None:
        with store.engine.begin() as conn:
            if chunk:
                conn.execute(store_schema.line_crossings.insert(), chunk)
            if visits:
                conn.execute(store_schema.zone_visits.insert(), visits)
        chunk.clear()
        visits.clear()

    for i in range(events):
        camera = CAMERAS[i % len(CAMERAS)]
        at = rng.randrange(start_ms, now_ms)
        hour = at // 3_600_000 * 3_600_000
        if i % 2:
            direction = "in" if rng.random() < 0.5 else "out"
            chunk.append({"camera": camera, "line": "door", "direction": direction, "at_ms": at, "person": i})
            h = hours.setdefault((camera, hour, "line", "door"), {"in_count": 0, "out_count": 0})
            h["in_count" if direction == "in" else "out_count"] += 1
        else:
            dwell = rng.randrange(2_000, 600_000)
            visits.append(
                {"camera": camera, "zone": "desk", "person": i, "start_ms": at, "end_ms": at + dwell}
            )
            h = hours.setdefault((camera, hour, "zone", "desk"), {"visits": 0, "entries": 0, "dwell_ms": 0})
            h["visits"] += 1
            h["entries"] += 1
            h["dwell_ms"] += dwell
            h["max_occupancy"] = max(h.get("max_occupancy", 0), rng.randrange(1, 5))
        p = hours.setdefault((camera, hour, "people", ""), {"distinct_people": 0})
        p["distinct_people"] += 1
        if len(chunk) + len(visits) >= 20_000:
            flush()
    flush()
    zero = {
        "in_count": 0,
        "out_count": 0,
        "entries": 0,
        "visits": 0,
        "dwell_ms": 0,
        "max_occupancy": 0,
        "distinct_people": 0,
    }
    rows = [
        {**zero, **values, "camera": c, "hour_ms": h, "kind": k, "name": n}
        for (c, h, k, n), values in hours.items()
    ]
    with store.engine.begin() as conn:
        conn.execute(store_schema.analytics_hours.insert(), rows)


def report_timings(store: Store, repeats: int) -> list[tuple[str, float | None, float | None]]:
    from datetime import UTC, datetime, timedelta

    since = datetime.now(UTC) - timedelta(days=DAYS)
    out = []
    for name, call in (
        ("zones (1 camera, 30 d, 1000 visits listed)", lambda c: store.zone_report(c, since=since)),
        ("lines (1 camera, 30 d)", lambda c: store.line_report(c, since=since)),
        ("people (1 camera, 30 d)", lambda c: store.people_report(c, since=since)),
        ("lines (all cameras, 30 d)", lambda c: store.line_report(None, since=since)),
    ):
        times = []
        for i in range(repeats):
            t0 = time.perf_counter()
            call(CAMERAS[i % len(CAMERAS)])
            times.append((time.perf_counter() - t0) * 1000)
        out.append((name, percentile(times, 50), percentile(times, 95)))
    return out


def main(args: argparse.Namespace) -> int:
    result: dict[str, Any] = {"load": args.load}
    with cpu_load(args.load):
        if args.frames:
            live = live_cost(args.frames)
            result["live"] = live
            print(f"live cost, intel clip at 5 fps, {live['frames']} analysed frames, --load {args.load}:")
            print_table(
                [
                    "analysis ms p50",
                    "counting ms p50",
                    "counting ms p95",
                    "counting wall ms p95",
                    "counting / analysis %",
                ],
                [
                    [
                        live["analysis_ms_p50"],
                        live["count_ms_p50"],
                        live["count_ms_p95"],
                        live["count_wall_ms_p95"],
                        live["count_share_pct"],
                    ]
                ],
            )
        if args.events:
            with tempfile.TemporaryDirectory() as folder:
                url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
                with Store(url) as store:
                    t0 = time.perf_counter()
                    fill(store, args.events)
                    filled = time.perf_counter() - t0
                    timings = report_timings(store, args.repeats)
                    store.engine.dispose()
            result["reports"] = [{"report": n, "p50_ms": a, "p95_ms": b} for n, a, b in timings]
            print(f"\n30-day reports over {args.events} crossings and visits (filled in {filled:.0f} s):")
            print_table(["report", "p50 ms", "p95 ms"], timings)
    if args.json:
        print_json(result)
    return 0
