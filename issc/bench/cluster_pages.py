"""The Plates page's queries and ``Registry.live()``, timed against the cluster's PostgreSQL.

One page view is what ``pages/plates.py`` asks the store through :mod:`issc.ui.history` when a
filter changes (Streamlit's ``st.cache_data`` misses): the cameras of the last 30 days, the count and
one page of 50 rows, the plates-per-hour chart, the people chart and the top plates, for the
page's default window (24 h). Views take turns between three filters: the default, a 4-character
search, and one camera over 7 days. This module replays those calls with :class:`issc.store.Store`
(the bench does not import Streamlit).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from issc.bench.common import percentile
from issc.cluster import Registry
from issc.store import PlateFilter, Store

PAGE_SIZE = 50


def _bucket_minutes(since: datetime, until: datetime) -> int:
    """As ``issc.ui.history.people_bucket_minutes``."""
    span = until - since
    return 5 if span <= timedelta(hours=2) else 15 if span <= timedelta(days=2) else 60


def _filters(store: Store, cameras: list[str]) -> list[PlateFilter]:
    now = datetime.now(UTC)
    recent = store.search_plates(limit=1)
    q = recent[0].text[1:5] if recent else "LS15"
    camera = cameras[0] if cameras else None
    return [
        PlateFilter(since=now - timedelta(days=1), until=now),
        PlateFilter(q=q, since=now - timedelta(days=1), until=now),
        PlateFilter(camera=camera, since=now - timedelta(days=7), until=now),
    ]


def page_calls(store: Store, flt: PlateFilter) -> list[tuple[str, Callable[[], object]]]:
    """The store calls of one Plates page view with ``flt``, named."""
    since, until = flt.since or datetime.now(UTC) - timedelta(days=1), flt.until or datetime.now(UTC)
    month = datetime.now(UTC) - timedelta(days=30)
    return [
        ("cameras 30d", lambda: store.cameras_since(month)),
        ("count", lambda: store.count_plates(flt)),
        ("rows (50)", lambda: store.search_plates(flt, limit=PAGE_SIZE)),
        ("per hour chart", lambda: store.plates_per_hour(flt)),
        ("people chart", lambda: store.people_over_time(flt, _bucket_minutes(since, until))),
        ("top plates", lambda: store.top_plates(flt, limit=10)),
    ]


def time_pages(
    store: Store,
    registry: Registry,
    seconds: float,
    cameras: list[str],
    min_views: int = 3,
    pause_s: float = 0.25,
) -> dict:
    """Page views for ``seconds`` (at least ``min_views``), ``pause_s`` apart, after one warm-up view:
    p50/p95 of a whole view, of each call in it, and of ``Registry.live()`` timed after each view."""
    filters = _filters(store, cameras)
    for _name, call in page_calls(store, filters[0]):  # warm-up: connections, statement plans
        call()
    views: list[float] = []
    calls: dict[str, list[float]] = {}
    live: list[float] = []
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline or n < min_views:
        t_view = time.perf_counter()
        for name, call in page_calls(store, filters[n % len(filters)]):
            t0 = time.perf_counter()
            call()
            calls.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
        views.append((time.perf_counter() - t_view) * 1000)
        t0 = time.perf_counter()
        registry.live()
        live.append((time.perf_counter() - t0) * 1000)
        n += 1
        time.sleep(pause_s)
    return {
        "views": n,
        "page_p50_ms": percentile(views, 50),
        "page_p95_ms": percentile(views, 95),
        "registry_live_p50_ms": percentile(live, 50),
        "registry_live_p95_ms": percentile(live, 95),
        "calls": {
            name: {"p50_ms": percentile(v, 50), "p95_ms": percentile(v, 95)} for name, v in calls.items()
        },
    }


__all__ = ["page_calls", "time_pages"]
