"""Camera workers in a cluster: the ``workers`` registry, camera locks, and real worker processes.

SQLite and PostgreSQL (the ``postgres`` fixture, as in test_store.py), in a database of this module's
own (``issc_cluster_<random>``) when the role may create one, else in the given one under names no
other test uses. Locks and worker processes need PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from conftest import _ISSC_KEYS, PLATE_CLIP, ROOT, free_port, serving

from issc.cluster import CameraClaim, CameraClash, LockSession, Registry, lock_key
from issc.config import CameraConfig, load_settings
from issc.errors import ConfigError
from issc.store import Store, create_engine
from issc.store.database import drop_database
from issc.store.migrate import migrate
from issc.tuning import Tuning, TuningBook
from issc.worker import Worker
from issc.worker.__main__ import build_app

TOKEN = secrets.token_urlsafe(24)


def wait_for(check: Callable[[], object], timeout: float, what: str, every: float = 0.2) -> float:
    """Seconds until ``check()`` is truthy; fails the test after ``timeout`` s, naming ``what``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(every)
    pytest.fail(f"{what}: not within {timeout:g} s")


@pytest.fixture(scope="module")
def pg_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL database of this module's own (dropped after), or the given one."""
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"issc_cluster_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.DBAPIError:  # no CREATEDB: share the given database (unique names keep tests apart)
        admin.dispose()
        yield postgres_url
        return
    try:
        yield sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        drop_database(admin, name)  # waits for an autovacuum worker busy in it
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """A migrated history database of each kind."""
    url = f"sqlite:///{tmp_path}/issc.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = create_engine(url)
    migrate(engine)
    yield engine
    engine.dispose()


def camera(name: str, source: str) -> CameraClaim:
    kind = "url" if "://" in source else "demo" if source == "demo" else "file"
    return CameraClaim.of(CameraConfig(id="0", name=name, kind=kind, source=source))


# --- the registry ---------------------------------------------------------------------------


def test_workers_register_beat_and_leave(database: sa.Engine) -> None:
    # given two workers, one running a camera and one standing by for it
    registry = Registry(database, dead_after_s=10)
    tag = secrets.token_hex(3)
    gate = camera(f"gate-{tag}", "rtsp://cam1/stream")
    registry.register(f"a-{tag}", host="h1", url="http://h1:8600", version="1", cameras=[gate])
    registry.register(f"c-{tag}", host="h3", url="http://h3:8600", version="1", standby=[gate])
    # then both are live, and the registry says who runs the camera
    ids = {row.id for row in registry.live()}
    assert {f"a-{tag}", f"c-{tag}"} <= ids
    owner = registry.owner_of(gate.name)
    assert owner is not None and owner.id == f"a-{tag}" and owner.url == "http://h1:8600"
    # when the standby takes the camera over and says so in its heartbeat
    assert registry.heartbeat(f"c-{tag}", cameras=[gate], standby=[])
    registry.remove(f"a-{tag}")
    # then it owns the camera, and the removed worker is gone
    assert registry.owner_of(gate.name).id == f"c-{tag}"
    assert f"a-{tag}" not in {row.id for row in registry.all()}
    assert registry.heartbeat(f"a-{tag}", cameras=[], standby=[]) is False  # its row is gone
    registry.remove(f"c-{tag}")


def test_a_worker_without_heartbeat_is_left_out(database: sa.Engine) -> None:
    registry = Registry(database, dead_after_s=10)
    tag = secrets.token_hex(3)
    registry.register(
        f"old-{tag}", host="h", url="http://h:1", version="1", cameras=[camera(f"x-{tag}", "demo")]
    )
    # when its last heartbeat is 11 s old (by the database's clock)
    with database.begin() as conn:
        conn.execute(
            sa.text("UPDATE workers SET heartbeat_ms = heartbeat_ms - 11000 WHERE id = :id"),
            {"id": f"old-{tag}"},
        )
    # then it is dead: not live, owns nothing, but still listed among all rows
    assert f"old-{tag}" not in {row.id for row in registry.live()}
    assert f"old-{tag}" in {row.id for row in registry.live(dead_after_s=60)}
    assert registry.owner_of(f"x-{tag}") is None
    # and a worker may take its id at another URL now
    registry.register(f"old-{tag}", host="h2", url="http://h2:1", version="1")
    registry.remove(f"old-{tag}")


