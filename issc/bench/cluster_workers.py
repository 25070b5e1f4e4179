"""Loopback camera workers for the cluster bench: start them, read them, kill one, time the failover.

Each worker is ``python -m issc.worker --host 127.0.0.1 --port P`` with its own ``CAMERAS`` (demo
cameras named ``<tag>-camN``), the bench's ``DATABASE_URL`` and ``WORKER_TOKEN``. The standby lists
the first camera of worker 1 with the same source, so the two are failover partners: worker 1 holds
the camera's advisory lock, the standby takes it when worker 1 dies.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from issc.cluster import Registry

ROOT = Path(__file__).resolve().parents[2]
#: Settings a worker must not inherit from the bench's environment (its own come from the bench).
_INHERITED_OFF = (
    "CAMERAS",
    "DATABASE_URL",
    "DETECTOR",
    "WORKER_ID",
    "WORKER_URL",
    "WORKER_TOKEN",
    "ISSC_CONFIG",
    "API_URL",
    "API_KEY",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], object], timeout: float, what: str, every: float = 0.05) -> float:
    """Seconds until ``check()`` is truthy.

    Raises:
        TimeoutError: not within ``timeout`` seconds (naming ``what``).
    """
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(every)
    raise TimeoutError(f"{what}: not within {timeout:g} s")


@dataclass(frozen=True)
class Layout:
    """Which worker lists which cameras: ``workers[i]`` are the names of worker i's cameras."""

    workers: list[list[str]]
    standby: str  # the camera of worker 1 the standby lists too

    @classmethod
    def spread(cls, tag: str, workers: int, cameras: int) -> Layout:
        """``cameras`` demo cameras dealt round-robin over ``workers`` workers (each gets at least one)."""
        if workers < 1 or cameras < workers:
            raise ValueError(
                f"--cameras={cameras} must be at least --workers={workers} (and that at least 1)"
            )
        names = [f"{tag}-cam{i}" for i in range(cameras)]
        return cls([names[i::workers] for i in range(workers)], names[0])

    def cameras(self) -> list[str]:
        return [name for names in self.workers for name in names]


