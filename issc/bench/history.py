"""history: fill a history store with N plate events and time the Plates page's queries.

``python -m issc.bench history --rows 1000000 [--json] [--database-url URL]``

Filling bypasses the writer thread (one bulk transaction per chunk) but goes through the same schema
and migrations. Each query runs ``--repeats`` times with varied arguments (different plates, cameras,
windows); the table shows p50/p95 in milliseconds. Target: p95 <= 50 ms per query at 1M rows.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from issc.search import fold
from issc.store import Store
from issc.store import schema as store_schema
from issc.store.records import to_ms

CAMERAS = ("gate", "exit", "yard", "street-n", "street-s", "dock")
PEOPLE_CAMERAS = ("gate", "yard", "dock")
DAYS = 60
#: A plate that shows up often, so that "LS15E8C" (a misread) has something to find.
REGULAR = "LS15EBC"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``history`` command."""
    parser.add_argument("--rows", type=int, default=100_000, help="plate events to insert (default 100000)")
    parser.add_argument("--database-url", help="history database (default: a SQLite file in a temp dir)")
    parser.add_argument("--repeats", type=int, default=30, help="runs per query (default 30)")
    parser.add_argument("--csv-rows", type=int, default=10_000, help="rows in the CSV export timing")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print one JSON object last")


@dataclass(frozen=True)
class Timing:
    """p50/p95 of one query over its repeats."""

    name: str
    p50_ms: float
    p95_ms: float
    runs: int
    note: str = ""


def _plate(rng: random.Random) -> str:
    letters, digits = string.ascii_uppercase, string.digits
    layout = rng.choice(("AA99AAA", "AAA9999", "AAA9A99"))
    return "".join(rng.choice(letters if s == "A" else digits) for s in layout)