@pytest.mark.parametrize(
    ("theirs", "ours", "refused"),
    [
        ("rtsp://cam1/stream", "rtsp://cam1/stream", False),  # failover partners
        ("rtsp://user:one@cam1/stream", "rtsp://user:two@cam1/stream", False),  # other password
        ("rtsp://cam1/stream", "rtsp://cam2/stream", True),  # one name, two cameras
    ],
)
def test_a_camera_name_is_unique_across_workers(
    database: sa.Engine, theirs: str, ours: str, refused: bool
) -> None:
    registry = Registry(database)
    tag = secrets.token_hex(3)
    registry.register(
        f"a-{tag}", host="h1", url="http://h1:8600", version="1", cameras=[camera(f"gate-{tag}", theirs)]
    )
    register = lambda: registry.register(  # noqa: E731
        f"b-{tag}", host="h2", url="http://h2:8600", version="1", standby=[camera(f"gate-{tag}", ours)]
    )
    if refused:
        with pytest.raises(CameraClash, match=rf"'gate-{tag}'.*live worker 'a-{tag}' \(http://h1:8600\)"):
            register()
        assert f"b-{tag}" not in {row.id for row in registry.all()}
    else:
        register()
    for worker in (f"a-{tag}", f"b-{tag}"):
        registry.remove(worker)


def test_heartbeats_notify_listeners_on_postgresql(pg_url: str) -> None:
    import psycopg

    engine = create_engine(pg_url)
    migrate(engine)
    registry = Registry(engine)
    tag = secrets.token_hex(3)
    plain = sa.make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as listener:
        listener.execute("LISTEN issc_workers")
        registry.register(f"n-{tag}", host="h", url="http://h:1", version="1")
        registry.heartbeat(f"n-{tag}", cameras=[], standby=[])
        payloads = [n.payload for n in listener.notifies(timeout=5, stop_after=2)]
    assert payloads == [f"n-{tag}", f"n-{tag}"]
    registry.remove(f"n-{tag}")
    engine.dispose()


# --- camera locks ----------------------------------------------------------------------------


def test_one_worker_holds_a_camera_lock_until_its_connection_dies(pg_url: str) -> None:
    engine = create_engine(pg_url)
    first, second = LockSession(engine), LockSession(engine)
    name = f"gate-{secrets.token_hex(3)}"
    a, b = first.lock(name), second.lock(name)
    try:
        # given one session holding the camera's lock
        assert a.try_acquire() and a.alive()
        assert not b.try_acquire()
        # when its connection is killed (as when its worker dies)
        with engine.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k"
                ),
                {"k": lock_key(name) & 0xFFFFFFFF},
            )
        # then its holder finds out, and the other session gets the lock
        assert not a.alive()
        assert b.try_acquire() and b.alive()
        # and a released lock goes to the next asker
        b.release()
        assert a.try_acquire()
    finally:
        first.close()
        second.close()
        engine.dispose()


# --- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "refused"),
    [
        ({"worker_token": "hunter2"}, "WORKER_TOKEN must have at least 16 characters"),  # never shown
        ({"worker_dead_s": 3}, "WORKER_DEAD_S=3 must be at least twice HEARTBEAT_S=2"),  # late is not dead
        ({"worker_url": "10.0.0.5:8600"}, "WORKER_URL='10.0.0.5:8600' is invalid: expected an http"),
    ],
)
def test_wrong_cluster_settings_are_refused(settings: dict[str, object], refused: str) -> None:
    with pytest.raises(ConfigError, match=refused) as caught:
        load_settings(**settings)
    assert "hunter2" not in str(caught.value)


def test_a_worker_beyond_loopback_needs_a_token(tmp_path: Path) -> None:
    settings = load_settings(cameras="demo", detector="none", database_url=f"sqlite:///{tmp_path}/h.db")
    with pytest.raises(ConfigError, match="without WORKER_TOKEN"):
        Worker(settings, host="0.0.0.0", port=8600).start()


