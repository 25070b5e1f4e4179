"""cluster, part 5: the remote dashboard (``ENGINE=remote``) over the bench's workers.

Starts the real dashboard (``streamlit run app.py`` with ``ENGINE=remote``) beside the running
workers and measures, for one camera of the last worker:

* **status latency**: ``GET /api/cameras`` on the dashboard (the cluster as pages see it), p50/p95;
* **MJPEG proxy overhead per viewer**: the dashboard's CPU with no viewer, then with ``V`` viewers of
  the camera through the dashboard; (CPU with viewers - CPU idle) / V, in % of one core. The same
  viewers straight from the worker give the frame rate a viewer gets without the proxy, and the
  number of connections the dashboard holds to the worker shows the fan-out (one per camera).

The dashboard is a separate process, so its CPU time is its own (``psutil``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import requests

from issc.bench.cluster_workers import ROOT, Cluster, free_port, wait_for
from issc.bench.common import ProcessMeter, percentile
from issc.remote import MultipartReader
from issc.remote.feed import IDLE_S

#: Viewer counts measured through the dashboard.
VIEWERS = (1, 4)


class Dashboard:
    """``streamlit run app.py`` with ``ENGINE=remote`` on a free loopback port."""

    def __init__(self, database_url: str, token: str, folder: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CAMERAS", "AUTH", "ENGINE"))}
        env.update(
            PYTHONPATH=str(ROOT),
            ISSC_CONFIG=str(folder / "absent.toml"),
            ENGINE="remote",
            DATABASE_URL=database_url,
            WORKER_TOKEN=token,
        )
        self.log = folder / "dashboard.log"
        command = [
            sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
            "--server.port", str(self.port), "--server.address", "127.0.0.1",
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
        ]  # fmt: skip
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self.ps = psutil.Process(self.process.pid)

    def cameras(self) -> dict[str, dict]:
        try:
            return {c["name"]: c for c in requests.get(self.url + "/api/cameras", timeout=3).json()}
        except (requests.RequestException, ValueError):
            return {}

    def connections_to(self, port: int, samples: int = 5, every_s: float = 0.2) -> int:
        """Open TCP connections from the dashboard to ``port`` (a worker): the fewest of ``samples``
        counts, so that a status request caught in flight is not counted as a stream."""
        counts = []
        for i in range(samples):
            if i:
                time.sleep(every_s)
            connections = self.ps.net_connections(kind="tcp")
            counts.append(
                sum(
                    1
                    for c in connections
                    if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
                )
            )
        return min(counts)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _view(url: str, headers: dict[str, str], until: float, counts: list[int], slot: int) -> None:
    """One viewer: read the MJPEG stream until ``until``, counting its pictures in ``counts[slot]``."""
    reader = MultipartReader()
    try:
        with requests.get(url, headers=headers, stream=True, timeout=(3, 5)) as response:
            for chunk in response.iter_content(64 * 1024):
                counts[slot] += sum(1 for _ in reader.feed(chunk))
                if time.monotonic() >= until:
                    return
    except (requests.RequestException, ValueError):
        return


def _watch(
    url: str, viewers: int, seconds: float, headers: dict[str, str], during=None
) -> tuple[float, object]:
    """``viewers`` concurrent viewers for ``seconds``: pictures per second per viewer (and ``during()``)."""
    counts = [0] * viewers
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=_view, args=(url, headers, until, counts, i), daemon=True)
        for i in range(viewers)
    ]
    for thread in threads:
        thread.start()
    seen = during() if during is not None else None
    for thread in threads:
        thread.join(seconds + 10)
    return sum(counts) / viewers / seconds, seen


def measure_proxy(url: str, cluster: Cluster, seconds: float) -> dict:
    """The dashboard over the running ``cluster``; see the module. Returns the JSON part."""
    worker = cluster.workers[-1]
    camera = cluster.layout.workers[-1][0]
    local_id = str(cluster.layout.workers[-1].index(camera))
    window = max(3.0, seconds / 4)  # 7.5 s with the default 30 s phases
    dashboard = Dashboard(url, cluster.token, Path(cluster.workers[0].log).parent)
    try:
        wait_for(
            lambda: (
                all(c.get("state") == "online" for c in dashboard.cameras().values())
                and len(dashboard.cameras()) >= len(cluster.layout.cameras())
            ),
            120,
            "the remote dashboard listing every camera online",
            every=0.5,
        )
        status_ms = []
        for _ in range(50):
            start = time.perf_counter()
            requests.get(dashboard.url + "/api/cameras", timeout=5).raise_for_status()
            status_ms.append((time.perf_counter() - start) * 1000)
        # no feed open before the idle figure: a stream the dashboard opened closes IDLE_S after
        # its last viewer, and the workers count the streams they serve
        wait_for(
            lambda: all(w.streams() == 0 for w in cluster.all()),
            IDLE_S + 15,
            "the workers serving no stream to the dashboard",
            every=0.5,
        )
        meter = ProcessMeter(dashboard.process.pid).start()
        time.sleep(window)
        idle_pct = meter.stop().cpu_percent
        idle_connections = dashboard.connections_to(worker.port)  # the status poll's kept-alive one
        direct_fps, _ = _watch(
            f"{worker.url}/video_feed/{local_id}/",
            VIEWERS[-1],
            window,
            {"Authorization": f"Bearer {worker.token}"},
        )
        rows = []
        for viewers in VIEWERS:
            meter = ProcessMeter(dashboard.process.pid).start()

            def upstreams() -> int:
                time.sleep(window / 2)
                return dashboard.connections_to(worker.port)

            fps, upstream = _watch(f"{dashboard.url}/video_feed/{camera}/", viewers, window, {}, upstreams)
            cpu_pct = meter.stop().cpu_percent
            rows.append(
                {
                    "viewers": viewers,
                    "fps_per_viewer": round(fps, 2),
                    "dashboard_cpu_pct": round(cpu_pct, 1),
                    "overhead_pct_per_viewer": round((cpu_pct - idle_pct) / viewers, 2),
                    "upstream_streams": int(upstream) - idle_connections,  # type: ignore[call-overload]
                }
            )
        return {
            "camera": camera,
            "window_s": window,
            "status_p50_ms": round(percentile(status_ms, 50) or 0.0, 2),
            "status_p95_ms": round(percentile(status_ms, 95) or 0.0, 2),
            "dashboard_idle_cpu_pct": round(idle_pct, 1),
            "direct_fps_per_viewer": round(direct_fps, 2),
            "through_dashboard": rows,
        }
    finally:
        dashboard.stop()