class WorkerProcess:
    """``python -m issc.worker`` on a free loopback port, listing ``cameras`` (demo sources)."""

    def __init__(
        self, worker_id: str, cameras: list[str], database_url: str, token: str, folder: Path, detector: str
    ) -> None:
        self.id = worker_id
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = token
        env = {k: v for k, v in os.environ.items() if k not in _INHERITED_OFF}
        env.update(
            PYTHONPATH=str(ROOT),
            ISSC_CONFIG=str(folder / "absent.toml"),
            CAMERAS=",".join(f"{name}=demo" for name in cameras),
            DATABASE_URL=database_url,
            DETECTOR=detector,
            WORKER_ID=worker_id,
            WORKER_TOKEN=token,
        )
        self.log = folder / f"{worker_id}.log"
        with self.log.open("wb") as log:
            command = [sys.executable, "-m", "issc.worker", "--host", "127.0.0.1", "--port", str(self.port)]
            self.process = subprocess.Popen(
                command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def get(self, path: str, timeout: float = 5) -> requests.Response:
        return requests.get(
            self.url + path, headers={"Authorization": f"Bearer {self.token}"}, timeout=timeout
        )

    def answering(self) -> bool:
        """Whether its HTTP server answers.

        Raises:
            RuntimeError: the process exited (with the end of its log).
        """
        if self.process.poll() is not None:
            raise RuntimeError(
                f"worker {self.id} exited ({self.process.returncode}): {self.log.read_text()[-2000:]}"
            )
        try:
            return self.get("/api/health", timeout=2).status_code in (200, 503)
        except requests.RequestException:
            return False

    def online(self) -> set[str]:
        """Names of its cameras that are running and online (have delivered frames)."""
        try:
            return {
                c["name"] for c in self.get("/api/cameras", timeout=2).json() if c.get("state") == "online"
            }
        except (requests.RequestException, ValueError):
            return set()

    def streams(self) -> int | None:
        """MJPEG streams it serves now (``issc_mjpeg_viewers`` of its ``/metrics``); None: no answer."""
        try:
            response = self.get("/metrics", timeout=2)
            response.raise_for_status()
            families = text_string_to_metric_families(response.text)
            return next(int(s.value) for f in families if f.name == "issc_mjpeg_viewers" for s in f.samples)
        except (requests.RequestException, ValueError, StopIteration):
            return None

    def cpu_s(self) -> float:
        """CPU seconds (user + system) it has used so far; 0 once it is gone."""
        try:
            times = psutil.Process(self.process.pid).cpu_times()
        except psutil.Error:
            return 0.0
        return times.user + times.system

    def detect_fps(self) -> list[float]:
        """The detections per second of each running camera, as ``/api/cameras`` reports them."""
        try:
            return [float(c.get("detect_fps") or 0.0) for c in self.get("/api/cameras", timeout=2).json()]
        except (requests.RequestException, ValueError):
            return []

    def kill(self) -> None:
        """``kill -9``: no clean stop, its locks go with its database connections."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM (its last events are written, its row removed); SIGKILL after ``timeout``."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()


class Cluster:
    """N workers plus one standby on loopback, sharing one PostgreSQL history.

    Args:
        url: The bench's database.
        layout: Which worker lists which cameras.
        folder: Where the workers' logs go (and their working directory).
        detector: ``DETECTOR`` of every worker.
        tag: The run's prefix of worker ids (``<tag>-w1``, ..., ``<tag>-standby``).
    """

    def __init__(self, url: str, layout: Layout, folder: Path, detector: str, tag: str) -> None:
        self.url = url
        self.layout = layout
        self.token = secrets.token_urlsafe(24)
        self.workers = [
            WorkerProcess(f"{tag}-w{i + 1}", names, url, self.token, folder, detector)
            for i, names in enumerate(layout.workers)
        ]
        self.standby: WorkerProcess | None = None
        self._folder, self._detector, self._tag = folder, detector, tag

    def all(self) -> list[WorkerProcess]:
        return [*self.workers, *([self.standby] if self.standby else [])]

    def wait_online(self, timeout: float = 120) -> float:
        """Seconds until every worker answers and every camera is online."""
        start = time.monotonic()
        for worker, names in zip(self.workers, self.layout.workers, strict=True):
            left = timeout - (time.monotonic() - start)
            wait_for(
                lambda w=worker, n=set(names): w.answering() and n <= w.online(),
                left,
                f"{worker.id} online",
                0.2,
            )
        return time.monotonic() - start

    def start_standby(self, registry: Registry, timeout: float = 60) -> None:
        """The standby worker, listing worker 1's first camera; returns once it is registered waiting."""
        standby = WorkerProcess(
            f"{self._tag}-standby", [self.layout.standby], self.url, self.token, self._folder, self._detector
        )
        self.standby = standby

        def waiting() -> bool:
            row = next((r for r in registry.live() if r.id == standby.id), None)
            return (
                standby.answering()
                and row is not None
                and [c.name for c in row.standby] == [self.layout.standby]
            )

        wait_for(waiting, timeout, f"{standby.id} registered as standby", 0.2)

    def stop(self) -> None:
        for worker in self.all():
            worker.stop()


def measure_failover(cluster: Cluster, registry: Registry, timeout: float = 30) -> dict:
    """``kill -9`` worker 1; seconds until the registry shows the standby running its camera, and until
    the standby's ``/api/cameras`` shows it online (its first frame).

    Raises:
        TimeoutError: the standby did not take over within ``timeout`` seconds.
    """
    assert cluster.standby is not None, "start the standby first"
    standby, camera = cluster.standby, cluster.layout.standby
    killed_at = time.monotonic()
    cluster.workers[0].kill()
    owner = lambda: getattr(registry.owner_of(camera), "id", None) == standby.id  # noqa: E731
    wait_for(owner, timeout, f"the registry showing {standby.id} running {camera}")
    registry_s = time.monotonic() - killed_at
    left = timeout - registry_s
    wait_for(lambda: camera in standby.online(), left, f"{camera} online on {standby.id}")
    return {
        "camera": camera,
        "registry_s": round(registry_s, 2),
        "first_frame_s": round(time.monotonic() - killed_at, 2),
        "worker_dead_s": registry.dead_after_s,
    }


def count_rows(engine: sa.Engine, cameras: list[str]) -> int:
    """Plate events stored for ``cameras``."""
    with engine.connect() as conn:
        query = sa.text("SELECT count(*) FROM plate_events WHERE camera = ANY(:names)")
        return int(conn.execute(query, {"names": cameras}).scalar_one())


__all__ = ["Cluster", "Layout", "WorkerProcess", "count_rows", "measure_failover", "wait_for"]