def test_a_worker_serves_its_cameras_to_the_token_only(tmp_path: Path, no_thread_leak: None) -> None:
    # given a single worker on SQLite (no PostgreSQL: every camera lock is granted)
    settings = load_settings(
        cameras="demo", detector="none", database_url=f"sqlite:///{tmp_path}/h.db", worker_token=TOKEN
    )
    worker = Worker(settings, port=8600).start()
    registry = worker.registry
    try:
        with serving(build_app(worker)) as url:

            def get(path: str, token: str | None = TOKEN) -> requests.Response:
                return requests.get(url + path, headers={"Authorization": f"Bearer {token}"}, timeout=5)

            # then it answers with the token, and only with it
            assert requests.get(f"{url}/api/cameras", timeout=5).status_code == 401
            assert get("/api/health", token="x" * 24).status_code == 401
            assert [c["name"] for c in get("/api/cameras").json()] == ["demo"]
            health = get("/api/health").json()
            assert health["worker"]["id"] == worker.id and health["standby"] == []
            assert worker.row() is not None and worker.row().camera_names() == ["demo"]
            # and a tuning saved elsewhere (the dashboard) reaches its camera within a heartbeat
            with Store(f"sqlite:///{tmp_path}/h.db") as other:
                TuningBook(Tuning(), other).set(Tuning(plate_conf=0.77), "demo")
            wait_for(
                lambda: worker.cameras_view().camera("0").analyzer.tuning.plate_conf == 0.77, 5, "tuning"
            )
    finally:
        worker.stop()  # already stopped by the server's lifespan: a second stop does nothing
    # and stopping the server stopped the worker, which removed its row
    assert worker.service is None and registry is not None and registry.all() == []


def test_a_worker_refused_for_a_clash_leaves_the_other_worker_alone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/h.db"
    engine = create_engine(url)
    migrate(engine)
    registry = Registry(engine)
    registry.register("w", host="h1", url="http://h1:8600", version="1", cameras=[camera("gate", "demo")])
    settings = load_settings(cameras="gate=rtsp://other/cam", detector="none", database_url=url)
    # when a worker with a clashing camera starts, and one with the same id at another URL
    with pytest.raises(CameraClash, match=r"'gate'.*'w' \(http://h1:8600\)"):
        Worker(settings, port=8601).start()
    same_id = load_settings(cameras="demo", detector="none", database_url=url, worker_id="w")
    with pytest.raises(CameraClash, match="WORKER_ID='w' is already used by a live worker at http://h1:8600"):
        Worker(same_id).start()
    registry.register("w", host="h1", url="http://h1:8600", version="1")  # its own restart: renewed
    # then the live worker's row stays as it was
    assert [row.id for row in registry.all()] == ["w"]
    engine.dispose()


def test_a_worker_that_loses_its_lock_connection_stops_the_camera_and_takes_it_again(
    pg_url: str, tmp_path: Path, no_thread_leak: None
) -> None:
    name = f"demo-{secrets.token_hex(3)}"
    settings = load_settings(cameras=f"{name}=demo", detector="none", database_url=pg_url, worker_id=name)
    worker = Worker(settings).start()
    try:
        camera = worker.service.engine.camera("0")
        wait_for(lambda: camera.latest() is not None, 10, "the first picture")
        before = camera.threads
        # when the database ends the worker's lock session (a restart, a network cut)
        with worker.registry.engine.connect() as conn:
            killed = conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND objid = :k AND granted"
                ),
                {"k": lock_key(name) & 0xFFFFFFFF},
            ).scalars()
            assert list(killed) == [True]
        # then the worker stops the camera, takes the lock again (nobody else has it) and restarts it
        restarted = lambda: set(camera.threads).isdisjoint(before) and worker.running_ids() == {"0"}  # noqa: E731
        wait_for(restarted, 10, "a restart on new threads")
        assert not any(t.is_alive() for t in before)
        first = camera.latest()
        wait_for(lambda: (now := camera.latest()) is not None and now is not first, 10, "new pictures")
        assert worker.row().camera_names() == [name]
    finally:
        worker.stop()


# --- real worker processes ---------------------------------------------------------------------


