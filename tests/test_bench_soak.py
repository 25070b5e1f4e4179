"""The soak bench: a short real run of the service writes the sampled curves, threads stay flat."""

from __future__ import annotations

import json
from pathlib import Path

from issc.bench.__main__ import main as bench_main

KEYS = {"t_s", "rss_mb", "threads", "fds", "queue_depth", "rss_growth_mb", "rss_growth_median_mb"}


def test_short_soak_reports_curves_and_flat_threads(
    videos_dir: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("ISSC_TEST_DATA", str(videos_dir.parent))
    png = tmp_path / "soak.png"
    argv = ["soak", "--cameras", "2", "--minutes", "0.3", "--warmup", "0.1", "--interval", "3"]
    rc = bench_main([*argv, "--detector", "none", "--json", "--png", str(png)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "RSS MB" in out  # the plain table
    result = json.loads(out.strip().splitlines()[-1])
    assert result.keys() >= KEYS
    assert result["cameras"] == 3  # two clips and the demo camera
    samples = len(result["t_s"])
    assert samples >= 5
    assert all(len(result[k]) == samples for k in ("rss_mb", "threads", "fds", "queue_depth"))
    low, high = result["threads_range_after_warmup"]
    assert high - low <= 1, result["threads"]
    assert png.stat().st_size > 5_000 and png.read_bytes()[:4] == b"\x89PNG"
