"""Helpers shared by the benchmarks: data location, process CPU/RSS, tables, viewers."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

from issc.engine import Engine

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def data_dir() -> Path:
    """``ISSC_TEST_DATA`` or ``../shared/data`` next to the repository."""
    return Path(os.environ.get("ISSC_TEST_DATA", DEFAULT_DATA))


def clips(names: Sequence[str] | None = None) -> list[Path]:
    folder = data_dir() / "videos"
    if not folder.is_dir():
        raise SystemExit(f"no clips in {folder}: set ISSC_TEST_DATA to the shared data folder")
    if names:
        return [folder / n for n in names]
    return sorted(p for p in folder.glob("*.mp4") if "1080p" not in p.name)


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


class ProcessMeter:
    """CPU seconds and RSS of this process (or of process ``pid``) between ``start()`` and ``stop()``."""

    def __init__(self, pid: int | None = None) -> None:
        self._proc = psutil.Process(pid)
        self.cpu_s = 0.0
        self.wall_s = 0.0
        self.rss_mb = 0.0

    def start(self) -> ProcessMeter:
        times = self._proc.cpu_times()
        self._cpu0 = times.user + times.system
        self._t0 = time.monotonic()
        return self

    def stop(self) -> ProcessMeter:
        times = self._proc.cpu_times()
        self.cpu_s = times.user + times.system - self._cpu0
        self.wall_s = time.monotonic() - self._t0
        self.rss_mb = self._proc.memory_info().rss / 2**20
        return self

    @property
    def cpu_percent(self) -> float:
        return 100.0 * self.cpu_s / self.wall_s if self.wall_s else 0.0


@dataclass
class ViewerStats:
    """What a viewer of one camera saw: frames received and capture→JPEG-ready latency."""

    frames: int = 0
    first_id: int | None = None
    last_id: int = -1
    latencies_ms: list[float] = field(default_factory=list)


class Viewers:
    """One viewer per camera that takes every new published frame and encodes its JPEG,
    as the MJPEG route does, recording capture→display latency."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.stats = {cid: ViewerStats() for cid in engine.cameras}
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._watch, args=(cid,), name=f"bench-viewer-{cid}", daemon=True)
            for cid in engine.cameras
        ]

    def start(self) -> Viewers:
        for thread in self._threads:
            thread.start()
        return self

    def reset(self) -> None:
        for cid in self.stats:
            self.stats[cid] = ViewerStats()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)

    def _watch(self, camera_id: str) -> None:
        last = -1
        while not self._stop.is_set():
            item = self.engine.wait_newer(camera_id, last, timeout=0.5)
            if item is None:
                continue
            last = item.frame.frame_id
            item.jpeg()
            stats = self.stats[camera_id]
            stats.frames += 1
            stats.first_id = item.frame.frame_id if stats.first_id is None else stats.first_id
            stats.last_id = item.frame.frame_id
            stats.latencies_ms.append((time.monotonic() - item.frame.captured_mono) * 1000)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    def fmt(v: object) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"
        return str(v)

    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def print_json(obj: object) -> None:
    print(json.dumps(obj, default=float))