class WorkerProcess:
    """``python -m issc.worker`` on a free loopback port, with its own ``CAMERAS``."""

    def __init__(self, worker_id: str, cameras: str, database_url: str, cwd: Path) -> None:
        self.id = worker_id
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in _ISSC_KEYS}
        env.update(PYTHONPATH=str(ROOT), ISSC_CONFIG=str(cwd / "absent.toml"), CAMERAS=cameras)
        env.update(DATABASE_URL=database_url, DETECTOR="local", WORKER_ID=worker_id, WORKER_TOKEN=TOKEN)
        self.log = cwd / f"{worker_id}.log"
        with self.log.open("wb") as log:
            command = [sys.executable, "-m", "issc.worker", "--port", str(self.port)]
            self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)

    def get(self, path: str, token: str | None = TOKEN, **kwargs: object) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(self.url + path, headers=headers, timeout=5, **kwargs)  # type: ignore[arg-type]

    def ready(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"worker {self.id} exited: {self.log.read_text()[-3000:]}")
        try:
            return self.get("/api/health").status_code in (200, 503)
        except requests.RequestException:
            return False

    def camera_names(self) -> list[str]:
        return [c["name"] for c in self.get("/api/cameras").json()]

    def jpeg_parts(self, camera_id: str, want: int = 2, timeout: float = 15) -> int:
        """JPEG parts read from the camera's MJPEG stream (stops at ``want``)."""
        found = 0
        deadline = time.monotonic() + timeout
        with self.get(f"/video_feed/{camera_id}/", stream=True) as response:
            assert response.status_code == 200, response.text
            for chunk in response.iter_content(8192):
                found += chunk.count(b"Content-Type: image/jpeg")
                if found >= want or time.monotonic() > deadline:
                    break
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.mark.slow
def test_two_workers_and_a_standby_share_history_and_fail_over(
    pg_url: str, videos_dir: Path, tmp_path: Path
) -> None:
    clip = videos_dir / PLATE_CLIP
    if not clip.is_file():
        pytest.skip(f"{PLATE_CLIP} is not in {videos_dir}")
    tag = secrets.token_hex(3)
    gate, yard = f"gate-{tag}", f"yard-{tag}"
    engine = create_engine(pg_url)
    migrate(engine)
    registry = Registry(engine, dead_after_s=10)
    workers: list[WorkerProcess] = []
    try:
        # given worker A running the gate camera and worker B the yard camera (both see plates) ...
        a = WorkerProcess(f"a-{tag}", f"{gate}={clip}", pg_url, tmp_path)
        b = WorkerProcess(f"b-{tag}", f"{yard}={clip}", pg_url, tmp_path)
        workers += [a, b]
        wait_for(lambda: a.ready() and b.ready(), 60, "workers A and B answering")
        wait_for(lambda: getattr(registry.owner_of(gate), "id", None) == a.id, 10, "A owning the gate")
        # ... and worker C listing the gate camera too, as its standby
        c = WorkerProcess(f"c-{tag}", f"{gate}={clip}", pg_url, tmp_path)
        workers.append(c)
        wait_for(c.ready, 60, "worker C answering")

        # then all three are registered, each with what it runs and waits for
        rows = {row.id: row for row in registry.live()}
        assert {a.id, b.id, c.id} <= set(rows)
        assert (
            rows[a.id].camera_names() == [gate]
            and rows[b.id].camera_names() == [yard]
            and rows[a.id].url == a.url
        )
        assert rows[c.id].camera_names() == [] and [s.name for s in rows[c.id].standby] == [gate]
        # and each serves its running cameras, to the token only
        assert a.camera_names() == [gate] and b.camera_names() == [yard] and c.camera_names() == []
        assert a.get("/api/cameras", token=None).status_code == 401
        assert a.get("/video_feed/0/", token="x" * 32).status_code == 401
        assert c.get("/video_feed/0/").status_code == 404  # listed, but not running there
        assert a.jpeg_parts("0") >= 2 and b.jpeg_parts("0") >= 2

        # and plate events of both workers land in the one history
        def cameras_with_plates() -> set[str]:
            with engine.connect() as conn:
                query = sa.text("SELECT DISTINCT camera FROM plate_events WHERE camera IN (:g, :y)")
                return set(conn.execute(query, {"g": gate, "y": yard}).scalars())

        wait_for(lambda: cameras_with_plates() == {gate, yard}, 60, "plate events of both workers", every=1)

        # when worker A is killed
        a.process.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        a.process.wait(5)
        left = lambda: 10.5 - (time.monotonic() - killed)  # noqa: E731  (10 s, and one poll's slack)
        # then the standby takes the gate over within 10 s, and says so
        wait_for(lambda: c.camera_names() == [gate], left(), "C running the gate camera")
        wait_for(lambda: getattr(registry.owner_of(gate), "id", None) == c.id, left(), "C owning the gate")
        # and A's row goes stale within 10 s of its death
        wait_for(
            lambda: a.id not in {row.id for row in registry.live()}, left(), "A's row going stale", every=0.3
        )
        assert c.jpeg_parts("0") >= 2
        # and B kept streaming
        assert b.camera_names() == [yard] and b.jpeg_parts("0") >= 2

        # when C and B stop cleanly, their rows go with them
        for worker in (b, c):
            worker.stop()
            assert worker.process.returncode == 0, worker.log.read_text()[-2000:]
        assert not {b.id, c.id} & {row.id for row in registry.all()}
        assert TOKEN not in "".join(w.log.read_text() for w in workers)
    finally:
        for worker in workers:
            worker.stop()
        for worker_id in (f"a-{tag}", f"b-{tag}", f"c-{tag}"):
            registry.remove(worker_id)
        engine.dispose()


