"""Prometheus ``/metrics`` of a real dashboard (``streamlit run app.py``) and of a camera worker,
parsed with ``prometheus_client.parser``."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import requests
from conftest import PLATE_CLIP, ROOT, serving
from prometheus_client.parser import text_string_to_metric_families
from test_auth import run_cli

from issc.config import load_settings
from issc.worker import Worker
from issc.worker.__main__ import build_app


def scrape(url: str, headers: dict[str, str] | None = None) -> dict[str, dict[tuple, float]]:
    """Each sample as {name: {sorted label items: value}}."""
    response = requests.get(url + "/metrics", headers=headers or {}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_dashboard_metrics_hold_per_camera_series(streamlit_server, videos_dir: Path) -> None:
    clip = videos_dir / PLATE_CLIP
    server = streamlit_server({"CAMERAS": f"gate={clip},yard=rtsp://127.0.0.1:9/s"})
    gate = (("camera", "gate"),)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        m = scrape(server.url)
        written = m.get("issc_records_written_total", {}).get((), 0)
        if m.get("issc_plate_events_total", {}).get(gate, 0) >= 1 and written >= 1:
            break
        time.sleep(1)
    # Then each camera has its series: the clip is up, the unreachable camera is down
    assert m["issc_camera_up"][gate] == 1.0 and m["issc_camera_up"][(("camera", "yard"),)] == 0.0
    assert m["issc_camera_fps"][gate] > 5
    assert m["issc_camera_state"][(("camera", "yard"), ("state", "offline"))] == 1.0
    assert gate in m["issc_camera_dropped_frames_total"]
    # the analysis latency histogram counts every analysis, cumulative over its buckets
    count = m["issc_analysis_duration_seconds_count"][gate]
    inf = m["issc_analysis_duration_seconds_bucket"][(("camera", "gate"), ("le", "+Inf"))]
    assert count == inf > 0 and m["issc_analysis_duration_seconds_sum"][gate] > 0
    # the plate of the clip was read and stored
    assert m["issc_plate_events_total"][gate] >= 1
    assert m["issc_detector_errors_total"][gate] == 0 and m["issc_detector_backoff"][gate] == 0
    assert m["issc_records_written_total"][()] >= 1 and m["issc_writer_queue_depth"][()] >= 0
    assert m["issc_records_dropped_total"][()] == 0
    assert m["issc_webhook_failed_total"][()] == 0 and m["issc_mjpeg_viewers"][()] == 0
    # every series the Grafana dashboard in docs/ plots is exported
    dashboard = json.loads((ROOT / "docs" / "grafana-issc.json").read_text())
    plotted = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b(issc_[a-z_]+)", target["expr"])
    }
    assert plotted and plotted <= set(m), plotted - set(m)
    # an open live stream is counted
    with requests.get(server.url + "/video_feed/0/", stream=True, timeout=10) as stream:
        chunks = stream.iter_content(1024)  # kept: a dropped generator would close the connection
        next(chunks)
        assert scrape(server.url)["issc_mjpeg_viewers"][()] == 1


def test_metrics_need_a_token_when_auth_is_on(streamlit_server, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/history.db"
    token = run_cli(url, "token", "create", "--name", "prometheus", "--role", "viewer").stdout.strip()
    server = streamlit_server({"CAMERAS": "demo", "DETECTOR": "none", "DATABASE_URL": url, "AUTH": "on"})
    assert requests.get(server.url + "/metrics", timeout=10).status_code == 401
    m = scrape(server.url, {"Authorization": f"Bearer {token}"})
    assert (("camera", "demo"),) in m["issc_camera_up"]


def test_a_worker_exports_the_same_series(tmp_path: Path) -> None:
    settings = load_settings(
        cameras="demo", detector="none", database_url=f"sqlite:///{tmp_path}/h.db", worker_token="t" * 24
    )
    worker = Worker(settings).start()
    try:
        with serving(build_app(worker)) as url:
            assert requests.get(url + "/metrics", timeout=5).status_code == 401
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                m = scrape(url, {"Authorization": "Bearer " + "t" * 24})
                if m["issc_camera_up"].get((("camera", "demo"),)) == 1.0:
                    break
                time.sleep(0.5)
            assert m["issc_camera_up"][(("camera", "demo"),)] == 1.0
            assert m["issc_analysis_duration_seconds_count"][(("camera", "demo"),)] >= 0
            assert "issc_writer_queue_depth" in m
    finally:
        worker.stop()
