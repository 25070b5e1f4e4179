"""history: fill a history store with N plate events and time the Plates page's queries.

``python -m issc.bench history --rows 1000000 [--json] [--database-url URL]``

Filling bypasses the writer thread (one bulk transaction per chunk) but goes through the same schema
and migrations. Each query runs ``--repeats`` times with varied arguments (different plates, cameras,
windows); the table shows p50/p95 in milliseconds. Target: p95 <= 50 ms per query at 1M rows.

A second table times the edit distance behind fuzzy search: one query against ``--rows`` plate fold
keys, with the hand-written Python distance ISSC used before (:func:`python_levenshtein`) and with
rapidfuzz, and checks that both give the same distances and the same near keys.
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
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from issc.search import fold, is_near
from issc.store import PlateFilter, Store
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
    parser.add_argument(
        "--distance-repeats", type=int, default=3, help="runs per edit-distance timing (default 3)"
    )
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
    fts = store.plate_keys.substring_index == "fts5"
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
        conn.execute(
            sa.text(
                "INSERT INTO plate_hours (camera, hour_ms, plates)"
                " SELECT camera, (last_seen_ms / 3600000) * 3600000, count(*) FROM plate_events"
                " GROUP BY camera, (last_seen_ms / 3600000) * 3600000"
            )
        )
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


def _time(
    name: str, repeats: int, run: Callable[[int], object], note: str = "", warm_up: bool = True
) -> Timing:
    if warm_up:
        run(0)  # page cache, statement cache
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

    def page(flt: PlateFilter) -> None:
        store.search_plates(flt, limit=50)
        store.count_plates(flt)

    def days(i: int, start: list[datetime], length: int, **filters: Any) -> PlateFilter:
        return PlateFilter(since=start[i], until=start[i] + timedelta(days=length), **filters)

    results.append(_time("newest page + count", repeats, lambda i: page(PlateFilter())))
    results.append(_time("substring 4 chars + count", repeats, lambda i: page(PlateFilter(q=plates[i][2:6]))))
    results.append(_time("substring 3 chars + count", repeats, lambda i: page(PlateFilter(q=plates[i][-3:]))))
    results.append(
        _time(
            "fuzzy full plate + count", repeats, lambda i: page(PlateFilter(q=fuzzy[i])), f"e.g. {fuzzy[0]}"
        )
    )
    results.append(
        _time(
            "camera+7d+min_conf + count",
            repeats,
            lambda i: page(days(i, week, 7, camera=cams[i], min_conf=0.8)),
        )
    )
    results.append(
        _time(
            "fuzzy+camera+7d + count", repeats, lambda i: page(days(i, week, 7, q=fuzzy[i], camera=cams[i]))
        )
    )
    results.append(_time("watchlist only + count", repeats, lambda i: page(PlateFilter(watchlist_only=True))))
    results.append(
        _time("page 100 (offset 5000)", repeats, lambda i: store.search_plates(limit=50, offset=5000))
    )
    results.append(_time("count all", repeats, lambda i: store.count_plates()))
    results.append(
        _time("per hour by camera, 24h", repeats, lambda i: store.plates_per_hour(days(i, day, 1)))
    )
    results.append(
        _time("per hour by camera, 7d", repeats, lambda i: store.plates_per_hour(days(i, week, 7)))
    )
    results.append(_time("top plates, 7d", repeats, lambda i: store.top_plates(days(i, week, 7))))
    results.append(
        _time("people per camera, 7d", repeats, lambda i: store.people_over_time(days(i, week, 7)))
    )
    results.append(
        _time("per hour by camera, all 60d", max(3, repeats // 5), lambda i: store.plates_per_hour())
    )
    last_hour = PlateFilter(since=end - timedelta(hours=1), until=end)
    per_hour = len(store.search_plates(last_hour, limit=10_000)) or 1
    export = PlateFilter(since=end - timedelta(hours=csv_rows / per_hour), until=end)
    exported = sum(c.count("\n") for c in store.iter_plates_csv(export)) - 1
    results.append(
        _time(
            "CSV export",
            max(3, repeats // 5),
            lambda i: sum(1 for _ in store.iter_plates_csv(export)),
            f"{exported} rows",
        ),
    )
    return results


def python_levenshtein(a: str, b: str) -> int:
    """The hand-written edit distance ISSC used before rapidfuzz (one DP row at a time).

    Kept as this benchmark's baseline and as the tests' reference for rapidfuzz's results.
    """
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _python_is_near(key: str, query_key: str, max_distance: int) -> bool:
    """``issc.search.is_near`` as it was before rapidfuzz: length check, then the Python distance."""
    if abs(len(key) - len(query_key)) > max_distance:
        return False
    return python_levenshtein(key, query_key) <= max_distance


def measure_distance(count: int, seed: int, repeats: int) -> list[Timing]:
    """Time one misread query's edit distance to ``count`` plate fold keys, before and with rapidfuzz.

    Raises:
        AssertionError: the implementations disagree on a distance or on the near keys.
    """
    rng = random.Random(seed + 3)
    keys = [fold(_plate(rng)) for _ in range(count)]
    keys[::1000] = [fold(REGULAR)] * len(keys[::1000])  # a regular, one edit from the query
    query = fold(_misread(REGULAR, rng))
    results: list[Timing] = []
    found: dict[str, Any] = {}

    def timed(name: str, run: Callable[[], Any], runs: int = repeats) -> None:
        def step(_i: int) -> None:
            found[name] = run()

        results.append(_time(f"{name}, {count} keys", runs, step, warm_up=False))

    def cdist() -> list[int]:
        return process.cdist([query], keys, scorer=Levenshtein.distance, dtype=np.int32, workers=1)[
            0
        ].tolist()

    def extract_near() -> list[str]:
        matches = process.extract(query, keys, scorer=Levenshtein.distance, score_cutoff=1, limit=None)
        return [key for key, _distance, _index in matches]

    # The Python loops take seconds per million keys: one run each.
    timed("distance: Python DP (before)", lambda: [python_levenshtein(query, k) for k in keys], runs=1)
    timed("distance: rapidfuzz per pair", lambda: [Levenshtein.distance(query, k) for k in keys])
    timed("distance: rapidfuzz cdist", cdist)
    timed(
        "near (<= 1 edit): Python (before)", lambda: [k for k in keys if _python_is_near(k, query, 1)], runs=1
    )
    timed("near (<= 1 edit): is_near (rapidfuzz)", lambda: [k for k in keys if is_near(k, query, 1)])
    timed("near (<= 1 edit): rapidfuzz extract", extract_near)
    distances = [v for k, v in found.items() if k.startswith("distance")]
    near = [sorted(v) for k, v in found.items() if k.startswith("near")]
    if any(d != distances[0] for d in distances) or any(n != near[0] for n in near):
        raise AssertionError(f"edit distances disagree for query {query!r}")
    note = f"query {query}; same distances; {len(near[0])} near keys"
    return [replace(t, note=note) if i == 0 else t for i, t in enumerate(results)]


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
    distance = measure_distance(args.rows, args.seed, args.distance_repeats)
    dialect = sa.make_url(url).get_backend_name()
    print(f"history: {rows} events on {dialect}, filled in {fill_s:.1f} s ({store.schema_revision=})")
    print(f"{'query':34} {'p50 ms':>8} {'p95 ms':>8}  note")
    for t in timings:
        flag = "" if t.p95_ms <= 50 else "  (> 50 ms)"
        print(f"{t.name:34} {t.p50_ms:8.1f} {t.p95_ms:8.1f}  {t.note}{flag}")
    print(f"\n{'edit distance, one query':52} {'p50 ms':>9} {'p95 ms':>9}  runs  note")
    for t in distance:
        print(f"{t.name:52} {t.p50_ms:9.1f} {t.p95_ms:9.1f}  {t.runs:4}  {t.note}")
    if args.json:
        print(
            json.dumps(
                {
                    "command": "history",
                    "rows": rows,
                    "database": dialect,
                    "fill_s": round(fill_s, 2),
                    "queries": [asdict(t) for t in timings],
                    "edit_distance": [asdict(t) for t in distance],
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