# --- issue 18: DNS rebinding on a token-less worker, and where the token may go ---------------------


def test_a_worker_without_a_token_answers_only_its_own_host_names(
    tmp_path: Path, no_thread_leak: None
) -> None:
    # given a loopback worker without WORKER_TOKEN (requests carry no credentials)
    settings = load_settings(cameras="demo", detector="none", database_url=f"sqlite:///{tmp_path}/h.db")
    worker = Worker(settings, port=8600).start()
    try:
        with serving(build_app(worker)) as url:
            port = url.rsplit(":", 1)[1]

            def status(host: str) -> int:
                return requests.get(f"{url}/api/cameras", headers={"Host": host}, timeout=5).status_code

            # then a page that rebound its own DNS name to 127.0.0.1 is refused, this machine is not
            assert status(f"rebind.attacker.example:{port}") == 400
            assert status(f"127.0.0.1:{port}") == 200 and status(f"localhost:{port}") == 200
            assert status(f"[::1]:{port}") == 200
    finally:
        worker.stop()


class TokenCatcher:
    """A loopback HTTP server that records the Authorization header of every request."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.seen: list[str] = []
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                catcher.seen.append(self.headers.get("Authorization", ""))
                body = b"[]"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_port
        import threading

        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    ("worker_hosts", "row_url", "contacted", "reason"),
    [
        ("", "http://127.0.0.1:{port}", True, None),  # default: private addresses
        ("", "http://public.example:{port}", False, "is not a private address: list it in WORKER_HOSTS"),
        ("", "ftp://127.0.0.1:{port}", False, "is not http:// or https://"),
        ("", "http://user:pw@127.0.0.1:{port}", False, "carries credentials"),
        ("10.0.0.0/24,cams.lan", "http://127.0.0.1:{port}", False, "is not in WORKER_HOSTS"),
        ("127.0.0.0/8", "http://127.0.0.1:{port}", True, None),
        ("*", "http://127.0.0.1:{port}", True, None),
    ],
)
def test_the_dashboard_sends_the_token_only_to_worker_urls_the_operator_allowed(
    tmp_path: Path, worker_hosts: str, row_url: str, contacted: bool, reason: str | None
) -> None:
    from issc.service import Service

    # given a workers row (anyone who can write the database could insert one) and a server at its URL
    catcher = TokenCatcher()
    url = f"sqlite:///{tmp_path}/h.db"
    engine = create_engine(url)
    migrate(engine)
    Registry(engine).register(
        "w9", host="h", url=row_url.format(port=catcher.port), version="1", cameras=[camera("gate", "demo")]
    )
    engine.dispose()
    # when a dashboard with ENGINE=remote reads the cluster
    service = Service.build(
        load_settings(engine="remote", database_url=url, worker_token=TOKEN, worker_hosts=worker_hosts)
    ).start()
    try:
        status = service.engine.status_of("gate")
    finally:
        service.stop()
        catcher.close()
    # then the token went there only when allowed, and the camera says why it was not asked
    assert catcher.seen == ([f"Bearer {TOKEN}"] * len(catcher.seen) if contacted else [])
    assert bool(catcher.seen) == contacted
    if reason is not None:
        assert status.state == "offline" and reason in (status.last_error or "")
        assert "pw@" not in (status.last_error or "")


def test_worker_hosts_is_checked_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"WORKER_HOSTS='10\.0\.0\.0/99' is invalid"):
        load_settings(worker_hosts="10.0.0.0/99")
