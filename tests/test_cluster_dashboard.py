"""The dashboard over a cluster (``ENGINE=remote``): real worker processes on PostgreSQL, the real
dashboard server, its routes and the proxied MJPEG streams; plus the proxy's stream parser."""

from __future__ import annotations

import secrets
import signal
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from conftest import PLATE_CLIP, free_port, is_no_signal, serving
from test_cluster import TOKEN, WorkerProcess, pg_url, wait_for  # noqa: F401 - pg_url: a fixture

from issc.cluster import Registry
from issc.config import load_settings
from issc.remote import MultipartReader
from issc.service import Service
from issc.store import PlateFilter, Store, create_engine
from issc.store.migrate import migrate
from issc.tuning import Tuning, TuningBook
from issc.worker import Worker
from issc.worker.__main__ import build_app


def _part(jpeg: bytes) -> bytes:
    head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    return head.encode() + jpeg + b"\r\n"


@pytest.mark.parametrize("chunk", [1, 7, 64, 100_000])
def test_the_proxy_splits_a_stream_into_its_jpegs_whatever_the_chunks(chunk: int) -> None:
    pictures = [b"\xff\xd8" + bytes([i]) * (100 * i + 1) + b"\xff\xd9" for i in range(1, 6)]
    stream = b"".join(_part(p) for p in pictures)
    reader = MultipartReader()
    got = [jpeg for i in range(0, len(stream), chunk) for jpeg in reader.feed(stream[i : i + chunk])]
    assert got == pictures


@pytest.mark.parametrize(
    "stream",
    [
        b"--frame\r\nContent-Type: image/jpeg\r\n\r\nxx",  # no length
        b"--frame\r\nContent-Length: -5\r\n\r\n",
        b"--frame\r\nContent-Length: 99999999999\r\n\r\n",
        b"<html>" + b"x" * 5000,  # not a multipart stream at all
    ],
)
def test_the_proxy_refuses_a_malformed_stream(stream: bytes) -> None:
    with pytest.raises(ValueError):
        list(MultipartReader().feed(stream))


def test_the_remote_engine_follows_a_worker_in_process(tmp_path: Path, no_thread_leak: None) -> None:
    # given one worker on SQLite (every lock granted), served on loopback
    url = f"sqlite:///{tmp_path}/h.db"
    port = free_port()
    worker_settings = load_settings(
        cameras="street=demo",
        detector="none",
        database_url=url,
        worker_token=TOKEN,
        worker_url=f"http://127.0.0.1:{port}",
        worker_id="w1",
    )
    worker = Worker(worker_settings, port=port).start()
    remote = wrong = None
    try:
        with serving(build_app(worker), port=port):
            # when a dashboard with ENGINE=remote (and one with a wrong token) reads the cluster
            remote = Service.build(
                load_settings(engine="remote", database_url=url, worker_token=TOKEN)
            ).start()
            wrong = Service.build(
                load_settings(engine="remote", database_url=url, worker_token="y" * 24)
            ).start()
            engine = remote.engine
            # then it lists the worker's camera by name, online, with its worker
            wait_for(lambda: engine.status_of("street").state == "online", 10, "the street camera online")
            assert [c.id for c in engine.configs()] == ["street"] and engine.status_of(
                "street"
            ).worker == "w1"
            # and its pictures come from the worker: a newer one after each wait
            first = -1
            for _ in range(3):
                engine.wait_newer("street", first, timeout=5)
                picture_id, jpeg = engine.current_jpeg("street")
                assert picture_id > first and jpeg[:2] == b"\xff\xd8" and not is_no_signal(jpeg)
                first = picture_id
            # no raw frames here: the Tuning preview asks for an upload
            assert engine.latest("street") is None
            # and a tuning saved by another dashboard shows here too (its change feed)
            with Store(url) as other:
                TuningBook(load_settings().tuning, other).set(Tuning(plate_conf=0.66), "street")
            wait_for(
                lambda: engine.tuning_for("street").plate_conf == 0.66, 2.5, "the tuning on the dashboard"
            )
            with pytest.raises(KeyError):
                engine.camera("nobody")
            # and the dashboard with the wrong token says so, without showing either token
            wait_for(lambda: wrong.engine.configs() != [], 10, "the wrong-token dashboard listing the camera")
            refused = wrong.engine.status_of("street")
            assert refused.state == "offline" and "WORKER_TOKEN" in (refused.last_error or "")
            assert TOKEN not in (refused.last_error or "") and "y" * 24 not in (refused.last_error or "")
        # when the worker is gone (its server stopped, which stops the worker and removes its row)
        wait_for(lambda: engine.status_of("street").state == "offline", 5, "the street camera offline")
        reason = engine.status_of("street").last_error or ""
        assert "worker w1 does not answer" in reason or "no worker lists it" in reason, reason
        picture_id, jpeg = engine.current_jpeg("street")
        assert picture_id == -1 and is_no_signal(jpeg)
    finally:
        for service in (remote, wrong):
            if service is not None:
                service.stop()
        worker.stop()
    # and after stopping, no feed, poll or status thread is left (no_thread_leak)


def jpeg_parts(url: str, want: int = 2, timeout: float = 20) -> list[bytes]:
    """The first ``want`` JPEGs of an MJPEG route."""
    reader = MultipartReader()
    found: list[bytes] = []
    deadline = time.monotonic() + timeout
    with requests.get(url, stream=True, timeout=10) as response:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("multipart/x-mixed-replace")
        for chunk in response.iter_content(8192):
            found += reader.feed(chunk)
            if len(found) >= want or time.monotonic() > deadline:
                break
    return found


