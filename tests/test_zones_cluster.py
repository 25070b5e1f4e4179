"""Lines and zones with ``ENGINE=remote``: a PUT through the dashboard's API reaches the worker that
runs the camera, through the change feed (``zones`` topic), on a real PostgreSQL (skipped without
one). The dashboard's routes are served by uvicorn on a loopback port and called with requests."""

from __future__ import annotations

import secrets
from pathlib import Path

import requests
from conftest import serving
from starlette.applications import Starlette
from test_cluster import TOKEN, pg_url, wait_for  # noqa: F401  (the fixture)

from issc.analytics_api import analytics_routes
from issc.config import load_settings
from issc.service import Service
from issc.worker import Worker


def test_a_zones_put_on_the_dashboard_reaches_the_running_worker(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    tag = secrets.token_hex(3)
    name = f"lobby-{tag}"
    worker = Worker(
        load_settings(cameras=f"{name}=demo", detector="none", database_url=pg_url, worker_id=f"w-{tag}")
    ).start()
    try:
        dashboard = Service.build(load_settings(engine="remote", database_url=pg_url, worker_token=TOKEN))
        dashboard.engine.start()
        try:
            app = Starlette(routes=analytics_routes(lambda: dashboard.store, lambda: dashboard.engine))
            camera = lambda: worker.cameras_view().camera("0")  # noqa: E731  (by its position in CAMERAS)
            wait_for(lambda: name in worker.running_names(), 15, "the worker running its camera")
            wait_for(
                lambda: any(c.name == name for c in dashboard.engine.configs()),
                15,
                "the dashboard listing the worker's camera",
            )
            with serving(app) as url:
                # when an admin stores a zone and a line for the worker's camera on the dashboard
                body = {
                    "width": 640,
                    "height": 480,
                    "zones": [
                        {
                            "name": "desk",
                            "kind": "zone",
                            "points": [[10, 10], [300, 10], [300, 200], [10, 200]],
                        },
                        {"name": "door", "kind": "line", "points": [[320, 0], [320, 479]], "in": "left"},
                    ],
                }
                reply = requests.put(f"{url}/api/cameras/{name}/zones", json=body, timeout=10)
                assert reply.status_code == 200, reply.text
                # then the worker counts with them (notified on PostgreSQL, within 2 s on a quiet machine)
                took = wait_for(
                    lambda: [s.name for s in camera().shapes] == ["desk", "door"],
                    10,
                    "the shapes",
                    every=0.01,
                )
                print(f"\nthe zones arrived on the worker after {took:.2f} s")
                # and the live picture draws them
                assert [s.name for s in camera().capture.annotator.shapes] == ["desk", "door"]
                # when they are cleared on the dashboard, the worker counts without them
                reply = requests.put(f"{url}/api/cameras/{name}/zones", json={"zones": []}, timeout=10)
                assert reply.status_code == 200, reply.text
                wait_for(lambda: camera().shapes == (), 10, "the cleared shapes")
                # a bad polygon is refused and changes nothing on the worker
                bad = {
                    "zones": [
                        {"name": "x", "kind": "zone", "points": [[0, 0], [100, 100], [100, 0], [0, 100]]}
                    ]
                }
                assert (
                    requests.put(f"{url}/api/cameras/{name}/zones", json=bad, timeout=10).status_code == 400
                )
                assert camera().shapes == ()
        finally:
            dashboard.stop()
    finally:
        worker.stop()
