"""Stored cameras with ``ENGINE=remote``: the dashboard writes the record, the chosen worker starts
it through the change feed, a standby takes it while that worker is dead, removing it stops it.
Two in-process workers on a real PostgreSQL (skipped without ``ISSC_TEST_POSTGRES_URL``)."""

from __future__ import annotations

import secrets
from pathlib import Path

from test_cluster import TOKEN, pg_url, wait_for  # noqa: F401  (the fixture)

from issc.config import load_settings
from issc.service import Service
from issc.worker import Worker


def test_a_stored_camera_runs_on_its_worker_and_fails_over(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    tag = secrets.token_hex(3)
    workers: dict[str, Worker] = {}
    try:
        for name in ("a", "b"):
            settings = load_settings(
                cameras=f"{name}-{tag}=demo", detector="none", database_url=pg_url, worker_id=f"{name}-{tag}"
            )
            workers[name] = Worker(settings).start()
        a, b = workers["a"], workers["b"]
        gate = f"gate{tag}"
        dashboard = Service.build(load_settings(engine="remote", database_url=pg_url, worker_token=TOKEN))
        try:
            # When the dashboard (ENGINE=remote) stores a camera for worker B
            dashboard.add_camera({"name": gate, "source": "demo", "worker": b.id}, "admin")
            # Then B starts it through the change feed, A lists it as its standby; both keep their own
            wait_for(lambda: gate in b.running_names(), 10, "B running the stored camera")
            wait_for(lambda: gate in a.standby_names(), 5, "A standing by for it")
            camera = b.cameras_view().camera(gate)
            wait_for(lambda: camera.latest() is not None, 10, "its first picture on B")
            assert f"a-{tag}" in a.running_names() and f"b-{tag}" in b.running_names()

            # When B stops (its row goes), A takes the camera over
            b.stop()
            wait_for(lambda: gate in a.running_names(), 15, "A taking the camera over")

            # When the camera is removed on the dashboard, A stops it; its own camera runs on
            assert dashboard.remove_camera(gate)
            wait_for(lambda: gate not in a.running_names() + a.standby_names(), 10, "A forgetting it")
            assert a.running_names() == [f"a-{tag}"]
        finally:
            dashboard.stop()
    finally:
        for worker in workers.values():
            worker.stop()
