"""Durability of the history with real processes: ``kill -9`` and SIGTERM of a running dashboard.

The LS15EBC clip (one car, about 4.7 s) is a camera. After ``kill -9`` every pass that ended more
than a second before the kill must be in the database once it is opened again; after SIGTERM the
open plate track and the open people-minute must be there too. Needs the real footage
(``ISSC_TEST_DATA``) and the offline models; skips without them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from issc.config import KEYS
from issc.store import PlateFilter, Store

PLATE_CLIP = "aiguy_license_plate_uk_LS15EBC.mp4"
ROOT = Path(__file__).resolve().parent.parent

#: A headless ISSC process: the service of the settings in its environment, with the clip played once
#: and followed by a long grey gap, as a live camera would show a car pass (the clip's end is not
#: reported as a loop, which would end the tracks at once); it prints when the clip's last frame was shown.
CHILD = textwrap.dedent(
    """
    import sys, threading, time
    from issc import service
    from issc.config import load_settings
    from issc.sources import make_source
    from issc.sources.file import FileSource

    class OnePass(FileSource):
        def __init__(self, path, stop):
            super().__init__(path, stop, loop=True, gap_s=600.0)
            self.shown = 0
            self.total = None

        # like a live camera: the clip's end is not reported as a loop (which would end the tracks)
        @property
        def plays(self):
            return 0

        @plays.setter
        def plays(self, value):
            pass

        def read(self):
            frame = super().read()
            if frame is not None:
                self.shown += 1
                if self.shown == 1:
                    print("CLIP_START", time.time(), flush=True)
                if self.total is None:
                    import cv2
                    self.total = int(cv2.VideoCapture(self.path).get(cv2.CAP_PROP_FRAME_COUNT))
                if self.shown == self.total:
                    print("CLIP_END", time.time(), flush=True)
            return frame

    def source_factory(camera, stop):
        if camera.kind == "file":
            return OnePass(camera.source, stop)
        return make_source(camera, stop)

    settings = load_settings()
    service.start(lambda: service.Service.build(settings, source_factory=source_factory))
    print("READY", flush=True)
    threading.Event().wait()
    """
)


@pytest.fixture
def clip(videos_dir: Path) -> Path:
    path = videos_dir / PLATE_CLIP
    if not path.is_file():
        pytest.skip(f"{PLATE_CLIP} is not in {videos_dir}")
    return path


def child_env(tmp_path: Path, clip: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in KEYS}  # no setting of the developer's
    env.update(
        CAMERAS=f"gate={clip}",
        DATABASE_URL=f"sqlite:///{tmp_path}/issc.db",
        DETECTOR="local",
        ISSC_CONFIG=str(tmp_path / "none.toml"),
        LOG_LEVEL="INFO",
    )
    return env


def wait_for_line(process: subprocess.Popen[str], prefix: str, timeout: float) -> float:
    """Wait for ``prefix <unix time>`` on the child's stdout; returns that time."""
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                raise AssertionError(f"the child exited with {process.returncode} before {prefix}")
            continue
        if line.startswith(prefix):
            parts = line.split()
            return float(parts[1]) if len(parts) > 1 else time.time()
    raise AssertionError(f"no {prefix} within {timeout} s")


def stored_texts(url: str) -> list[str]:
    store = Store(url)  # opening it is what a restart does first (WAL recovery, migrations)
    try:
        return [r.text for r in store.search_plates(PlateFilter(unsure="include"))]  # however sure
    finally:
        store.close()


def test_kill_9_keeps_every_pass_that_ended_a_second_before(tmp_path: Path, clip: Path) -> None:
    # given a running ISSC process whose camera shows one car pass, then grey
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        env=child_env(tmp_path, clip),
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "child.log").open("w"),
        text=True,
    )
    try:
        wait_for_line(process, "READY", 120)
        ended = wait_for_line(process, "CLIP_END", 60)
        # when it is killed (SIGKILL: no shutdown at all) a little over a second after the pass ended,
        # before the tracker would have given the track up (2 s unseen)
        time.sleep(max(0.0, ended + 1.1 - time.time()))
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    # then, opened again, the database holds the pass
    texts = stored_texts(f"sqlite:///{tmp_path}/issc.db")
    assert texts == ["LS15EBC"], (tmp_path / "child.log").read_text()[-3000:]


def test_sigterm_flushes_the_open_track_and_people_minute(
    tmp_path: Path, clip: Path, streamlit_server
) -> None:
    # given the dashboard (streamlit run app.py) with the clip as a camera, looping: the car stays in view
    url = f"sqlite:///{tmp_path}/issc.db"
    server = streamlit_server(
        {"CAMERAS": f"gate={clip}", "DATABASE_URL": url, "DETECTOR": "local", "AUTH": "off"}
    )
    server.wait_ready(120)
    requests.get(server.url + "/api/cameras", timeout=10)
    deadline = time.monotonic() + 90
    analysed = False
    while time.monotonic() < deadline and not analysed:
        time.sleep(1)
        cameras = requests.get(server.url + "/api/cameras", timeout=10).json()
        items = cameras if isinstance(cameras, list) else cameras.get("cameras", [])
        analysed = any(c.get("detect_fps", 0) > 0 for c in items)
    assert analysed, server.log.read_text()[-3000:]
    time.sleep(3)  # a pass in progress
    # when it gets SIGTERM
    terminated = time.time()
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(30)
    # then the pass and the people-minute were written before it exited
    store = Store(url)
    try:
        rows = store.search_plates()
        assert [r.text for r in rows] == ["LS15EBC"], server.log.read_text()[-3000:]
        with store.engine.connect() as conn:  # the minute in progress at SIGTERM: only a flush writes it
            minutes = set(conn.exec_driver_sql("SELECT minute_ms FROM people_counts").scalars())
        assert int(terminated // 60) * 60_000 in minutes
    finally:
        store.close()


#: A process that writes plate events through the store as fast as a busy site would (200/s, with
#: 20 kB crops) and prints, every tenth of a second, how many it has handed to the store.
WRITER = textwrap.dedent(
    """
    import os, sys, time
    from datetime import UTC, datetime
    from issc.store import Store
    from issc.types import PlateEvent

    store = Store(sys.argv[1]).start()
    crop = b"\\xff\\xd8" + os.urandom(20_000)
    print("READY", time.time(), flush=True)
    n = 0
    while True:
        now = datetime.now(UTC)
        for _ in range(20):
            store.add_plate_event(PlateEvent("gate", now, now, f"KL{n:05d}", 0.9, 2, (1, 2, 3, 4), crop_jpeg=crop))
            n += 1
        print("ADDED", time.time(), n, flush=True)
        time.sleep(0.1)
    """
)


def test_kill_9_during_writes_loses_at_most_the_last_second(tmp_path: Path) -> None:
    # given a process writing 200 events a second
    url = f"sqlite:///{tmp_path}/issc.db"
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, url], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    added: list[tuple[float, int]] = []
    try:
        wait_for_line(process, "READY", 60)
        assert process.stdout is not None
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            parts = process.stdout.readline().split()
            if parts and parts[0] == "ADDED":
                added.append((float(parts[1]), int(parts[2])))
        # when it is killed mid-write
        killed = time.time()
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    # then the database opens intact and holds every event handed over more than a second before
    store = Store(url)
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        stored = store.count_plates()
        due = max(n for at, n in added if at < killed - 1.0)
        assert due <= stored <= added[-1][1] + 20
        texts = {r.text for r in store.search_plates(limit=10_000)}
        assert {f"KL{i:05d}" for i in range(due)} <= texts
    finally:
        store.close()
