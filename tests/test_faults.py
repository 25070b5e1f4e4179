"""Faults on real parts: a network camera killed and restarted 100 times, a history disk that fills
and frees, and PostgreSQL stopped and restarted under load.

The detector server's faults are in ``test_engine_roboflow.py`` and ``kill -9`` during writes in
``test_durability.py``. The disk test needs root (it mounts a small tmpfs); the PostgreSQL test stops
and starts the session's throwaway cluster (the ``postgres`` fixture), or, for a server given by
``ISSC_TEST_POSTGRES_URL``, the local Debian cluster (root and ``pg_ctlcluster``). Each skips with its
reason otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import sqlalchemy as sa
from conftest import free_port, is_no_signal
from mjpeg_server import MjpegCamera
from postgres import TestPostgres

from issc.config import load_settings
from issc.engine import Engine
from issc.health import health_json
from issc.store import Store, schema
from issc.types import CameraState, PlateEvent

CYCLES = 100
#: Threads and open files a cycle may differ by, between the first and the last cycles.
THREAD_SLACK = 3
FD_SLACK = 6


def wait_until(predicate, timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# --- 1. a network camera killed and restarted 100 times ---------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_network_camera_killed_and_restarted_100_times(no_thread_leak) -> None:
    port = free_port()
    cam = MjpegCamera(port, fps=15).start()
    engine = Engine.from_settings(
        load_settings(cameras=f"net=http://127.0.0.1:{port}/stream.mjpg", reconnect_max_s=1)
    ).start()
    camera = engine.camera("0")
    threads: list[int] = []
    fds: list[int] = []
    down_s: list[float] = []
    up_s: list[float] = []
    try:
        assert wait_until(lambda: camera.status().state == CameraState.ONLINE, 10)
        for cycle in range(CYCLES):
            before_id, jpeg = camera.current_jpeg()
            assert before_id >= 0 and not is_no_signal(jpeg), f"cycle {cycle}: not live before the kill"
            # When the camera dies, NO SIGNAL within 3 s
            killed = time.monotonic()
            cam.kill()  # returns once the server has shut down (up to its 0.5 s poll)
            assert wait_until(lambda: is_no_signal(camera.current_jpeg()[1]), 3.0), (
                f"cycle {cycle}: no NO SIGNAL within 3 s of the kill"
            )
            down_s.append(time.monotonic() - killed)
            assert camera.status().state == CameraState.OFFLINE, f"cycle {cycle}: {camera.status()}"
            # When it comes back, online with a fresh frame within 5 s
            cam = MjpegCamera(port, fps=15).start()
            back = time.monotonic()

            def fresh(before_id: int = before_id) -> bool:
                frame_id, jpeg = camera.current_jpeg()
                return (
                    camera.status().state == CameraState.ONLINE
                    and frame_id > before_id
                    and not is_no_signal(jpeg)
                )

            assert wait_until(fresh, 5.0), f"cycle {cycle}: not back within 5 s: {camera.status()}"
            up_s.append(time.monotonic() - back)
            threads.append(threading.active_count())
            fds.append(open_fds())
    finally:
        engine.stop()
        cam.kill()
    # Then nothing piles up: the last 20 cycles hold as many threads and files as the first 20
    assert max(threads[-20:]) <= max(threads[:20]) + THREAD_SLACK, threads
    assert max(fds[-20:]) <= max(fds[:20]) + FD_SLACK, fds
    print(
        f"\n{CYCLES} cycles: NO SIGNAL after {np.mean(down_s):.2f} s (max {max(down_s):.2f}),"
        f" back after {np.mean(up_s):.2f} s (max {max(up_s):.2f});"
        f" threads {threads[0]}..{threads[-1]}, fds {fds[0]}..{fds[-1]}"
    )


# --- 2. a disk that fills and then frees -----------------------------------------------------------

#: Incompressible JPEG-sized payloads, so that the small disk fills after a few dozen events.
IMAGE_BYTES = 60_000


def image_event(index: int, start: datetime) -> PlateEvent:
    """Plate event ``index`` (text unique per index) with a crop and a snapshot of random bytes."""
    last = start + timedelta(seconds=index)
    rng = np.random.default_rng(index)
    return PlateEvent(
        camera="gate",
        first_seen=last - timedelta(seconds=2),
        last_seen=last,
        text=f"FA{index:05d}",
        confidence=0.9,
        reads=3,
        box=(10, 20, 130, 50),
        crop_jpeg=rng.bytes(IMAGE_BYTES // 4),
        snapshot_jpeg=rng.bytes(IMAGE_BYTES),
    )


def rows_per_text(url: str) -> dict[str, int]:
    """How many plate events the database holds per plate text (read with a fresh engine)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            E = schema.plate_events
            rows = conn.execute(sa.select(E.c.text, sa.func.count()).group_by(E.c.text)).all()
            images = conn.execute(sa.select(sa.func.count()).select_from(schema.plate_images)).scalar()
    finally:
        engine.dispose()
    return {text: n for text, n in rows} | {"(images)": images}


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 4 MB tmpfs, mounted for the test and always unmounted after it."""
    if os.geteuid() != 0:
        pytest.skip("the full-disk test mounts a 4 MB tmpfs, which needs root")
    folder = Path(tempfile.mkdtemp(prefix="issc-small-disk-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def test_disk_fills_then_frees_and_every_event_is_written_once(small_disk: Path, no_thread_leak) -> None:
    filler = small_disk / "filler.bin"
    filler.write_bytes(os.urandom(1_500_000))  # taken first, freed later
    url = f"sqlite:///{small_disk / 'history.db'}"
    store = Store(url, flush_interval_s=0.1, retry_interval_s=0.2).start()
    start = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    handed = 0
    try:
        # When events with images arrive until the disk is full
        while store.status().ok:
            assert handed < 200, "the 4 MB disk never filled"
            store.add_plate_event(image_event(handed, start))
            handed += 1
            store.flush(timeout=1.0)
        # Then the store says so, naming the disk, and keeps the batch in memory
        status = store.status()
        assert not status.ok
        assert "disk" in status.message and "full" in status.message.lower(), status.message
        assert status.buffered >= 1 and status.dropped == 0
        health = health_json(SimpleNamespace(store=store, engine=SimpleNamespace(status=list)))
        assert health["ok"] is False and health["store"]["message"] == status.message
        print(f"\nwhile full: {status.message}")
        # And more events keep arriving while it is full; nothing crashes, nothing is dropped
        for _ in range(5):
            store.add_plate_event(image_event(handed, start))
            handed += 1
        time.sleep(1.0)
        status = store.status()
        assert not status.ok and status.buffered >= 5 and status.dropped == 0, status
        assert store._thread is not None and store._thread.is_alive()
        # When space comes back
        filler.unlink()
        # Then every event handed over is written, none twice
        assert store.flush(timeout=20), store.status()
        assert wait_until(lambda: store.status().ok, 5), store.status()
        status = store.status()
        assert status.written == handed and status.buffered == 0 and status.dropped == 0, status
    finally:
        store.close()
    counts = rows_per_text(url)
    assert counts.pop("(images)") == handed
    assert sorted(counts) == [f"FA{i:05d}" for i in range(handed)]
    assert set(counts.values()) == {1}
    print(f"\ndisk full after {handed - 5} events; {handed} written once after space came back")


# --- 3. PostgreSQL stopped and restarted under load ------------------------------------------------


def pg_cluster(action: str, version: str) -> subprocess.CompletedProcess:
    """``pg_ctlcluster VERSION main ACTION`` (Debian's cluster, for a server given by URL)."""
    args = ["pg_ctlcluster", version, "main", action] + (["--mode", "fast"] if action == "stop" else [])
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


@dataclass(frozen=True)
class Outage:
    """How to take the tests' PostgreSQL down and up again; each returns once it is done."""

    stop: Callable[[], None]
    start: Callable[[], None]


@pytest.fixture
def pg_outage(postgres: TestPostgres) -> Iterator[Outage]:
    """Stop and start for the tests' PostgreSQL: the session's throwaway cluster itself, or for a server
    given by ``ISSC_TEST_POSTGRES_URL`` the local Debian cluster (root and ``pg_ctlcluster``, as
    ``.ci/run`` used to start it). Online again after the test."""
    if postgres.own:
        try:
            yield Outage(stop=postgres.stop, start=postgres.start)
        finally:
            if not postgres.running():
                postgres.start()
        return
    if os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.skip(
            "the outage test would stop the server of ISSC_TEST_POSTGRES_URL under the other test workers:"
            " run it without -n, or leave ISSC_TEST_POSTGRES_URL unset for a throwaway cluster per worker"
        )
    if os.geteuid() != 0 or shutil.which("pg_ctlcluster") is None:
        pytest.skip(
            "the outage test stops the server of ISSC_TEST_POSTGRES_URL with pg_ctlcluster: it needs root"
            " (or leave ISSC_TEST_POSTGRES_URL unset for a throwaway cluster)"
        )
    versions = (
        sorted(os.listdir("/usr/lib/postgresql"), key=float) if Path("/usr/lib/postgresql").is_dir() else []
    )
    if not versions:
        pytest.skip("no local PostgreSQL cluster under /usr/lib/postgresql")
    version = versions[-1]
    if pg_cluster("status", version).returncode != 0:
        pytest.skip(f"the local PostgreSQL {version} cluster is not running")

    def run(action: str) -> None:
        done = pg_cluster(action, version)
        assert done.returncode == 0, done.stderr

    try:
        yield Outage(stop=lambda: run("stop"), start=lambda: run("start"))
    finally:
        if pg_cluster("status", version).returncode != 0:
            run("start")


def test_postgres_stopped_and_restarted_under_load(
    pg_outage: Outage, empty_postgres_url: str, no_thread_leak
) -> None:
    store = Store(empty_postgres_url, flush_interval_s=0.1, retry_interval_s=0.5).start()
    start = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    handed = 0
    stop_load = threading.Event()

    def load() -> None:  # like the engine: an event every 20 ms, never waiting on the database
        nonlocal handed
        while not stop_load.is_set():
            store.add_plate_event(
                PlateEvent(
                    camera="gate",
                    first_seen=start,
                    last_seen=start + timedelta(milliseconds=handed),
                    text=f"PG{handed:06d}",
                    confidence=0.9,
                    reads=3,
                    box=(10, 20, 130, 50),
                    crop_jpeg=b"\xff\xd8crop" * 50,
                )
            )
            handed += 1
            stop_load.wait(0.02)

    loader = threading.Thread(target=load, name="test-pg-load", daemon=True)
    try:
        loader.start()
        # the load runs on a healthy database first: some batches committed
        assert wait_until(lambda: store.status().written >= 25, 10), store.status()
        assert store.status().ok, store.status()
        # When the database goes down under load
        down = time.monotonic()
        pg_outage.stop()  # returns once the server is down
        # Then the store reports it within a few seconds
        assert wait_until(lambda: not store.status().ok, 10), store.status()
        noticed = time.monotonic() - down  # reported, not asserted: a loaded machine stretches it
        message = store.status().message
        time.sleep(max(0.0, 5 - (time.monotonic() - down)))
        assert not store.status().ok and store.status().dropped == 0, store.status()
        # When it comes back, the writer recovers by itself
        up = time.monotonic()
        pg_outage.start()  # returns once the server accepts connections
        assert wait_until(lambda: store.status().ok, 30), store.status()
        recovered = time.monotonic() - up
        time.sleep(1.0)
        stop_load.set()
        loader.join(5)
        assert store.flush(timeout=30), store.status()
        status = store.status()
        assert status.ok and status.written == handed and status.dropped == 0, status
    finally:
        stop_load.set()
        loader.join(5)
        store.close()
    # Then every event handed over is in the database exactly once
    counts = rows_per_text(empty_postgres_url)
    assert counts.pop("(images)") == handed
    assert sorted(counts) == [f"PG{i:06d}" for i in range(handed)]
    assert set(counts.values()) == {1}, {t: n for t, n in counts.items() if n != 1}
    print(
        f"\n{handed} events under load; outage noticed after {noticed:.1f} s ({message});"
        f" writing again {recovered:.1f} s after the restart"
    )
