"""Shared fixtures. Real data comes from ISSC_TEST_DATA (default ../shared/data); tests that need it
skip with a clear reason when it is absent."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from postgres import PostgresUnavailable, TestPostgres, own_database, reset_postgres, start_postgres

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("ISSC_TEST_DATA", ROOT.parent / "shared" / "data")).resolve()
PLATE_CLIP = "aiguy_license_plate_uk_LS15EBC.mp4"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA_DIR.is_dir():
        pytest.skip(f"test data not found at {DATA_DIR} (set ISSC_TEST_DATA)")
    return DATA_DIR


@pytest.fixture(scope="session")
def videos_dir(data_dir: Path) -> Path:
    path = data_dir / "videos"
    if not path.is_dir():
        pytest.skip(f"no videos in {data_dir}")
    return path


def cut_clip(
    source: Path, target: Path, *, seconds: float | None = None, first: int = 0, frames: int = 0
) -> Path:
    """Frames ``first`` .. of ``source`` (``frames`` of them, or ``seconds`` worth), frame for frame,
    written to ``target`` at the same size and rate: a short part of a real clip for a test that
    needs footage but not all of it."""
    import cv2

    capture = cv2.VideoCapture(str(source))
    fps = capture.get(cv2.CAP_PROP_FPS)
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    count = frames or round((seconds or 0) * fps)
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, first)
        for _ in range(count):
            ok, frame = capture.read()
            if not ok:
                break
            writer.write(frame)
    finally:
        capture.release()
        writer.release()
    assert count > 0 and target.is_file(), f"could not cut {source.name}"
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(app, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI ``app`` with uvicorn on ``port`` (default: a free loopback port); yields its base URL."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def is_no_signal(jpeg: bytes) -> bool:
    """The prototype's NO SIGNAL frame: purple at the top, a red circle in the upper middle."""
    import cv2
    import numpy as np

    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    b, g, r = (int(v) for v in img[5, 5])
    cb, cg, cr = (int(v) for v in img[int(h * 0.38) - int(30 * h / 360), w // 2 - int(25 * h / 360)])
    return b > g + 30 and r > g + 20 and cr > 180 and cg < 90 and cb < 90


#: The live stream's floor in the pace checks: above what a stream that waited for the tests' slow
#: analysis (300 ms a frame: 3.3 fps) or a failing detector (2 s timeouts, backoff) could reach, and
#: below what a 2-core machine shared with other busy processes still plays a 30 fps clip at.
PACE_FLOOR_FPS = 5.0


def assert_keeps_pace(fps: float, native: float) -> None:
    """The live picture keeps a clip's pace: never faster than the clip (file sources are paced), and
    faster than anything that waits on analysis could (:data:`PACE_FLOOR_FPS`). The exact frame rate
    on a quiet machine is bench material (``python -m issc.bench``), not a timed test's."""
    assert min(PACE_FLOOR_FPS, native) <= fps <= native * 1.15, f"{fps:.1f} fps for a {native:g} fps clip"


def issc_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("issc-")]


@pytest.fixture
def no_thread_leak() -> Iterator[None]:
    """Fails the test if ISSC threads are still alive after it."""
    before = {t.ident for t in issc_threads()}
    yield
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        leaked = [t for t in issc_threads() if t.ident not in before and t.is_alive()]
        if not leaked:
            return
        time.sleep(0.1)
    pytest.fail(f"threads leaked: {[t.name for t in leaked]}")


class StreamlitServer:
    """``streamlit run app.py`` on a free loopback port, with its own environment."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"streamlit-{self.port}.log"
        full_env = {k: v for k, v in os.environ.items() if k not in _ISSC_KEYS}
        full_env.update(env)
        full_env["ISSC_CONFIG"] = str(cwd / "none.toml")
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(ROOT / "app.py"),
                "--server.headless",
                "true",
                "--server.port",
                str(self.port),
                "--server.address",
                "127.0.0.1",
                "--browser.gatherUsageStats",
                "false",
                "--server.fileWatcherType",
                "none",
            ],
            cwd=cwd,
            env=full_env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited: {self.log.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/_stcore/health", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"streamlit did not start: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self._log_file.close()


_ISSC_KEYS = {
    "CAMERAS",
    "API_KEY",
    "API_URL",
    "HUMAN_MODEL",
    "PLATE_MODEL",
    "DETECTOR",
    "DATABASE_URL",
    "ISSC_CONFIG",
    "AUTH",
    "SERVER_ADDRESS",
    "AUTH_SECRET",
    "AUTH_INSECURE_I_KNOW",
    "ALLOWED_HOSTS",
    "TRUSTED_PROXY_HEADER",
}


@pytest.fixture
def streamlit_server(tmp_path: Path):
    """Factory: ``start(env) -> StreamlitServer`` (ready; with ``wait=False`` still starting, for a
    test that does other things meanwhile and calls ``wait_ready()`` later), stopped after the test."""
    servers: list[StreamlitServer] = []

    def start(env: dict[str, str], wait: bool = True) -> StreamlitServer:
        env = {"DATABASE_URL": f"sqlite:///{tmp_path}/issc.db", **env}
        server = StreamlitServer(env, tmp_path)
        servers.append(server)
        if wait:
            server.wait_ready()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def shared_streamlit_server(tmp_path_factory: pytest.TempPathFactory):
    """Factory like ``streamlit_server``, but a server lives for the whole module and is shared by the
    tests that ask for the same environment: for tests that only read what it serves and change none
    of its configuration. Its history database is the module's own. Under ``pytest -n`` mark the tests
    that share one with the same ``xdist_group``, so that they run on one worker."""
    folder = tmp_path_factory.mktemp("streamlit")
    servers: dict[tuple[tuple[str, str], ...], StreamlitServer] = {}

    def start(env: dict[str, str]) -> StreamlitServer:
        env = {"DATABASE_URL": f"sqlite:///{folder}/issc.db", **env}
        key = tuple(sorted(env.items()))
        if key not in servers:
            server = servers[key] = StreamlitServer(env, folder)
            server.wait_ready()
        return servers[key]

    yield start
    for server in servers.values():
        server.stop()


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings in tests come from what the test sets, not from the developer's .env."""
    for key in _ISSC_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ISSC_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.chdir(tmp_path)


# --- PostgreSQL: the given server or a throwaway cluster of the session's own -----------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[TestPostgres]:
    """The tests' PostgreSQL (see ``tests/postgres.py``): ``ISSC_TEST_POSTGRES_URL``'s server, else a
    throwaway cluster started on first use and stopped at the end of the session. Skips, saying why,
    only when neither is possible."""
    try:
        pg = start_postgres()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1 ... under `pytest -n`
    if worker and not pg.own:  # workers share the given server: each gets a database of its own
        pg = own_database(pg, f"issc_test_{worker}")
    try:
        yield pg
    finally:
        pg.close()


@pytest.fixture(scope="session")
def postgres_url(postgres: TestPostgres) -> str:
    """SQLAlchemy URL of the tests' PostgreSQL database (shared by the session: see ``empty_postgres_url``)."""
    return postgres.url


@pytest.fixture
def empty_postgres_url(postgres_url: str) -> str:
    """``postgres_url`` with every table of its public schema dropped first."""
    reset_postgres(postgres_url)
    return postgres_url


# --- Chromium (Debian's) driven by Playwright, for the page tests --------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


@pytest.fixture(scope="session")
def _playwright():
    """Playwright's driver, started once for the session (on the first browser test)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def _session_chromium(_playwright):
    """One launched Chromium for the whole session; each test gets a fresh context (own profile)."""
    launched = [_playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)]
    yield launched
    if launched[0].is_connected():
        launched[0].close()


@pytest.fixture
def chromium(_session_chromium):
    """The session's Chromium (launched again should an earlier test have crashed it). Tests open
    their own contexts and close them; a context still open at the end of the test is closed."""
    browser = _session_chromium[0]
    if not browser.is_connected():
        browser = _session_chromium[0] = browser.browser_type.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
    before = set(browser.contexts)
    yield browser
    for context in browser.contexts:
        if context not in before:
            context.close()


@pytest.fixture(autouse=True)
def _asyncio_free_outside_browser_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    """Playwright's sync API marks its event loop as running in this thread between its calls; with
    one driver for the session, a later test that runs its own loop (``asyncio.run``) would be
    refused. Outside the browser tests the mark is lifted, and put back after the test."""
    import asyncio

    loop = asyncio._get_running_loop()
    if loop is None or "chromium" in request.fixturenames:
        yield
        return
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(loop)


@pytest.fixture
def browser_context(chromium):
    """A fresh browser profile (own cookies) with camera access and downloads allowed."""
    context = chromium.new_context(
        viewport={"width": 1400, "height": 1000}, permissions=["camera"], accept_downloads=True
    )
    yield context
    context.close()


@pytest.fixture
def browser(browser_context):
    """One page in a fresh browser profile."""
    return browser_context.new_page()