def _population(rng: random.Random, rows: int) -> tuple[list[str], list[float]]:
    """Distinct plates and their weights: a few regulars make up much of the traffic."""
    distinct = max(100, rows // 4)
    plates = list({_plate(rng) for _ in range(distinct)} - {REGULAR})
    regulars = max(10, len(plates) // 50)
    weights = [40.0 if i < regulars else 1.0 for i in range(len(plates))]
    plates.insert(0, REGULAR)
    weights.insert(0, 40.0)
    return plates, weights


def _event_rows(rows: int, seed: int, end: datetime) -> Iterator[list[dict[str, Any]]]:
    """Plate events in ``last_seen`` order over ``DAYS`` days ending at ``end``, in chunks."""
    rng = random.Random(seed)
    plates, weights = _population(rng, rows)
    span_ms = DAYS * 86_400_000
    start_ms = to_ms(end) - span_ms
    step = span_ms / rows
    chunk: list[dict[str, Any]] = []
    texts = rng.choices(plates, weights, k=rows)
    for i, text in enumerate(texts):
        last = start_ms + int(i * step + rng.random() * step)
        conf = min(1.0, max(0.05, rng.betavariate(5, 1.5)))
        x, y = rng.randrange(0, 1700), rng.randrange(0, 1000)
        chunk.append(
            {
                "camera": CAMERAS[rng.randrange(len(CAMERAS))],
                "first_seen_ms": last - rng.randrange(500, 8000),
                "last_seen_ms": last,
                "text": text,
                "confidence": round(conf, 3),
                "reads": rng.randrange(1, 9),
                "box": f"{x},{y},{x + 120},{y + 30}",
                "ocr_calls": rng.randrange(1, 12),
                "watchlist": "stolen" if text == REGULAR or rng.random() < 0.001 else None,
                "has_crop": False,
                "has_snapshot": False,
                "fold_key": fold(text),
            }
        )
        if len(chunk) == 50_000:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def fill(store: Store, rows: int, seed: int, end: datetime) -> float:
    """Bulk-insert ``rows`` plate events and ~``DAYS`` days of people counts; returns seconds taken."""
    t0 = time.perf_counter()
    fts = store._substring_index == "fts5"
    keys: set[str] = set()
    with store.engine.begin() as conn:
        for chunk in _event_rows(rows, seed, end):
            conn.execute(store_schema.plate_events.insert(), chunk)
            keys.update(r["fold_key"] for r in chunk)
        conn.execute(
            store_schema.plate_keys.insert(), [{"fold_key": k, "fold_rev": k[::-1]} for k in sorted(keys)]
        )
        if fts:
            conn.exec_driver_sql(
                f"INSERT INTO {store_schema.KEYS_FTS} (rowid, fold_key) SELECT rowid, fold_key FROM plate_keys"
            )
        store_schema.backfill_hours(conn)
        rng = random.Random(seed + 1)
        first_minute = (to_ms(end) - DAYS * 86_400_000) // 60_000 * 60_000
        people = []
        for minute in range(first_minute, to_ms(end), 60_000):
            for cam in PEOPLE_CAMERAS:
                mean = rng.random() * 4
                people.append(
                    {
                        "camera": cam,
                        "minute_ms": minute,
                        "max_count": int(mean) + rng.randrange(0, 3),
                        "mean_count": mean,
                        "samples": 60,
                    }
                )
            if len(people) >= 50_000:
                conn.execute(store_schema.people_counts.insert(), people)
                people = []
        if people:
            conn.execute(store_schema.people_counts.insert(), people)
    with store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("ANALYZE")
        elif conn.dialect.name == "postgresql":
            conn.commit()
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    return time.perf_counter() - t0


def _misread(text: str, rng: random.Random) -> str:
    """``text`` with one look-alike swapped (8 for B, ...) and one other character changed."""
    swaps = {"B": "8", "8": "B", "O": "0", "0": "O", "S": "5", "5": "S", "I": "1", "1": "I"}
    chars = list(text)
    spots = [i for i, c in enumerate(chars) if c in swaps]
    if spots:
        i = rng.choice(spots)
        chars[i] = swaps[chars[i]]
    j = rng.randrange(len(chars))
    chars[j] = "X" if chars[j] != "X" else "Y"
    return "".join(chars)


def _time(name: str, repeats: int, run: Callable[[int], object], note: str = "") -> Timing:
    run(0)  # warm-up (page cache, statement cache)
    samples = []
    for i in range(repeats):
        t0 = time.perf_counter()
        run(i)
        samples.append((time.perf_counter() - t0) * 1000)
    return Timing(name, float(np.percentile(samples, 50)), float(np.percentile(samples, 95)), repeats, note)


def measure(store: Store, end: datetime, repeats: int, csv_rows: int, seed: int) -> list[Timing]:
    """Time the Plates page's queries against a filled store."""
    rng = random.Random(seed + 2)
    sample = [r.text for r in store.search_plates(limit=1000, offset=rng.randrange(0, 1000))]
    plates = [rng.choice(sample) for _ in range(repeats + 1)]
    cams = [rng.choice(CAMERAS) for _ in range(repeats + 1)]
    fuzzy = [REGULAR.replace("B", "8")] + [_misread(p, rng) for p in plates[1:]]
    week = [end - timedelta(days=7 + rng.random() * 40) for _ in range(repeats + 1)]
    day = [end - timedelta(days=1 + rng.random() * 50) for _ in range(repeats + 1)]
    results = []

    def page(i: int, **filters: Any) -> None:
        store.search_plates(**filters, limit=50)
        store.count_plates(**filters)

    results.append(_time("newest page + count", repeats, lambda i: page(i)))
    results.append(_time("substring 4 chars + count", repeats, lambda i: page(i, q=plates[i][2:6])))
    results.append(_time("substring 3 chars + count", repeats, lambda i: page(i, q=plates[i][-3:])))
    results.append(
        _time("fuzzy full plate + count", repeats, lambda i: page(i, q=fuzzy[i]), f"e.g. {fuzzy[0]}")
    )
    results.append(
        _time(
            "camera+7d+min_conf + count",
            repeats,
            lambda i: page(i, camera=cams[i], since=week[i], until=week[i] + timedelta(days=7), min_conf=0.8),
        )
    )
    results.append(
        _time(
            "fuzzy+camera+7d + count",
            repeats,
            lambda i: page(i, q=fuzzy[i], camera=cams[i], since=week[i], until=week[i] + timedelta(days=7)),
        )
    )
    results.append(_time("watchlist only + count", repeats, lambda i: page(i, watchlist_only=True)))
    results.append(
        _time("page 100 (offset 5000)", repeats, lambda i: store.search_plates(limit=50, offset=5000))
    )
    results.append(_time("count all", repeats, lambda i: store.count_plates()))
    results.append(
        _time(
            "per hour by camera, 24h",
            repeats,
            lambda i: store.plates_per_hour(since=day[i], until=day[i] + timedelta(days=1)),
        )
    )
    results.append(
        _time(
            "per hour by camera, 7d",
            repeats,
            lambda i: store.plates_per_hour(since=week[i], until=week[i] + timedelta(days=7)),
        )
    )
    results.append(
        _time(
            "top plates, 7d",
            repeats,
            lambda i: store.top_plates(since=week[i], until=week[i] + timedelta(days=7)),
        )
    )
    results.append(
        _time(
            "people per camera, 7d",
            repeats,
            lambda i: store.people_over_time(since=week[i], until=week[i] + timedelta(days=7)),
        )
    )
    results.append(
        _time("per hour by camera, all 60d", max(3, repeats // 5), lambda i: store.plates_per_hour())
    )
    per_hour = len(store.search_plates(since=end - timedelta(hours=1), until=end, limit=10_000)) or 1
    window = timedelta(hours=csv_rows / per_hour)
    exported = sum(c.count("\n") for c in store.iter_plates_csv(since=end - window, until=end)) - 1
    results.append(
        _time(
            "CSV export",
            max(3, repeats // 5),
            lambda i: sum(1 for _ in store.iter_plates_csv(since=end - window, until=end)),
            f"{exported} rows",
        ),
    )
    return results


def main(argv: list[str] | argparse.Namespace | None = None) -> int:
    """Fill, measure, print. Accepts raw arguments or the namespace the bench dispatcher parsed."""
    if isinstance(argv, argparse.Namespace):
        args = argv
    else:
        parser = argparse.ArgumentParser(prog="python -m issc.bench history", description=__doc__)
        add_arguments(parser)
        args = parser.parse_args(argv)
    end = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="issc-history-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'history.db'}"
        store = Store(url)
        try:
            if store.count_plates() == 0:
                fill_s = fill(store, args.rows, args.seed, end)
            else:
                fill_s = 0.0
                print(f"database already holds {store.count_plates()} events: not filling", file=sys.stderr)
            rows = store.count_plates()
            timings = measure(store, end, args.repeats, args.csv_rows, args.seed)
        finally:
            store.close()
    dialect = sa.make_url(url).get_backend_name()
    print(f"history: {rows} events on {dialect}, filled in {fill_s:.1f} s ({store.schema_version=})")
    print(f"{'query':34} {'p50 ms':>8} {'p95 ms':>8}  note")
    for t in timings:
        flag = "" if t.p95_ms <= 50 else "  (> 50 ms)"
        print(f"{t.name:34} {t.p50_ms:8.1f} {t.p95_ms:8.1f}  {t.note}{flag}")
    if args.json:
        print(
            json.dumps(
                {
                    "command": "history",
                    "rows": rows,
                    "database": dialect,
                    "fill_s": round(fill_s, 2),
                    "queries": [asdict(t) for t in timings],
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