def live_picture(url: str) -> bool:
    """Whether the route's newest pictures are the camera's own (not NO SIGNAL)."""
    parts = jpeg_parts(url, want=2, timeout=5)
    return bool(parts) and not is_no_signal(parts[-1])


@pytest.mark.slow
def test_a_remote_dashboard_shows_every_worker_and_survives_a_killed_one(
    pg_url: str,  # noqa: F811
    videos_dir: Path,
    tmp_path: Path,
    streamlit_server,
) -> None:
    clip = videos_dir / PLATE_CLIP
    if not clip.is_file():
        pytest.skip(f"{PLATE_CLIP} is not in {videos_dir}")
    tag = secrets.token_hex(3)
    gate, lane, yard = f"gate-{tag}", f"lane-{tag}", f"yard-{tag}"
    engine = create_engine(pg_url)
    migrate(engine)
    registry = Registry(engine, dead_after_s=10)
    workers: list[WorkerProcess] = []
    try:
        # given the dashboard with ENGINE=remote (no CAMERAS of its own), starting while the workers
        # start (it finds them in the registry) ...
        env = {"ENGINE": "remote", "DATABASE_URL": pg_url, "WORKER_TOKEN": TOKEN}
        server = streamlit_server(env, wait=False)
        # ... worker A with the gate and a lane camera, B with the yard, C standing by for the gate
        a = WorkerProcess(f"a-{tag}", f"{gate}={clip},{lane}=demo", pg_url, tmp_path)
        b = WorkerProcess(f"b-{tag}", f"{yard}={clip}", pg_url, tmp_path)
        workers += [a, b]
        wait_for(lambda: a.ready() and b.ready(), 90, "workers A and B answering")
        c = WorkerProcess(f"c-{tag}", f"{gate}={clip}", pg_url, tmp_path)
        workers.append(c)
        wait_for(c.ready, 90, "worker C answering")
        server.wait_ready()

        def cameras() -> dict[str, dict]:
            return {c["name"]: c for c in requests.get(server.url + "/api/cameras", timeout=5).json()}

        # then it lists every worker's cameras, with the worker that runs each
        owners = {gate: a.id, lane: a.id, yard: b.id}
        wait_for(
            lambda: {n: c["worker"] for n, c in cameras().items() if c["state"] == "online"} == owners,
            30,
            "the dashboard listing the three cameras online with their workers",
        )
        # and every tile streams through the dashboard (one address for the browser)
        for name in owners:
            parts = jpeg_parts(f"{server.url}/video_feed/{name}/")
            assert len(parts) == 2 and not is_no_signal(parts[-1]), name
        assert requests.get(server.url + "/video_feed/nobody/", timeout=5).status_code == 404
        assert requests.get(server.url + "/video_feed/check_cams/", timeout=5).json() == 3
        # and plate events of both workers are in one history, seen from the dashboard's store
        with Store(pg_url) as store:
            wait_for(
                lambda: {r.camera for r in store.search_plates(PlateFilter(), limit=200)} >= {gate, yard},
                90,
                "plate events of both workers",
                every=1,
            )

        # when worker A is killed
        a.process.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        a.process.wait(5)
        # (within 10 s on a quiet machine: the time is printed; a loaded one stretches it, so the
        # test waits up to 30 s and checks what happens, not how fast)
        left = lambda: 30 - (time.monotonic() - killed)  # noqa: E731

        # then its lane camera goes offline on the dashboard, with NO SIGNAL
        wait_for(lambda: cameras()[lane]["state"] == "offline", left(), "the lane camera offline")
        assert is_no_signal(jpeg_parts(f"{server.url}/video_feed/{lane}/", want=1)[0])
        # and the standby's gate comes online on the dashboard, streamed from C
        wait_for(
            lambda: cameras()[gate]["state"] == "online" and cameras()[gate]["worker"] == c.id,
            left(),
            "the gate online on worker C",
        )
        took_over = time.monotonic() - killed
        wait_for(lambda: live_picture(f"{server.url}/video_feed/{gate}/"), 15, "the gate's picture from C")
        # and B's camera kept streaming and writing
        assert cameras()[yard]["state"] == "online" and cameras()[yard]["worker"] == b.id
        assert live_picture(f"{server.url}/video_feed/{yard}/")
        print(f"standby online on the dashboard {took_over:.1f} s after kill -9")

        # when the yard's tuning is changed (as the dashboard's Tuning page saves it)
        with Store(pg_url) as store:
            book = TuningBook(load_settings().tuning, store).load([yard])
            book.set(book.for_camera(yard).changed(plate_conf=0.71), yard)
        # then worker B, which runs the yard, applies it (within 2 s on a quiet machine; the wait is
        # generous for a loaded one) and C, not running it, does not
        wait_for(
            lambda: b.get("/api/health").json()["tuning"][yard]["plate_conf"] == 0.71,
            15,
            "the yard's tuning on worker B",
            every=0.1,
        )
        assert yard not in c.get("/api/health").json()["tuning"]
        assert TOKEN not in server.log.read_text()
    finally:
        for worker in workers:
            worker.stop()
        for worker_id in (f"a-{tag}", f"b-{tag}", f"c-{tag}"):
            registry.remove(worker_id)
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM settings WHERE key LIKE :k"), {"k": f"%{tag}%"})
        engine.dispose()
